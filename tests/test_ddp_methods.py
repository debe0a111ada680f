"""Every method trains under `torchrun --nproc_per_node=2` with gloo on CPU, and the ranks stay equal.

Each rank draws its own shard of the data (common.data_seed), so equal weights at the
end can only come from DDP averaging the gradients; rank 0 alone writes the weights
and the card.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ["jigsaw", "sequence_sort", "colorization", "tcc", "sound_localization", "videomae", "contrastive"]


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_two_gloo_ranks_train_a_method_to_identical_weights(method, tmp_path):
    out = tmp_path / f"{method}.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
           "-m", "core.train", method, "--quick", "--steps", "2", "--no-eval", "--out", str(out)]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    digests = dict(re.findall(r"rank (\d) of 2: weights_sha256 ([0-9a-f]{64})", res.stdout))
    assert set(digests) == {"0", "1"}, res.stdout[-2000:]
    assert digests["0"] == digests["1"]
    card = json.loads((tmp_path / f"{method}.json").read_text())
    assert card["weights_sha256"] == digests["0"] and card["steps"] == 2
    assert "x 2 processes" in card["device"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{method}.json", f"{method}.pt"]
