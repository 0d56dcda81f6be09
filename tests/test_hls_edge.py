"""C-simulation vs onnxruntime on the deployment ONNX for the shared hand-built edge models.

Edge models (tests/models.py): gamma < 0 with multi-bit weights, gamma = 0, exact ties, odd fan-ins,
conv padding/stride, max-pool before a negative-gamma threshold, output layer first. Every output is
compared exactly (logits as float32 bits) with onnxruntime, graph optimizations disabled.
"""

from __future__ import annotations

import numpy as np
import pytest
from dnnc.backends import hls
from dnnc.frontend import from_net
from dnnc.targets import load_target
from dnnc.verify import compare
from dnnc.verify.inputs import make_inputs
from dnnc.verify.reference import run_onnx
from models import edge_models

EDGE = list(edge_models())


@pytest.mark.parametrize("name,net", EDGE, ids=[n for n, _ in EDGE])
def test_edge_model_matches_onnxruntime(name, net):
    loaded = from_net(net, name.replace("-", "_"))
    raw = make_inputs(loaded, 60, seed=0)
    ref = run_onnx(loaded.onnx, raw)
    got = hls.run(loaded.ir, load_target("fpga-hls"), raw)
    mask, by_output = compare(ref, got)
    assert not mask.any(), by_output
    assert np.array_equal(got.logits.view(np.uint32), ref.logits.view(np.uint32))
