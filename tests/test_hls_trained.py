"""C-simulation vs onnxruntime on tiny trained models (training engineer's fast path), exact outputs.

One model runs by default; every architecture x weight set runs with -m slow.
"""

from __future__ import annotations

import numpy as np
import pytest
from dnnc.backends import hls
from dnnc.frontend import from_net
from dnnc.targets import load_target
from dnnc.train.api import train_model
from dnnc.train.collapse import collapse
from dnnc.verify import compare
from dnnc.verify.inputs import make_inputs
from dnnc.verify.reference import run_onnx

FAST = [("tiny-cnn", "quaternary")]
ALL = [(a, w) for a in ("tiny-fc", "tiny-cnn") for w in ("binary", "ternary", "quaternary", "quinary")]
SLOW = [pytest.param(a, w, marks=pytest.mark.slow) for a, w in ALL if (a, w) not in FAST]


@pytest.mark.parametrize("arch,weights", FAST + SLOW)
def test_trained_model_csim_matches_onnxruntime(arch, weights):
    ckpt = train_model(arch=arch, weights=weights, epochs=1, pretrain_epochs=1, train_limit=1000, seed=0)
    loaded = from_net(collapse(ckpt), f"{arch}_{weights}".replace("-", "_"))
    raw = make_inputs(loaded, 200, seed=0)
    ref = run_onnx(loaded.onnx, raw)
    got = hls.run(loaded.ir, load_target("fpga-hls"), raw)
    mask, by_output = compare(ref, got)
    assert not mask.any(), by_output
    assert np.array_equal(got.logits.view(np.uint32), ref.logits.view(np.uint32))
