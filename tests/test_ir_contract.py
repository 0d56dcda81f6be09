"""IRModel.verify() and the pass contract (docs/ir-spec.md): valid models pass, every class of corruption
is caught with the offending layer named, and needs/invalidates are enforced by the pass machinery."""

from __future__ import annotations

import numpy as np
import pytest
from dnnc.errors import DnncError, InternalError, InvalidIR
from dnnc.frontend import export_onnx
from dnnc.interchange.export import net_to_ir
from dnnc.interchange.onnx_reader import onnx_to_ir
from dnnc.ir.model import ArgMax, Linear, MaxPool, Threshold
from dnnc.passes.base import RANGES, Pass
from dnnc.passes.canonical_thresholds import CanonicalThresholds
from dnnc.passes.fold_input_affine import FoldInputAffine
from dnnc.passes.fold_input_offset import FoldInputOffset
from dnnc.passes.fold_thresholds import FoldThresholds
from dnnc.passes.integer_weights import IntegerWeights
from dnnc.passes.pipeline import default_pipeline, run_pipeline, stages
from dnnc.passes.range_analysis import RangeAnalysis
from models import conv_model, dense_model, edge_models

EDGE = list(edge_models())


def _lowered(kind: str = "dense", ws: str = "ternary"):
    return run_pipeline(net_to_ir((dense_model if kind == "dense" else conv_model)(ws)))


def _layer(model, name):
    return next(x for x in model.layers if x.name == name)


@pytest.mark.parametrize("name,net", EDGE, ids=[n for n, _ in EDGE])
def test_every_stage_of_every_edge_model_verifies(name, net):
    for pre in (net_to_ir(net), onnx_to_ir(export_onnx(net))):  # int8 and float32 imported weights
        for _, model in stages(pre):
            model.verify()
        model.verify(lowered=True)


def test_pre_pass_model_is_not_the_backend_form():
    pre = net_to_ir(dense_model("binary"))
    pre.verify()
    with pytest.raises(InvalidIR, match="layer 'input_norm': InputAffine left in the backend-facing IR"):
        pre.verify(lowered=True)
    folded = run_pipeline(onnx_to_ir(export_onnx(dense_model("binary"))), [FoldInputAffine()])
    with pytest.raises(InvalidIR, match="layer 'dense0': weight must be int8 codes"):
        folded.verify(lowered=True)


# (description, model kind, corruption, expected message): one per class of invariant.
def _set(obj, **fields):
    for k, v in fields.items():
        setattr(obj, k, v)


CORRUPTIONS = [
    ("in_shape breaks the chain", "dense", lambda m: _set(_layer(m, "dense1"), in_shape=(36,)),
     r"layer 'dense1': in_shape \(36,\) does not match the previous layer's out_shape \(37,\)"),
    ("dense weight does not fit", "dense", lambda m: _set(_layer(m, "dense1"), weight=_layer(m, "dense1").weight[:, :-1]),
     r"layer 'dense1': dense weight \(33, 36\) does not map"),
    ("conv geometry", "conv", lambda m: _set(_layer(m, "conv1"), stride=2),
     r"layer 'conv1': conv out_shape \(5, 6, 6\) should be \(5, 3, 3\)"),
    ("conv channels", "conv", lambda m: _set(_layer(m, "conv1"), weight=_layer(m, "conv1").weight[:, :-1]),
     r"layer 'conv1': conv weight \(5, 5, 3, 3\) does not fit input \(6, 6, 6\)"),
    ("max-pool geometry", "conv", lambda m: _set(_layer(m, "pool1"), k=3),
     r"layer 'pool1': max-pool out_shape \(5, 3, 3\) should be \(5, 2, 2\)"),
    ("weight outside its set", "dense", lambda m: _layer(m, "dense1").weight.__setitem__((0, 0), 2),
     r"layer 'dense1': weight value 2 is not in weight_values \(-1, 0, 1\)"),
    ("unsorted weight set", "dense", lambda m: _set(_layer(m, "out"), weight_values=(1, 0, -1)),
     r"layer 'out': weight_values must be a non-empty, strictly increasing tuple"),
    ("float weights in the backend form", "dense",
     lambda m: _set(_layer(m, "out"), weight=_layer(m, "out").weight.astype(np.float32)),
     r"layer 'out': weight must be int8 codes"),
    ("hidden layer offsets its input", "dense", lambda m: _set(_layer(m, "dense1"), in_add=3),
     r"layer 'dense1': only the first layer may scale or offset its input"),
    ("wrong input type", "dense", lambda m: _set(_layer(m, "dense1"), in_dtype="UINT8"),
     r"layer 'dense1': in_dtype must be BIPOLAR"),
    ("threshold direction", "dense", lambda m: _layer(m, "sign0").direction.__setitem__(3, 2),
     r"layer 'sign0': direction of channel 3 is 2"),
    ("threshold const", "dense", lambda m: _layer(m, "sign1").const.__setitem__(0, 0),
     r"layer 'sign1': const of channel 0 is 0"),
    ("threshold on a constant channel", "dense",
     lambda m: _layer(m, "sign0").threshold.__setitem__(int(np.flatnonzero(_layer(m, "sign0").direction == 0)[0]), 7),
     r"layer 'sign0': constant channel \d+ has threshold 7"),
    ("threshold dtype", "dense", lambda m: _set(_layer(m, "sign0"), threshold=_layer(m, "sign0").threshold.astype(float)),
     r"layer 'sign0': threshold must be int64 of shape \(37,\), got float64"),
    ("threshold count", "conv", lambda m: _set(_layer(m, "sign1"), const=_layer(m, "sign1").const[:-1]),
     r"layer 'sign1': const must be int8 of shape \(5,\)"),
    ("output affine dtype", "dense", lambda m: _set(_layer(m, "out_affine"), scale=_layer(m, "out_affine").scale.astype(float)),
     r"layer 'out_affine': scale must be float32 of shape \(10,\), got float64"),
    ("output affine length", "dense", lambda m: _set(_layer(m, "out_affine"), bias=np.zeros(9, np.float32)),
     r"layer 'out_affine': bias must be float32 of shape \(10,\)"),
    ("num_classes", "dense", lambda m: _set(m, num_classes=9),
     r"layer 'out_affine': in_shape \(10,\) must be \(num_classes,\)"),
    ("ArgMax not last", "dense", lambda m: m.layers.append(ArgMax("again", (), ())),
     r"layer 'again': ArgMax cannot come after ArgMax 'argmax'"),
    ("no ArgMax", "dense", lambda m: m.layers.pop(),
     r"layer 'out_affine': the model must end with OutputAffine, ArgMax"),
    ("pool after a sign", "conv",
     lambda m: m.layers.insert(2, MaxPool("pool0", (6, 6, 6), (6, 3, 3))),
     r"layer 'pool0': MaxPool cannot come after Threshold 'sign0'"),
    ("duplicate name", "dense", lambda m: _set(_layer(m, "sign1"), name="sign0"),
     r"layer 'sign0': name must be a unique C identifier"),
    ("missing ranges", "dense", lambda m: _set(_layer(m, "dense1"), acc_min_ch=None, acc_max_ch=None),
     r"layer 'dense1': accumulator ranges missing"),
    ("stale ranges", "dense", lambda m: _set(_layer(m, "dense1"), acc_max_ch=_layer(m, "dense1").acc_max_ch - 1),
     r"layer 'dense1': recorded accumulator range \[-?\d+, -?\d+\] of channel 0 does not contain"),
    ("ranges beyond int32", "dense",
     lambda m: _set(_layer(m, "out"), acc_max_ch=np.full(10, 2**31, np.int64)),
     r"layer 'out': accumulator range \[-?\d+, 2147483648\] is empty or does not fit int32"),
]


@pytest.mark.parametrize("what,kind,corrupt,message", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_verify_catches_and_names_the_layer(what, kind, corrupt, message):
    model = _lowered(kind)
    model.verify(lowered=True)
    corrupt(model)
    with pytest.raises(InvalidIR, match=message):
        model.verify(lowered=True)


def test_invalid_ir_is_an_internal_error_not_a_user_error():
    assert issubclass(InvalidIR, InternalError) and not issubclass(InternalError, DnncError)


def test_import_is_verified_before_any_pass():
    pre = net_to_ir(conv_model("binary"))
    _layer(pre, "conv1").pad = 2
    with pytest.raises(InvalidIR, match=r"after import: layer 'conv1': conv out_shape"):
        run_pipeline(pre)


def test_a_pass_needing_ranges_is_refused_without_them():
    pre = onnx_to_ir(export_onnx(dense_model("ternary")))
    with pytest.raises(InternalError, match="pass 'fold-thresholds' needs ranges: layer 'dense0' has no "
                                            "accumulator ranges"):
        run_pipeline(pre, [FoldInputAffine(), IntegerWeights(), FoldThresholds()])


def test_invalidated_ranges_are_dropped_so_no_consumer_reads_them():
    pre = onnx_to_ir(export_onnx(dense_model("ternary")))
    head = [FoldInputAffine(), IntegerWeights(), RangeAnalysis(), FoldThresholds()]
    folded = run_pipeline(pre, head)
    assert all(x.has_ranges for x in folded.linears())
    offset = FoldInputOffset()(folded)
    assert RANGES in FoldInputOffset.invalidates and not any(x.has_ranges for x in offset.linears())
    with pytest.raises(InternalError, match="layer 'dense0': accumulator ranges read but not known"):
        _ = offset.linears()[0].acc_bits
    with pytest.raises(InternalError, match="pass 'canonical-thresholds' needs ranges: layer 'dense0'"):
        run_pipeline(pre, [*head, FoldInputOffset(), CanonicalThresholds()])
    run_pipeline(pre, [*head, FoldInputOffset(), RangeAnalysis(), CanonicalThresholds()]).verify(lowered=True)


def test_stale_ranges_are_refused_before_a_consumer():
    """Ranges present but no longer true for the IR (edited behind the contract's back): not fresh."""
    model = _lowered("dense")
    _layer(model, "dense0").in_add = 7
    with pytest.raises(InvalidIR, match="before pass 'canonical-thresholds': layer 'dense0': recorded accumulator "
                                        "range .* stale"):
        CanonicalThresholds()(model)


class _UndeclaredOffset(Pass):
    """Changes what ranges depend on but does not declare invalidates=RANGES."""

    name = "undeclared-offset"

    def rewrite(self, model):
        model.linears()[0].in_add += 5


class _BreaksThresholds(Pass):
    name = "breaks-thresholds"

    def rewrite(self, model):
        next(x for x in model.layers if isinstance(x, Threshold)).direction[0] = 3


def test_a_pass_result_is_verified_and_the_pass_named():
    model = _lowered("dense")
    with pytest.raises(InvalidIR, match="after pass 'undeclared-offset': layer 'dense0': recorded accumulator range"):
        _UndeclaredOffset()(model)
    with pytest.raises(InvalidIR, match="after pass 'breaks-thresholds': layer 'sign0': direction of channel 0"):
        _BreaksThresholds()(model)
    model.verify(lowered=True)  # the input is untouched


def test_declaring_an_unknown_analysis_is_refused():
    with pytest.raises(InternalError, match="invalidates \\['layout'\\], which are not recorded analyses"):
        type("Bad", (Pass,), {"name": "bad", "invalidates": frozenset({"layout"})})
    with pytest.raises(InternalError, match="needs unknown requirements \\['lattice'\\]"):
        type("Bad", (Pass,), {"name": "bad", "needs": frozenset({"lattice"})})


def test_default_pipeline_declarations():
    """The order of the default pipeline follows from the declarations: every pass needing ranges finds them
    provided after the last pass that invalidated them."""
    fresh = False
    for p in default_pipeline():
        assert not (RANGES in p.needs and not fresh), p.name
        fresh = isinstance(p, RangeAnalysis) or (fresh and RANGES not in p.invalidates)
    assert fresh


def test_ranges_are_the_only_stored_form():
    """acc_min/acc_max/acc_bits derive from the per-channel ranges (no second copy to go stale)."""
    lin = _lowered("conv").linears()[0]
    assert "acc_min" not in Linear.__dataclass_fields__ and "layout" not in Linear.__dataclass_fields__
    assert lin.acc_min == min(0, int(lin.acc_min_ch.min())) and lin.acc_max == max(0, int(lin.acc_max_ch.max()))
    assert -(1 << (lin.acc_bits - 1)) <= lin.acc_min and lin.acc_max < 1 << (lin.acc_bits - 1)
    assert not (-(1 << (lin.acc_bits - 2)) <= lin.acc_min and lin.acc_max < 1 << (lin.acc_bits - 2))
