"""C-simulation vs onnxruntime on the deployment ONNX for the shared hand-built edge models.

Edge models (tests/models.py): gamma < 0 with multi-bit weights, gamma = 0, exact ties, odd fan-ins,
conv padding/stride, max-pool before a negative-gamma threshold, output layer first. Every output is
compared exactly (logits as float32 bits) with onnxruntime, graph optimizations disabled.
"""

from __future__ import annotations

import pytest
from dnnc.backends import hls
from dnnc.frontend import from_net
from exactness import assert_matches_onnxruntime
from models import edge_models

EDGE = list(edge_models())


@pytest.mark.parametrize("name,net", EDGE, ids=[n for n, _ in EDGE])
def test_edge_model_matches_onnxruntime(name, net):
    loaded = from_net(net, name.replace("-", "_"))
    assert_matches_onnxruntime(loaded, hls, "fpga-hls", 60, seed=0)
