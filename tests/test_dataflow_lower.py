"""dnnc.dataflow.lower: the one layer grouping the FPGA backends share, and the stages it lowers to."""

from __future__ import annotations

import pytest
from dnnc.dataflow.lower import group, lower
from dnnc.errors import DnncError
from dnnc.frontend import from_net
from dnnc.ir.model import MaxPool, Threshold
from models import conv_model, dense_model, output_only_model


def _shape(blocks) -> list[str]:
    return ["+".join(type(x).__name__ for x in (b.linear, b.pool, b.threshold, b.affine) if x is not None)
            for b in blocks]


def test_group_covers_every_layer_once():
    conv = from_net(conv_model("ternary"), "m").ir
    assert _shape(group(conv)) == ["Linear+Threshold", "Linear+MaxPool+Threshold", "Linear+OutputAffine"]
    assert _shape(group(from_net(dense_model("binary"), "m").ir)) == ["Linear+Threshold"] * 2 + [
        "Linear+OutputAffine"]
    assert _shape(group(from_net(output_only_model("quinary"), "m").ir)) == ["Linear+OutputAffine"]
    grouped = [x for b in group(conv) for x in (b.linear, b.pool, b.threshold, b.affine) if x is not None]
    assert grouped == conv.layers[:-1]  # everything but the ArgMax, in order


def test_stages_follow_the_blocks():
    stages = lower(from_net(conv_model("ternary"), "m").ir)
    assert [(s.name, s.op) for s in stages] == [
        ("L0_input", "InputConvert"), ("L0_swg", "ConvolutionInputGenerator"), ("L0_mvau", "MVAU"),
        ("L1_swg", "ConvolutionInputGenerator"), ("L1_mvau", "MVAU"), ("L1_pool", "StreamingMaxPool"),
        ("L1_thr", "Thresholding"), ("L2_mvau", "MVAU"), ("label_select", "LabelSelect")]
    assert [s.attrs["noActivation"] for s in stages if s.op == "MVAU"] == [0, 1, 1]


def test_group_refuses_what_no_dataflow_backend_implements():
    ir = from_net(conv_model("ternary"), "m").ir
    pool = next(i for i, x in enumerate(ir.layers) if isinstance(x, MaxPool))
    bad = ir.copy()
    bad.layers[pool].stride = 1
    with pytest.raises(DnncError, match="max-pool with stride == k only"):
        group(bad)
    bad = ir.copy()
    del bad.layers[pool + 1]
    with pytest.raises(DnncError, match="max-pool must be followed by a threshold"):
        group(bad)
    bad = ir.copy()
    bad.layers.insert(1, bad.layers[1])
    assert isinstance(bad.layers[1], Threshold)
    with pytest.raises(DnncError, match="expects a Linear here, got Threshold"):
        group(bad)
    bad = ir.copy()
    bad.layers = bad.layers[:-2]
    with pytest.raises(DnncError, match="unsupported successor none"):
        group(bad)
