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
