"""C-simulation of the emitted HLS C++ against the IR interpreter, bit for bit, on hand-built models.

The models exercise the integer contract's corners: gamma < 0 (direction -1) with multi-bit weights,
gamma = 0 (constant channels), thresholds placed exactly on reachable sums (ties), odd sizes, conv
padding and stride, max-pool, several foldings of the same model.
"""

from __future__ import annotations

import numpy as np
import pytest
from dnnc import dataflow
from dnnc.backends import hls
from dnnc.ir import interpreter
from dnnc.ir.model import ArgMax, IRModel, Linear, MaxPool, OutputAffine, Threshold
from dnnc.targets import load_target

WEIGHT_SETS = {
    "BIPOLAR": (-1, 1), "TERNARY": (-1, 0, 1), "INT3": (-3, -1, 1, 3), "INT3Q": (-2, -1, 0, 1, 2),
}


def _bounds(w: np.ndarray, umax: int) -> tuple[int, int]:
    s = int(np.abs(w.reshape(w.shape[0], -1)).sum(axis=1).max()) * umax
    return -s, s


def _linear(name, kind, w, wset, in_shape, out_shape, in_dtype, in_mul=1, in_add=0, stride=1, pad=0):
    umax = max(abs(in_add), abs(in_mul * 255 + in_add)) if in_dtype == "UINT8" else 1
    lo, hi = _bounds(w, umax)
    return Linear(name, tuple(in_shape), tuple(out_shape), kind=kind, weight=w.astype(np.int8),
                  weight_values=WEIGHT_SETS[wset], weight_dtype="INT3" if wset == "INT3Q" else wset,
                  stride=stride, pad=pad, in_dtype=in_dtype, in_mul=in_mul, in_add=in_add,
                  acc_min_ch=np.full(w.shape[0], lo, np.int64), acc_max_ch=np.full(w.shape[0], hi, np.int64))


def _threshold(name, shape, rng, acc_sample: np.ndarray) -> Threshold:
    """Thresholds drawn from actual accumulator values (so ties happen), mixed directions incl. 0."""
    c = shape[0]
    per_c = acc_sample.transpose(1, 0, *range(2, acc_sample.ndim)).reshape(c, -1)
    thr = np.array([rng.choice(per_c[i]) for i in range(c)], np.int64)
    direction = rng.choice(np.array([1, 1, -1, -1, 0], np.int8), size=c)
    const = rng.choice(np.array([-1, 1], np.int8), size=c)
    thr = np.where(direction == 0, 0, thr)  # the IR's form of a constant channel (docs/ir-spec.md)
    return Threshold(name, tuple(shape), tuple(shape), direction=direction, threshold=thr, const=const)


def build(spec: list, in_shape: tuple[int, int, int], classes: int, wset: str, seed: int,
          in_mul: int = 2, in_add: int = -255) -> IRModel:
    """spec items: ("dense", n) | ("conv", out_c, k, stride, pad) | ("pool", k). Thresholds are drawn
    from accumulators of random inputs so that some sit exactly on reachable sums."""
    rng = np.random.default_rng(seed)
    probe = rng.integers(0, 256, size=(16, *in_shape), dtype=np.uint8)
    layers: list = []
    shape = tuple(in_shape)
    vals = np.array(WEIGHT_SETS[wset])
    first = True

    def current(x):
        for layer in layers:
            x = interpreter.apply_layer(layer, x)
        return x

    items = list(spec) + [("out", classes)]
    for idx, item in enumerate(items):
        kind = item[0]
        if kind == "pool":
            continue
        in_dtype = "UINT8" if first else "BIPOLAR"
        mul, add = (in_mul, in_add) if first else (1, 0)
        name = f"l{idx}"
        if kind == "conv":
            _, oc, k, s, p = item
            c, h, w = shape
            weight = rng.choice(vals, size=(oc, c, k, k))
            out = (oc, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
            layers.append(_linear(name, "conv", weight, wset, shape, out, in_dtype, mul, add, s, p))
        else:
            n = item[1]
            weight = rng.choice(vals, size=(n, int(np.prod(shape))))
            out = (n,)
            layers.append(_linear(name, "dense", weight, wset, shape, out, in_dtype, mul, add))
        first = False
        shape = out
        if kind == "out":
            break
        nxt = items[idx + 1]
        if nxt is not None and nxt[0] == "pool":
            k = nxt[1]
            c, h, w = shape
            pooled = (c, h // k, w // k)
            layers.append(MaxPool(f"{name}_pool", shape, pooled, k=k, stride=k))
            shape = pooled
        layers.append(_threshold(f"{name}_sign", shape, rng, current(probe)))
    acc = current(probe).astype(np.float32)
    scale = rng.uniform(0.01, 0.2, size=classes).astype(np.float32)
    bias = rng.normal(size=classes).astype(np.float32)
    layers.append(OutputAffine("affine", (classes,), (classes,), scale=scale, bias=bias))
    layers.append(ArgMax("argmax", (classes,), ()))
    assert acc.shape[1] == classes
    spec_items = [x for x in spec if x[0] != "pool"]
    assert len([x for x in layers if isinstance(x, Linear)]) == len(spec_items) + 1
    model = IRModel("m", tuple(in_shape), layers, classes)
    model.verify(lowered=True)  # a valid backend-facing IR, as the pipeline would hand it over
    model.meta["probe"] = probe
    return model


def inputs(model: IRModel, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(n, *model.input_shape), dtype=np.uint8)
    raw[0] = 0
    raw[1] = 255
    raw[2] = 127
    raw[3] = 128
    return np.concatenate([model.meta["probe"], raw])


def count_ties(model: IRModel, raw: np.ndarray) -> int:
    """How many (input, channel) pairs sit exactly on a threshold: the tie cases of the contract."""
    ties, x = 0, raw
    for layer in model.layers:
        if isinstance(layer, Threshold):
            shape = (1, -1) + (1,) * (x.ndim - 2)
            ties += int(((x == layer.threshold.reshape(shape)) & (layer.direction.reshape(shape) != 0)).sum())
        x = interpreter.apply_layer(layer, x)
    return ties


def assert_exact(got, ref):
    assert np.array_equal(got.acc, ref.acc)
    assert np.array_equal(got.logits.view(np.uint32), ref.logits.view(np.uint32))
    assert np.array_equal(got.cls, ref.cls)


@pytest.fixture(scope="module")
def target():
    return load_target("fpga-hls")


@pytest.mark.parametrize("wset", ["BIPOLAR", "TERNARY", "INT3", "INT3Q"])
def test_dense_matches_interpreter(target, wset):
    model = build([("dense", 24), ("dense", 18)], (1, 5, 7), 6, wset, seed=3)
    raw = inputs(model, 40)
    assert count_ties(model, raw) > 0
    assert {-1, 0, 1} <= set(np.concatenate([x.direction for x in model.layers if isinstance(x, Threshold)]))
    assert_exact(hls.run(model, target, raw), interpreter.run(model, raw))


def test_stride_beyond_kernel_and_odd_pool(target):
    """Stride > kernel (rows no window uses are dropped), padding >= stride, pool with a ragged edge."""
    model = build([("conv", 3, 2, 3, 1), ("conv", 5, 1, 2, 0), ("dense", 6)], (3, 11, 10), 4, "TERNARY",
                  seed=19)
    raw = inputs(model, 20)
    assert_exact(hls.run(model, target, raw), interpreter.run(model, raw))
    model = build([("conv", 4, 3, 1, 2), ("pool", 3), ("dense", 5)], (1, 8, 7), 3, "INT3Q", seed=23)
    raw = inputs(model, 20)
    assert_exact(hls.run(model, target, raw, sanitize=True), interpreter.run(model, raw))


def test_conv_pool_padding_matches_interpreter(target):
    model = build([("conv", 6, 3, 1, 1), ("pool", 2), ("conv", 4, 3, 2, 1), ("dense", 10)], (2, 9, 9), 5,
                  "INT3", seed=5)
    raw = inputs(model, 20)
    assert_exact(hls.run(model, target, raw), interpreter.run(model, raw))


@pytest.mark.parametrize("fps", [0, 1e3, 1e7])
def test_foldings_do_not_change_outputs(target, fps):
    model = build([("conv", 4, 3, 1, 0), ("dense", 12)], (2, 6, 6), 4, "BIPOLAR", seed=7)
    raw = inputs(model, 16)
    cfg = dict(target, fps=fps)
    d = dataflow.design(model, cfg)
    assert all(s.cycles() > 0 for s in d.stages)
    assert_exact(hls.run(model, cfg, raw), interpreter.run(model, raw))


def test_sanitizers_clean(target):
    model = build([("conv", 3, 3, 1, 1), ("pool", 2), ("dense", 7)], (1, 6, 6), 3, "TERNARY", seed=11)
    raw = inputs(model, 8)
    assert_exact(hls.run(model, target, raw, sanitize=True), interpreter.run(model, raw))


@pytest.mark.parametrize("cxx", ["g++", "clang++"])
def test_strict_warnings(target, cxx, tmp_path):
    """Every kernel instantiated (input convert, window generator with padding, max-pool, thresholding,
    width converters, XNOR and multi-bit MVAUs, label select) builds with zero diagnostics."""
    import shutil

    from dnnc.backends.hls import csim
    from dnnc.backends.hls.emit import write_hls

    if shutil.which(cxx) is None:
        pytest.skip(f"{cxx} not installed")
    model = build([("conv", 4, 3, 1, 1), ("pool", 2), ("conv", 4, 3, 1, 0), ("dense", 9)], (2, 8, 8), 3,
                  "BIPOLAR", seed=13)
    strict = dict(target, csim={"cxx": cxx, "flags": [
        "-std=c++14", "-O1", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror",
        "-Wno-unknown-pragmas", "-ffp-contract=off"]})
    d = dataflow.design(model, strict)
    ops = {s.op for s in d.stages}
    assert {"InputConvert", "ConvolutionInputGenerator", "StreamingMaxPool", "Thresholding", "MVAU",
            "StreamingDataWidthConverter", "LabelSelect"} <= ops
    write_hls(hls._context(model, strict, d), tmp_path)
    exe = csim.build(tmp_path, model.name, strict)
    raw = inputs(model, 6)
    assert_exact(csim.execute(exe, raw, model.num_classes), interpreter.run(model, raw))


def test_wide_xnor_words(target):
    """SIMD > 64: XNOR-popcount over several 64-bit words with a partial last word (130 = 64 + 64 + 2)."""
    model = build([("dense", 130), ("dense", 65)], (1, 10, 20), 5, "BIPOLAR", seed=17)
    folding = {"L0_mvau": {"PE": 2, "SIMD": 200}, "L1_mvau": {"PE": 5, "SIMD": 130},
               "L2_mvau": {"PE": 5, "SIMD": 65}}
    cfg = dict(target, folding=folding)
    d = dataflow.design(model, cfg)
    assert [s.attrs["binaryXnorMode"] for s in d.stages if s.op == "MVAU"] == [0, 1, 1]
    raw = inputs(model, 30)
    assert_exact(hls.run(model, cfg, raw), interpreter.run(model, raw))
