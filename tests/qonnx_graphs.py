"""Hand-built QONNX graphs for the import tests (onnx.helper only: independent of dnnc's writers)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DOMAIN = "qonnx.custom_op.general"


def annotate(graph: onnx.GraphProto, tensor: str, dtype: str) -> None:
    ann = onnx.TensorAnnotation(tensor_name=tensor)
    ann.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key="finn_datatype", value=dtype))
    graph.quantization_annotation.append(ann)


class G:
    """A tiny builder: nodes, initializers, a UINT8-annotated float input."""

    def __init__(self, in_shape=(1, 1, 4, 4), domain: str = DOMAIN):
        self.nodes: list = []
        self.inits: list = []
        self.in_shape = in_shape
        self.domain = domain
        self.n = 0

    def c(self, value, name=None) -> str:
        self.n += 1
        name = name or f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def op(self, op: str, inputs: list[str], custom: bool = False, **attrs) -> str:
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{self.n}",
                                           domain=self.domain if custom else "", **attrs))
        return out

    def quant(self, x: str, scale, bits: int, signed=1, narrow=1, mode="ROUND") -> str:
        return self.op("Quant", [x, self.c(scale), self.c(0.0), self.c(float(bits))], custom=True,
                       signed=signed, narrow=narrow, rounding_mode=mode)

    def bipolar(self, x: str, scale=1.0) -> str:
        return self.op("BipolarQuant", [x, self.c(scale)], custom=True)

    def dense(self, x: str, w: np.ndarray, quant: str = "bipolar", scale=1.0, **qa) -> str:
        wt = self.c(w)
        wq = self.bipolar(wt, scale) if quant == "bipolar" else self.quant(wt, scale, **qa)
        return self.op("MatMul", [x, self.op("Transpose", [wq], perm=[1, 0])])

    def bn(self, x: str, gamma, beta, mean, var, eps=1e-5) -> str:
        return self.op("BatchNormalization", [x, self.c(gamma), self.c(beta), self.c(mean), self.c(var)],
                       epsilon=eps)

    def model(self, out: str, out_shape, annotate_input: bool = True) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                               list(self.in_shape))],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, list(out_shape))],
                              initializer=self.inits)
        if annotate_input:
            annotate(g, "x", "UINT8")
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11), helper.make_opsetid(DOMAIN, 1)])
        m.ir_version = 8
        return m


def mlp(rng: np.random.Generator, hidden: int = 8, classes: int = 3, weight_quant: str = "bipolar",
        bits: int = 2, narrow: int = 1, gamma=None, scale=1.0, sign: str = "bipolar") -> onnx.ModelProto:
    """x(1,1,4,4) -> Mul(1/128), Sub(255/256) -> Flatten -> dense -> BN -> sign -> dense + bias -> Mul(1/4)."""
    g = G()
    x = g.op("Sub", [g.op("Mul", ["x", g.c(1 / 128)]), g.c(255 / 256)])
    x = g.op("Flatten", [x], axis=1)
    w1 = rng.uniform(-1, 1, (hidden, 16))
    kw = {} if weight_quant == "bipolar" else {"bits": bits, "narrow": narrow}
    a = g.dense(x, w1, weight_quant, scale, **kw)
    gamma = rng.uniform(-1, 1, hidden) if gamma is None else np.asarray(gamma, np.float64)
    a = g.bn(a, gamma, rng.uniform(-1, 1, hidden), rng.uniform(-2, 2, hidden), rng.uniform(0.5, 4, hidden))
    if sign == "bipolar":
        s = g.bipolar(a)
    else:
        s = g.op("MultiThreshold", [a, g.c(np.zeros((hidden, 1)))], custom=True, out_dtype="BIPOLAR",
                 out_scale=2.0, out_bias=-1.0)
    w2 = rng.uniform(-1, 1, (classes, hidden))
    y = g.dense(s, w2, weight_quant, scale, **kw)
    y = g.op("Add", [y, g.c(rng.uniform(-1, 1, classes))])
    y = g.op("Mul", [y, g.c(0.25)])
    return g.model(y, [1, classes])


def _skewed_bn(rng: np.random.Generator, acc: np.ndarray, beta_mean: float):
    """BN parameters from real accumulators (so the activation uses every level), gamma < 0 on channels
    0-2 and gamma = 0 on channel 3 (the direction -1 and constant cases)."""
    c = acc.shape[1]
    gamma = rng.uniform(0.5, 1.5, c)
    gamma[:3] *= -1
    gamma[3] = 0.0
    beta = beta_mean + rng.normal(0, 0.3, c)
    return gamma, beta, acc.mean(axis=0), acc.var(axis=0) + 1.0


def unsw_mlp(rng: np.random.Generator, inputs: int = 600, hidden: int = 64, act_scale: float = 0.5,
             wscale: float = 0.5, wbits: int = 2, narrow: int = 0) -> onnx.ModelProto:
    """The UNSW-NB15 W2A2 layout (qonnx zoo): a (1, inputs) BIPOLAR-annotated input, Add 1, Div 2, 2-bit
    unsigned Quant; 3 x (Gemm with bias and INT2-quantized weights, BatchNormalization, Relu, 2-bit unsigned
    Quant); a last Gemm with bias, then BipolarQuant: the graph output is one bit."""
    g = G(in_shape=(1, inputs))
    x = g.op("Div", [g.op("Add", ["x", g.c(1.0)]), g.c(2.0)])
    x = g.quant(x, 1.0, 2, signed=0, narrow=0)
    sample = rng.integers(0, 2, (256, inputs)).astype(np.float64)  # what the quantized input holds: 0 / 1
    sizes = [inputs, hidden, hidden, hidden, 1]
    for i in range(4):
        w = rng.uniform(-1, 1, (sizes[i + 1], sizes[i]))
        wq = g.quant(g.c(w), wscale, wbits, signed=1, narrow=narrow)
        b = rng.normal(0, 0.5, sizes[i + 1])
        x = g.op("Gemm", [x, wq, g.c(b)], transB=1)
        codes = np.clip(np.round(w / wscale), narrow - 2 ** (wbits - 1), 2 ** (wbits - 1) - 1) * wscale
        acc = sample @ codes.T + b
        if i == 3:
            x = g.bipolar(x)
            break
        gm, bt, mu, var = _skewed_bn(rng, acc, 2 * act_scale)
        x = g.bn(x, gm, bt, mu, var)
        x = g.op("Relu", [x])
        x = g.quant(x, act_scale, 2, signed=0, narrow=0)
        y = np.maximum(gm * (acc - mu) / np.sqrt(var + 1e-5) + bt, 0)
        sample = np.clip(np.round(y / act_scale), 0, 3) * act_scale
    m = g.model(x, [1, 1], annotate_input=False)
    annotate(m.graph, "x", "BIPOLAR")
    return m


def finn_multithreshold(rng: np.random.Generator, hidden: int = 40, classes: int = 5) -> onnx.ModelProto:
    """FINN-ONNX after streamlining, k-bit: UINT8 input (1,1,6,6), Mul 1/128, Sub 1, Flatten; MatMul with
    BIPOLAR-annotated weights, a per-channel Mul (negative on channels 0-2, zero on 3), MultiThreshold with
    3 float thresholds per channel (integers among them: ties at acc == t), out_dtype INT2 (out_bias -2);
    MatMul with INT2-annotated weights, MultiThreshold UINT2 (out_scale 0.5); MatMul, Mul: the logits."""
    g = G(in_shape=(1, 1, 6, 6))
    x = g.op("Sub", [g.op("Mul", ["x", g.c(1 / 128)]), g.c(1.0)])
    x = g.op("Flatten", [x], axis=1)
    anns = []

    def matmul(x, w, dt):
        name = g.c(w)
        anns.append((name, dt))
        return g.op("MatMul", [x, name])

    def thresholds(lo, hi, c):
        t = np.sort(rng.uniform(lo, hi, (c, 3)), axis=1)
        t[::2] = np.round(t[::2])  # exact integers on every other channel: acc lands on them
        return np.sort(t, axis=1)

    w1 = np.where(rng.random((36, hidden)) < 0.5, -1.0, 1.0)
    x = matmul(x, w1, "BIPOLAR")
    mul = rng.choice([0.5, 1.0, 2.0], hidden)
    mul[:3] *= -1
    mul[3] = 0.0
    x = g.op("Mul", [x, g.c(mul.reshape(1, -1))])
    x = g.op("MultiThreshold", [x, g.c(thresholds(-6, 6, hidden))], custom=True, out_dtype="INT2",
             out_scale=1.0, out_bias=-2.0)
    w2 = rng.integers(-2, 2, (hidden, hidden)).astype(np.float64)
    x = matmul(x, w2, "INT2")
    x = g.op("MultiThreshold", [x, g.c(thresholds(-15, 15, hidden))], custom=True, out_dtype="UINT2",
             out_scale=0.5, out_bias=0.0)
    x = matmul(x, np.where(rng.random((hidden, classes)) < 0.5, -1.0, 1.0), "BIPOLAR")
    x = g.op("Mul", [x, g.c(0.125)])
    m = g.model(x, [1, classes])
    for name, dt in anns:
        annotate(m.graph, name, dt)
    return m


def kbit_cnn(rng: np.random.Generator, ch: int = 6) -> onnx.ModelProto:
    """A small CNV-like net: UINT8 (1,2,8,8) input, Mul 1/128, Sub 1; Conv 3x3 pad 1 (ternary), BN, 2-bit
    signed narrow Quant, MaxPool 2; Conv 3x3 (INT2 weights), BN, Quant; Flatten, MatMul, Mul. BN skewed."""
    g = G(in_shape=(1, 2, 8, 8))
    x = g.op("Sub", [g.op("Mul", ["x", g.c(1 / 128)]), g.c(1.0)])

    def conv(x, cin, cout, pad, bits, narrow):
        w = g.quant(g.c(rng.uniform(-1, 1, (cout, cin, 3, 3))), 0.5 if not narrow else 1.0, bits, narrow=narrow)
        return g.op("Conv", [x, w], kernel_shape=[3, 3], pads=[pad] * 4, strides=[1, 1])

    def bn_act(x, c, spread):
        gamma = rng.uniform(0.5, 1.5, c)
        gamma[:2] *= -1
        gamma[2] = 0.0
        x = g.bn(x, gamma, rng.normal(0, 0.3, c), rng.normal(0, 1, c), np.full(c, spread))
        return g.quant(x, 1.0, 2, signed=1, narrow=1)

    x = bn_act(conv(x, 2, ch, 1, 2, 1), ch, 4.0)
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = bn_act(conv(x, ch, ch + 1, 0, 2, 0), ch + 1, 9.0)
    x = g.op("Flatten", [x], axis=1)
    x = g.dense(x, rng.uniform(-1, 1, (4, (ch + 1) * 4)), "quant", bits=2, narrow=1)
    x = g.op("Mul", [x, g.c(0.25)])
    return g.model(x, [1, 4])
