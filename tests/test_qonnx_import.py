"""QONNX import: hand-built graphs, checked against qonnx's own executor (the reference for QONNX files)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from dnnc.errors import DnncError
from dnnc.interchange.qonnx_import import import_qonnx, is_qonnx, load_qonnx
from dnnc.ir import interpreter
from dnnc.ir.model import Linear, MaxPool, Threshold
from dnnc.passes.pipeline import run_pipeline
from dnnc.verify.qonnx_reference import compare, run_qonnx
from dnnc.verify.reference import run_onnx
from qonnx_graphs import DOMAIN, G, mlp

pytest.importorskip("qonnx")


def inputs(n: int = 48, shape=(1, 4, 4), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    raw[0], raw[1] = 0, 255
    return raw


def check_against_qonnx(proto: onnx.ModelProto, raw: np.ndarray) -> None:
    """0 unexplained disagreements with qonnx; the deployment ONNX and the lowered IR agree bit for bit."""
    ir = import_qonnx(proto)
    res = compare(proto, ir, raw)
    assert res.unexplained == 0, res.summary_line()
    assert res.mismatches == res.ties
    ref, ir2 = load_qonnx(proto)
    lowered = run_pipeline(ir2)
    assert run_onnx(ref, raw).equals(interpreter.run(lowered, raw))
    return res


@pytest.mark.parametrize("weights,bits,narrow,scale,values", [
    ("bipolar", 0, 0, 1.0, (-1, 1)), ("quant", 2, 1, 1.0, (-1, 0, 1)), ("quant", 1, 0, 1.0, (-1, 1)),
    ("quant", 2, 0, 0.5, (-2, -1, 0, 1, 2)),  # INT2 codes {-2..1}: declared quinary, which C backends pack
    ("quant", 3, 1, 0.25, (-3, -2, -1, 0, 1, 2, 3)),  # INT3 narrow using +-3: its full range (HLS only)
    ("quant", 3, 0, 0.5, (-2, -1, 0, 1, 2))])
def test_weight_sets_match_qonnx_executor(weights, bits, narrow, scale, values):
    proto = mlp(np.random.default_rng(bits * 2 + narrow), weight_quant=weights, bits=bits, narrow=narrow,
                scale=scale)
    assert is_qonnx(proto)
    ir = import_qonnx(proto)
    lin = ir.linears()[0]
    assert lin.weight_values == values
    assert set(np.unique(lin.weight)) <= set(values) and len(np.unique(lin.weight)) >= len(values) - 1
    assert (lin.in_mul, lin.in_add) == (2, -255)  # (2p - 255) / 256 folded exactly
    res = check_against_qonnx(proto, inputs())
    assert res.mismatches == 0


def test_negative_and_zero_gamma_give_directions():
    gamma = [0.5, -0.5, 0.0, 1.0, -2.0, 0.25, 0.0, -0.1]
    proto = mlp(np.random.default_rng(7), gamma=gamma)
    thr = next(layer for layer in import_qonnx(proto).layers if isinstance(layer, Threshold))
    assert list(thr.direction) == [1, -1, 0, 1, -1, 1, 0, -1]
    check_against_qonnx(proto, inputs(64))


def test_multithreshold_sign_and_power_of_two_weight_scale():
    proto = mlp(np.random.default_rng(3), sign="multithreshold", scale=0.5)
    assert check_against_qonnx(proto, inputs()).mismatches == 0


def test_threshold_exactly_on_an_integer_is_decided_by_sign0_plus1():
    """Real arithmetic: BN mean 5, beta 0 -> y = 0 exactly at acc*scale = 5: sign(0) = +1 (acc >= 5)."""
    g = G(in_shape=(1, 4))
    a = g.dense("x", np.ones((2, 4)), "bipolar")
    a = g.bn(a, [1.0, -1.0], [0.0, 0.0], [5.0, 5.0], [1.0, 1.0], eps=0.0)
    s = g.bipolar(a)
    y = g.dense(s, np.ones((2, 2)), "bipolar")
    thr = import_qonnx(g.model(y, [1, 2])).layers[1]
    assert list(thr.direction) == [1, -1] and list(thr.threshold) == [5, 5]


def test_domain_aliases_import_identically():
    base = import_qonnx(mlp(np.random.default_rng(1)))
    for dom in ("onnx.brevitas", "finn", "finn.custom_op.general"):
        proto = mlp(np.random.default_rng(1))
        for n in proto.graph.node:
            if n.domain == DOMAIN:
                n.domain = dom
        ir = import_qonnx(proto)
        raw = inputs()
        assert interpreter.run(ir, raw).equals(interpreter.run(base, raw))
        assert compare(proto, ir, raw[:12]).unexplained == 0  # qonnx maps the aliases too


def test_conv_maxpool_after_sign_with_negative_gamma():
    """Conv -> BN(gamma<0 channels) -> sign -> MaxPool: the pool moves before the threshold (negated rows)."""
    rng = np.random.default_rng(5)
    g = G(in_shape=(1, 1, 8, 8))
    x = g.op("Sub", [g.op("Mul", ["x", g.c(1 / 128)]), g.c(255 / 256)])
    w = g.bipolar(g.c(rng.uniform(-1, 1, (4, 1, 3, 3))))
    a = g.op("Conv", [x, w], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    a = g.bn(a, [1.0, -1.0, 0.5, -0.3], rng.uniform(-1, 1, 4), rng.uniform(-3, 3, 4), [1.0, 2.0, 3.0, 0.5])
    s = g.op("MaxPool", [g.bipolar(a)], kernel_shape=[2, 2], strides=[2, 2])
    w2 = g.bipolar(g.c(rng.uniform(-1, 1, (4, 4, 3, 3))))
    a2 = g.op("MaxPool", [g.op("Conv", [s, w2], kernel_shape=[3, 3], pads=[1, 1, 1, 1])], kernel_shape=[2, 2],
              strides=[2, 2])
    s2 = g.bipolar(g.bn(a2, [1.0, -1.0, 2.0, 0.0], rng.uniform(-1, 1, 4), [0.0] * 4, [1.0] * 4))
    y = g.dense(g.op("Flatten", [s2], axis=1), rng.uniform(-1, 1, (3, 16)), "bipolar")
    proto = g.model(y, [1, 3])
    ir = import_qonnx(proto)
    kinds = [type(layer).__name__ for layer in ir.layers]
    assert kinds[:6] == ["Linear", "MaxPool", "Threshold", "Linear", "MaxPool", "Threshold"]
    assert isinstance(ir.layers[1], MaxPool) and all(ir.layers[2].direction >= 0)
    check_against_qonnx(proto, inputs(40, (1, 8, 8)))


def test_local_functions_are_inlined():
    proto = mlp(np.random.default_rng(2))
    nodes = list(proto.graph.node)
    bn = next(i for i, n in enumerate(nodes) if n.op_type == "BatchNormalization")
    inner = nodes[bn]
    fn = onnx.helper.make_function("local", "BNWrap", list(inner.input), list(inner.output), [inner],
                                   [onnx.helper.make_opsetid("", 11)])
    call = onnx.helper.make_node("BNWrap", list(inner.input), list(inner.output), domain="local", name="wrap")
    del proto.graph.node[:]
    proto.graph.node.extend(nodes[:bn] + [call] + nodes[bn + 1:])
    proto.functions.append(fn)
    proto.opset_import.append(onnx.helper.make_opsetid("local", 1))
    raw = inputs()
    assert interpreter.run(import_qonnx(proto), raw).equals(interpreter.run(import_qonnx(mlp(np.random.default_rng(2))),
                                                                           raw))


def _error(proto) -> str:
    with pytest.raises(DnncError) as exc:
        import_qonnx(proto)
    return str(exc.value)


def test_unsupported_content_is_a_one_line_error_naming_the_node():
    rng = np.random.default_rng(0)
    # 5-bit activations (1 to 4 bits are deployed)
    proto = mlp(rng)
    sign = next(n for n in proto.graph.node if n.op_type == "BipolarQuant" and n.input[0].startswith("t"))
    g = G()
    quant = onnx.helper.make_node("Quant", [sign.input[0], g.c(1.0, "s4"), g.c(0.0, "z4"), g.c(5.0, "b4")],
                                  list(sign.output), name="act4", domain=DOMAIN, signed=1, narrow=0,
                                  rounding_mode="ROUND")
    proto.graph.initializer.extend(g.inits)
    sign.CopyFrom(quant)
    msg = _error(proto)
    assert "act4" in msg and "5-bit activations" in msg and "\n" not in msg
    # non-power-of-two weight scale
    assert "not a positive power of two" in _error(mlp(rng, scale=0.1))
    # unknown op
    proto = mlp(rng)
    proto.graph.node[3].op_type = "Softsign"
    assert proto.graph.node[3].name in _error(proto)
    # signed/narrow swapped on weights
    assert "swapped" in _error(_swap(mlp(rng, weight_quant="quant", bits=2, narrow=1)))
    # float input without an integer type or an in-graph quantizer: the node that reads it is named
    proto = mlp(rng)
    del proto.graph.quantization_annotation[:]
    msg = _error(proto)
    assert "on the float input is not supported" in msg and "MatMul" in msg


def _swap(proto: onnx.ModelProto) -> onnx.ModelProto:
    """signed=0 on signed weights: what a Brevitas release with swapped signed/narrow wrote."""
    for n in proto.graph.node:
        if n.op_type == "Quant":
            for a in n.attribute:
                if a.name == "signed":
                    a.i = 0
    return proto


def test_cli_exit_2_on_unsupported_qonnx(tmp_path):
    path = tmp_path / "bad.onnx"
    onnx.save(mlp(np.random.default_rng(0), scale=0.1), path)
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "inspect", str(path)], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "power of two" in r.stderr


def test_run_qonnx_reference_is_float_semantics():
    """Independent check of the reference plumbing: a 1-layer graph computes W x exactly."""
    g = G(in_shape=(1, 4))
    w = np.array([[1, -1, 1, 1], [-1, -1, 1, -1]], np.float64)
    y = g.dense("x", w, "bipolar")
    raw = inputs(5, (4,))
    out, _ = run_qonnx(g.model(y, [1, 2]), raw)
    assert np.array_equal(out, raw.astype(np.float64) @ w.T)
    assert all(isinstance(layer, Linear) for layer in import_qonnx(g.model(y, [1, 2])).layers[:1])


def test_float32_tie_is_decided_as_the_file_decides_it():
    """acc*f32(0.1) + f32(-0.3): real arithmetic puts the threshold just above 3 (3.0000000745), but the file's
    float32 rounds 3*0.1 to exactly 0.3 and outputs +1 at acc = 3. dnnc derives its thresholds from the
    file's own float32 steps, so it says +1 too: no disagreement with qonnx's executor at all."""
    g = G(in_shape=(1, 4))
    a = g.dense("x", np.ones((2, 4)), "bipolar")
    a = g.op("Add", [g.op("Mul", [a, g.c(0.1)]), g.c(-0.3)])
    y = g.dense(g.bipolar(a), np.array([[1.0, 1.0], [1.0, -1.0]]), "bipolar")
    proto = g.model(y, [1, 2])
    ir = import_qonnx(proto)
    assert ir.layers[1].threshold.tolist() == [3, 3]  # real arithmetic would give 4
    raw = np.array([[3, 0, 0, 0], [4, 0, 0, 0], [2, 0, 0, 0], [0, 1, 1, 1]], np.uint8).reshape(4, 4, 1, 1)
    res = compare(proto, ir, raw)
    assert (res.mismatches, res.ties, res.unexplained) == (0, 0, 0), res.summary_line()


def test_broadcasting_is_onnx_not_per_channel_guess():
    """On a (N, C, H, W) accumulator a Mul by a (C,) vector broadcasts along W in ONNX: not per-channel."""
    rng = np.random.default_rng(4)

    def conv_graph(mul_shape):
        g = G(in_shape=(1, 1, 4, 4))
        w = g.bipolar(g.c(rng.uniform(-1, 1, (4, 1, 3, 3))))
        a = g.op("Conv", ["x", w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        a = g.op("Mul", [a, g.c(np.array([1.0, -2.0, 0.5, 3.0]).reshape(mul_shape))])
        s = g.bipolar(a)
        y = g.dense(g.op("Flatten", [s], axis=1), rng.uniform(-1, 1, (2, 64)), "bipolar")
        return g.model(y, [1, 2])

    assert "not per-channel" in _error(conv_graph((4,)))
    proto = conv_graph((4, 1, 1))
    assert list(import_qonnx(proto).layers[1].direction) == [1, -1, 1, 1]
    check_against_qonnx(proto, inputs(24))


def test_unsigned_one_bit_activation_message():
    proto = mlp(np.random.default_rng(0))
    sign = next(n for n in proto.graph.node if n.op_type == "BipolarQuant" and n.input[0].startswith("t"))
    g = G()
    sign.CopyFrom(onnx.helper.make_node("Quant", [sign.input[0], g.c(1.0, "s1"), g.c(0.0, "z1"), g.c(1.0, "b1")],
                                        list(sign.output), name="bin01", domain=DOMAIN, signed=0, narrow=0,
                                        rounding_mode="ROUND"))
    proto.graph.initializer.extend(g.inits)
    assert "bin01" in _error(proto) and "BINARY" in _error(proto)


def test_constant_first_operand_of_mul_and_add():
    proto = mlp(np.random.default_rng(6))
    ref = import_qonnx(proto)
    for n in proto.graph.node:
        if n.op_type in ("Mul", "Add"):
            n.input[:] = [n.input[1], n.input[0]]
    raw = inputs()
    assert interpreter.run(import_qonnx(proto), raw).equals(interpreter.run(ref, raw))
