"""The science of the lab: one module per method, plus media, data and training helpers.

Nothing in core/ imports gradio: the method modules need only torch and numpy
(media.py also needs moviepy and pillow), so they run on a bare GPU machine too.
"""
