"""The contract (DESIGN.md): permutations, shuffle, predict; and what the tab shows beside them.

A puzzle is an image's centre square cut into a 3x3 grid; cell j of the puzzle made
with permutation p shows cell p[j] of the image (cells read row by row).
"""
from __future__ import annotations

import numpy as np
import torch

from core import common
from core.jigsaw.model import GRID, N_CELLS, Config, ContextFreeNetwork, normalize_tiles, permute_tiles


def load_pretrained(device="cpu", path: str | None = None) -> ContextFreeNetwork:
    """The shipped model (its permutation set comes from the checkpoint, not recomputed)."""
    return common.load_model("jigsaw", Config, lambda c: ContextFreeNetwork(c, compute_perms=False), device, path)


def permutations(model: ContextFreeNetwork) -> np.ndarray:
    """The model's permutation set, (n_perms, 9) int: class k puts cell perms[k][j] at position j."""
    return model.perms.detach().cpu().numpy().astype(np.int64)


# --------------------------------------------------------------------- grid geometry

def square_crop(image: np.ndarray) -> np.ndarray:
    """The centre square of an (H, W, 3) image, its side trimmed to a multiple of 3."""
    h, w = image.shape[:2]
    s = min(h, w) // GRID * GRID
    top, left = (h - s) // 2, (w - s) // 2
    return image[top:top + s, left:left + s]


def cells_of(square: np.ndarray) -> np.ndarray:
    """(S, S, 3) -> (9, S/3, S/3, 3): the grid cells read row by row."""
    c = square.shape[0] // GRID
    return square[:c * GRID, :c * GRID].reshape(GRID, c, GRID, c, 3).transpose(0, 2, 1, 3, 4).reshape(N_CELLS, c, c, 3)


def from_cells(cells: np.ndarray) -> np.ndarray:
    """(9, c, c, 3) -> (3c, 3c, 3): inverse of cells_of."""
    c = cells.shape[1]
    return cells.reshape(GRID, GRID, c, c, 3).transpose(0, 2, 1, 3, 4).reshape(GRID * c, GRID * c, 3)


def cell_tensor(cells: np.ndarray, size: int, device) -> torch.Tensor:
    """(9 or B*9, c, c, 3) uint8 cells -> (N, 3, size, size) float in [0, 1], each cell resized alone.

    Resizing cell by cell (not the whole puzzle) means no pixel of one cell
    bleeds into its neighbour: the network sees each tile's own pixels only.
    """
    return common.frames_to_tensor(cells, size=size, device=device)


def centre_tiles(cells: torch.Tensor, tile: int) -> torch.Tensor:
    """(..., 3, cell, cell) -> (..., 3, tile, tile): the deterministic tile used at test time."""
    o = (cells.shape[-1] - tile) // 2
    return cells[..., o:o + tile, o:o + tile]


def _check_perm(perm) -> np.ndarray:
    p = np.asarray(perm)
    if p.shape != (N_CELLS,) or not np.issubdtype(p.dtype, np.integer) or sorted(p.tolist()) != list(range(N_CELLS)):
        raise ValueError(f"perm must be a permutation of 0..8 (9 integers, each once), got {p.tolist()}")
    return p.astype(np.int64)


# --------------------------------------------------------------------- the contract

def shuffle(image, perm) -> np.ndarray:
    """The puzzle: the image's centre square (side a multiple of 3), cell j showing cell perm[j].

    image (H, W, 3) uint8, at least 9x9 -> (S, S, 3) uint8 with S = min(H, W) // 3 * 3.
    """
    img = common.check_image(image)
    if min(img.shape[:2]) < 9:
        raise ValueError(f"image must be at least 9x9 pixels, got {img.shape[1]}x{img.shape[0]}")
    p = _check_perm(perm)
    return from_cells(cells_of(square_crop(img))[p])


def unshuffle(puzzle, perm) -> np.ndarray:
    """Reassemble a puzzle made with `perm`: cell perm[j] of the result is cell j of the puzzle."""
    pz = square_crop(common.check_image(puzzle, "puzzle"))
    p = _check_perm(perm)
    cells = cells_of(pz)
    out = np.empty_like(cells)
    out[p] = cells
    return from_cells(out)


def puzzle_tiles(model: ContextFreeNetwork, image: np.ndarray, device=None) -> torch.Tensor:
    """What the network sees of an image: (1, 9, 3, t, t) normalized centre tiles of its cells."""
    device = device or next(model.parameters()).device
    cells = cells_of(square_crop(image))                                         # (9, c, c, 3)
    x = cell_tensor(cells, model.config.cell, device)                            # (9, 3, cell, cell)
    return normalize_tiles(centre_tiles(x, model.config.tile), model.config.std_floor)[None]


def predict(model: ContextFreeNetwork, puzzle) -> np.ndarray:
    """Which permutation made this puzzle: probabilities over the set, (n_perms,) float32.

    The network sees only the puzzle's pixels: its nine cells, each resized
    alone, their centre tiles normalized alone.
    """
    pz = common.check_image(puzzle, "puzzle")
    if min(pz.shape[:2]) < 9:
        raise ValueError(f"puzzle must be at least 9x9 pixels, got {pz.shape[1]}x{pz.shape[0]}")
    model.eval()
    with torch.inference_mode():
        logits = model(puzzle_tiles(model, pz))
        return torch.softmax(logits.float(), -1)[0].cpu().numpy().astype(np.float32)


def predict_all(model: ContextFreeNetwork, image) -> np.ndarray:
    """Probabilities for every permutation of one image at once: (n_perms, n_perms), row k = puzzle k.

    The same as [predict(model, shuffle(image, p)) for p in permutations(model)]
    (the trunk sees one tile at a time, so embeddings can be permuted instead
    of pixels), in one trunk pass.
    """
    img = common.check_image(image)
    model.eval()
    with torch.inference_mode():
        emb = model.embed_tiles(puzzle_tiles(model, img))                           # (1, 9, D)
        k = torch.arange(model.config.n_perms, device=emb.device)[None]
        puzzles = permute_tiles(emb, k, model.perms)[0]                             # (P, 9, D)
        return torch.softmax(model.classify(puzzles).float(), -1).cpu().numpy()


# --------------------------------------------------------------------- what the tab shows

def first_layer_filters(model: ContextFreeNetwork) -> np.ndarray:
    """The trunk's first convolution as pictures: (C, k, k, 3) float in [0, 1], each filter scaled alone."""
    w = model.trunk[0].weight.detach().float().cpu()                                 # (C, 3, k, k)
    w = w - w.amin(dim=(1, 2, 3), keepdim=True)
    w = w / w.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    return w.permute(0, 2, 3, 1).numpy()


def tile_margin(model: ContextFreeNetwork) -> float:
    """The gap: the fraction of a cell's side left out on each side of the tile the network sees."""
    cfg = model.config
    return ((cfg.cell - cfg.tile) // 2) / cfg.cell
