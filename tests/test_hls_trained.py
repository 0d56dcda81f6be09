"""C-simulation vs onnxruntime on tiny trained models (training engineer's fast path), exact outputs.

One model runs by default; every architecture x weight set runs with -m slow.
"""

from __future__ import annotations

import pytest
from dnnc.backends import hls
from dnnc.frontend import from_net
from dnnc.train.api import train_model
from dnnc.train.collapse import collapse
from exactness import assert_matches_onnxruntime

FAST = [("tiny-cnn", "quaternary")]
ALL = [(a, w) for a in ("tiny-fc", "tiny-cnn") for w in ("binary", "ternary", "quaternary", "quinary")]
SLOW = [pytest.param(a, w, marks=pytest.mark.slow) for a, w in ALL if (a, w) not in FAST]


@pytest.mark.parametrize("arch,weights", FAST + SLOW)
def test_trained_model_csim_matches_onnxruntime(arch, weights):
    ckpt = train_model(arch=arch, weights=weights, epochs=1, pretrain_epochs=1, train_limit=1000, seed=0)
    loaded = from_net(collapse(ckpt), f"{arch}_{weights}".replace("-", "_"))
    assert_matches_onnxruntime(loaded, hls, "fpga-hls", 200, seed=0)
