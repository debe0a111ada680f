"""The science of the lab: one package per method, plus media, real sources, synthetic data and the training loop.

Nothing in core/ imports gradio: the method packages need only torch and numpy
(media.py also needs moviepy and pillow), so they run on a bare GPU machine too.
Each core/METHOD/ opens with the paper (__init__.py) and its model.py: start there.
"""
