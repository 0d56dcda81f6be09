"""Every pass, on every hand-built edge model: onnxruntime before and after it, compared exactly.

The reference is onnxruntime on the deployment ONNX (export of the DiscreteNet); every intermediate IR
stage is written back to ONNX and run by onnxruntime, and run by the IR interpreter; all three outputs
must be identical (logits as float32 bits).
"""

import copy

import numpy as np
import pytest
from dnnc.errors import DnncError
from dnnc.frontend import export_onnx
from dnnc.interchange.export import net_to_ir
from dnnc.interchange.onnx_reader import onnx_to_ir
from dnnc.interchange.onnx_writer import ir_to_onnx
from dnnc.ir.interpreter import run, trace
from dnnc.ir.model import Linear, Threshold
from dnnc.passes.fold_thresholds import fold_channels, predicate
from dnnc.passes.pipeline import default_pipeline, run_pipeline, stages
from dnnc.passes.range_analysis import RangeAnalysis
from dnnc.verify.inputs import count_ties, edge_inputs, random_inputs
from dnnc.verify.reference import run_onnx
from models import WEIGHT_SET_NAMES, conv_model, dense_model, edge_models

EDGE = list(edge_models())


def _same(a, b) -> bool:
    return (np.array_equal(a.acc, b.acc) and np.array_equal(a.cls, b.cls)
            and np.array_equal(a.logits.view(np.uint32), b.logits.view(np.uint32)))


def _inputs(ir_final, shape, seed=0):
    rng = np.random.default_rng(seed)
    base = random_inputs(rng, 600, shape)
    return np.concatenate([base[:300], edge_inputs(ir_final, base[300:], rng, iters=6)])


def _equal_models(a, b) -> bool:
    """Field-by-field equality of two IR models (numpy arrays compared exactly)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal_models(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal_models(a[k], b[k]) for k in a)
    if hasattr(a, "__dataclass_fields__"):
        return all(_equal_models(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b


@pytest.mark.parametrize("name,net", EDGE, ids=[n for n, _ in EDGE])
def test_every_pass_preserves_onnxruntime_outputs(name, net):
    proto = export_onnx(net)
    final = run_pipeline(onnx_to_ir(proto))
    raw = _inputs(final, net.input_shape)
    ref = run_onnx(proto, raw)
    model = onnx_to_ir(proto)
    assert _same(run_onnx(ir_to_onnx(model), raw), ref) and _same(run(model, raw), ref)
    for p in default_pipeline():
        snapshot = copy.deepcopy(model)
        new = p(model)
        assert _equal_models(model, snapshot), f"{name}: {p.name} mutated its input"
        assert _same(run_onnx(ir_to_onnx(new), raw), ref), f"{name}: onnxruntime differs after {p.name}"
        assert _same(run(new, raw), ref), f"{name}: interpreter differs after {p.name}"
        model = new
    assert model.is_lowered() and _equal_models(model, final)
    assert [s for s, _ in stages(onnx_to_ir(proto))] == ["import"] + [p.name for p in default_pipeline()]


@pytest.mark.parametrize("ws", WEIGHT_SET_NAMES)
def test_edge_models_hit_exact_thresholds_and_negative_gamma(ws):
    """The edge models really exercise ties, gamma < 0 (no weight flip) and constant channels."""
    for net in (dense_model(ws), conv_model(ws)):
        final = run_pipeline(onnx_to_ir(export_onnx(net)))
        thr = [x for x in final.layers if isinstance(x, Threshold)]
        assert any((t.direction < 0).any() for t in thr)
        assert any((t.direction == 0).any() for t in thr)
        assert sorted({int(v) for lin in final.linears() for v in np.unique(lin.weight)}) <= sorted(
            final.linears()[0].weight_values)
        raw = _inputs(final, net.input_shape, seed=1)
        ties, _ = count_ties(final, raw)
        assert ties > 0


def test_fold_channels_brute_force():
    """The folded integer rule equals the float32 predicate on every accumulator of the range."""
    rng = np.random.default_rng(0)
    c = 400
    a = (rng.choice([1, -1, 0], size=c, p=[0.45, 0.45, 0.1]) * rng.uniform(1e-3, 3, size=c)).astype(np.float32)
    a[:50] = np.float32(0.5) * np.sign(a[:50])  # dyadic scales: exact float ties at integer accumulators
    b = (rng.integers(-300, 300, size=c) * np.abs(a) + rng.normal(0, 1, size=c) * (rng.random(c) < 0.5)).astype(
        np.float32)
    lo, hi = np.full(c, -400), np.full(c, 400)
    d, t, k = fold_channels(a, b, lo, hi)
    accs = np.arange(-400, 401)
    for ch in range(c):
        want = np.where(predicate(accs, np.full_like(accs, a[ch], np.float32), np.full_like(accs, b[ch], np.float32)),
                        1, -1)
        if d[ch] > 0:
            got = np.where(accs >= t[ch], 1, -1)
        elif d[ch] < 0:
            got = np.where(accs <= t[ch], 1, -1)
        else:
            got = np.full_like(accs, k[ch])
        assert np.array_equal(got, want), ch
    assert (d < 0).sum() > 100 and (d == 0).sum() > 10


def test_fold_thresholds_rejects_nan():
    net = dense_model("ternary")
    ir = net_to_ir(net)
    ir.layers[2].bias[3] = np.nan
    with pytest.raises(DnncError, match="sign0.*NaN"):
        run_pipeline(ir)


def test_range_analysis_bounds_are_sound_and_overflow_is_an_error():
    for _, net in EDGE:
        final = run_pipeline(onnx_to_ir(export_onnx(net)))
        raw = random_inputs(np.random.default_rng(2), 500, net.input_shape)
        for layer, value in zip(final.layers, trace(final, raw), strict=True):
            if isinstance(layer, Linear):
                shape = (1, -1) + (1,) * (value.ndim - 2)
                assert (value >= layer.acc_min_ch.reshape(shape)).all()
                assert (value <= layer.acc_max_ch.reshape(shape)).all()
                assert -(1 << (layer.acc_bits - 1)) <= layer.acc_min and layer.acc_max < 1 << (layer.acc_bits - 1)
    ir = net_to_ir(dense_model("quaternary"))
    lin = ir.layers[1]
    lin.weight = np.full((3, 30000), 3, np.int8)  # 30000 * 3 * 255 > 2^24
    with pytest.raises(DnncError, match="dense0.*2\\^24"):
        RangeAnalysis()(ir)


def test_input_offset_folds_only_for_dense():
    dense = run_pipeline(net_to_ir(dense_model("binary")))
    conv = run_pipeline(net_to_ir(conv_model("binary")))
    assert (dense.layers[0].in_mul, dense.layers[0].in_add) == (2, 0)
    assert (conv.layers[0].in_mul, conv.layers[0].in_add) == (2, -255)
    assert [p.name for p in default_pipeline()][:2] == ["fold-input-affine", "integer-weights"]


@pytest.mark.parametrize("ws", WEIGHT_SET_NAMES)
def test_exhaustive_two_pixel_net(ws):
    """Every one of the 65536 raw inputs of a 2-pixel net: onnxruntime == IR after all passes."""
    from dnnc.netspec import BatchNorm, DiscreteNet, LinearLayer
    from dnnc.vocabulary import WEIGHT_SETS

    rng = np.random.default_rng(5)
    codes = np.array(WEIGHT_SETS[ws][0], np.int8)
    scale = WEIGHT_SETS[ws][1]
    w0 = rng.choice(codes, size=(9, 2)).astype(np.int8)
    acc_tie = 2 * rng.integers(-200, 200, size=9) + (255 * w0.astype(np.int64).sum(axis=1)) % 2
    gamma = np.array([1, -1, 0.5, -2, 0, 0, 1.5, -0.75, 3.0])
    bn = BatchNorm(gamma=gamma, beta=np.array([0, 0, 0, 0, 0.1, -0.1, 0.01, 0, 0]),
                   mean=scale / 255 * acc_tie, inv_std=np.ones(9))
    out = LinearLayer("dense", rng.choice(codes, size=(3, 9)).astype(np.int8), ws, bias=rng.normal(0, 1, 3),
                      out_scale=0.3)
    net = DiscreteNet((1, 1, 2), [LinearLayer("dense", w0, ws, bn=bn)], out)
    proto = export_onnx(net)
    final = run_pipeline(onnx_to_ir(proto))
    grid = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1).reshape(-1, 1, 1, 2)
    raw = grid.astype(np.uint8)
    assert _same(run(final, raw), run_onnx(proto, raw))
    ties, _ = count_ties(final, raw)
    assert ties > 0


def test_argmax_tie_goes_to_lowest_index():
    """Two identical output rows with equal, dominant biases: logits tie exactly on every input."""
    from models import output_only_model

    net = output_only_model("binary")
    net.output.weight[5] = net.output.weight[2]
    net.output.bias[:] = 0.0
    net.output.bias[[2, 5]] = 100.0
    proto = export_onnx(net)
    raw = random_inputs(np.random.default_rng(0), 300, net.input_shape)
    ref = run_onnx(proto, raw)
    assert np.array_equal(ref.logits[:, 2].view(np.uint32), ref.logits[:, 5].view(np.uint32))
    assert (ref.cls == 2).all()
    assert _same(run(run_pipeline(onnx_to_ir(proto)), raw), ref)
