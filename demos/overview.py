"""The overview tab: the lecture's map of self-supervised video learning, and where the app runs."""
from __future__ import annotations

import gradio as gr

from core import common, device as devices
from demos.figures import LEGEND

METHODS = [
    # key, tab title, family, one line, paper
    ("jigsaw", "Jigsaw", "pretext task",
     "Cut a picture into 3x3 tiles, shuffle them, and ask which permutation was applied.",
     "Noroozi & Favaro, *Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles*, ECCV 2016"),
    ("sequence_sort", "Sequence sort", "pretext task",
     "Shuffle four frames of a clip and ask for their order (a clip and its reverse count as one).",
     "Lee et al., *Unsupervised Representation Learning by Sorting Sequences*, ICCV 2017; "
     "Misra et al., *Shuffle and Learn*, ECCV 2016"),
    ("colorization", "Colorization tracking", "generative (predict the missing colour)",
     "Colour a grey frame by pointing into a coloured one; the pointer then tracks objects.",
     "Vondrick et al., *Tracking Emerges by Colorizing Videos*, ECCV 2018"),
    ("tcc", "TCC alignment", "contrastive / cycle-consistency",
     "Embed frames so that nearest neighbours cycle back across two videos of one action.",
     "Dwibedi et al., *Temporal Cycle-Consistency Learning*, CVPR 2019"),
    ("sound_localization", "Sound localization", "cross-modal",
     "Does this sound belong to this picture? The answer's evidence map shows where the sound comes from.",
     "Arandjelovic & Zisserman, *Look, Listen and Learn*, ICCV 2017; *Objects that Sound*, ECCV 2018"),
    ("videomae", "VideoMAE", "generative (masked modelling)",
     "Hide 90% of a video in tubes and reconstruct it from the rest.",
     "Tong et al., *VideoMAE: Masked Autoencoders are Data-Efficient Learners*, NeurIPS 2022"),
]

INTRO = """
# Self-supervised and multimodal video learning: a hands-on lab

Labels are expensive; video is plentiful. **Self-supervised learning** invents a task
whose answer is hidden in the data itself, a *pretext task*, and trains a network to solve it.
To solve it, the network has to learn what objects, parts and motion look like, and those
features then serve tasks that people actually care about: tracking, alignment,
localization, recognition with few labels.

Every tab runs a small model that this project trained itself (no downloads, no
pretrained weights from elsewhere), on bundled examples or on your own upload. Each tab
shows the pretext task, what the method is *for*, the learned model beside a baseline,
and lets you train it live for a few seconds. Because the pretext task needs no labels,
it can learn from whatever you bring.
"""

FAMILIES = """
## The map of the lecture

| family | the idea | methods here |
|---|---|---|
| **pretext tasks** | invent a puzzle from the data and classify its answer | Jigsaw, Sequence sort |
| **generative** | predict hidden parts of the signal (colour, masked patches) | Colorization tracking, VideoMAE |
| **contrastive / cycle-consistency** | pull together what should match, push apart what should not | TCC alignment |
| **cross-modal** | let one modality supervise another (sound and sight) | Sound localization |
"""


def methods_table(present: set[str]) -> str:
    lines = ["## The methods", "", "| tab | family | the pretext task in one line | paper | model |",
             "|---|---|---|---|---|"]
    for key, title, family, line, paper in METHODS:
        card = common.read_card(key)
        if key not in present:
            status = "not in this build"
        elif card is None:
            status = "not trained yet"
        else:
            status = f"trained {card.get('steps')} steps on {card.get('device', '?').split(' (')[0]}"
        lines.append(f"| {title} | {family} | {line} | {paper} | {status} |")
    return "\n".join(lines)


READING = f"""
## How to read every tab

Each tab opens on a worked example, already computed: the question the network was asked, its answer,
whether it is right, and a baseline beside it. The same colours mean the same thing in every tab:

{LEGEND}.

Every number in a tab's *measured* table comes from held-out data the model never trained on; a single
example can be right or wrong by luck, so read it beside that rate. `docs/WALKTHROUGH.md` is a 45-minute
plan for a class through these tabs.
"""


def build(device=None, present: set[str] | None = None) -> None:
    """Fill the current Blocks context with the overview."""
    present = present or set()
    gr.Markdown(INTRO)
    gr.Markdown(READING, elem_id="overview-legend")
    gr.Markdown(FAMILIES)
    gr.Markdown(methods_table(present))
    gr.Markdown(f"**Running on:** {devices.describe(device)}. Start with `--device cuda` or "
                "`--device cpu` to choose; models are small enough for a 2-core CPU.")


if __name__ == "__main__":
    from demos.common import launch_alone
    launch_alone(build, "Overview")
