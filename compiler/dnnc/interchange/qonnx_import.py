"""QONNX import: lower the deployable subset of a QONNX graph (Brevitas, FINN, dnnc) into the dnnc IR.

The graph is walked along its one activation path. Constants (weights, scales, thresholds) are evaluated
on the side; weight quantizers become integer codes times a power-of-two scale (`qonnx_quant`). The
activation is always in one of three states:

  raw     value = s * (m * x + a)       x = raw uint8 input; the first Linear sums w * (m*x + a)
  bipolar value = s * y, y in {-1, +1}  after a sign (BipolarQuant, 1-bit Quant, MultiThreshold)
  levels  value = s * y, y in [b, b+T]  after a k-bit activation (2..4-bit Quant, MultiThreshold, T > 1)
  acc     value = chain(acc)            after MatMul/Gemm/Conv; Mul/Add/BN compose into `AffineChain`

A sign on an acc state becomes an integer `Threshold` (ties decided in real arithmetic), a k-bit
activation a `MultiThreshold` (by bisection on the file's own float32 chain and quantizer); the graph output
must be an exact float32 affine of the last accumulator (`OutputAffine`). Anything else raises a
one-line DnncError naming the node and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from dnnc.errors import DnncError
from dnnc.interchange import qonnx_float
from dnnc.interchange.qonnx_affine import AffineChain
from dnnc.interchange.qonnx_quant import (
    PASS_THROUGH,
    QONNX_DOMAINS,
    QUANT_OPS,
    ROUNDING,
    ConstEvaluator,
    attrs,
    check_pow2,
    is_pow2,
    node_label,
    quant_params,
    sign_params,
)
from dnnc.ir.input_map import byte_codes, parse_input_map
from dnnc.ir.model import ArgMax, IRModel, Linear, MaxPool, MultiThreshold, OutputAffine, Threshold
from dnnc.vocabulary import (
    BIPOLAR,
    FLOAT32,
    UINT8,
    WEIGHT_SETS,
    checked_out_size,
    dtype_range,
    int_dtype,
    weight_dtype,
)

FLATTEN = ("Flatten", "Reshape")


def is_qonnx(model: onnx.ModelProto) -> bool:
    """A QONNX file is recognized by nodes in a QONNX/FINN custom domain (also inside local functions)."""
    nodes = list(model.graph.node) + [n for f in model.functions for n in f.node]
    return any(n.domain in QONNX_DOMAINS for n in nodes)


def datatype_annotations(model: onnx.ModelProto) -> dict[str, str]:
    out = {}
    for ann in model.graph.quantization_annotation:
        for kv in ann.quant_parameter_tensor_names:
            if kv.key == "finn_datatype":
                out[ann.tensor_name] = kv.value
    return out


@dataclass
class _State:
    kind: str  # "raw" | "bipolar" | "levels" | "acc"
    shape: tuple[int, ...]  # without batch; conv tensors (C, H, W)
    flat: bool = False
    s: float = 1.0  # raw / bipolar scale
    m: int = 1
    a: int = 0
    chain: AffineChain | None = None
    meta: dict = field(default_factory=dict)


class _Importer:
    def __init__(self, model: onnx.ModelProto, name: str):
        if model.functions:
            from onnx import inliner

            model = inliner.inline_local_functions(model)
        self.g = model.graph
        self.name = name
        self.dtypes = datatype_annotations(model)
        self.ce = ConstEvaluator(self.g, self.dtypes)
        self.consts, self.producer = self.ce.consts, self.ce.producer
        self.const, self.weight = self.ce.const, self.ce.weight
        self.layers: list = []
        self.trace: dict = {"thresholds": {}}
        self.thr_meta: dict[str, dict] = {}  # what FoldThresholds records for `dnnc inspect`
        self.input_thresholds: np.ndarray | None = None
        self.input_map: str | None = None
        self._fold_shapes(model)

    def scalar_or_channel(self, node: onnx.NodeProto, v, st: _State, channel_axis_given: bool = False) -> np.ndarray:
        """A per-channel vector from an operand: a scalar, or (ONNX broadcasting) size C on axis 1 only.

        `channel_axis_given`: the op defines the operand as per-channel (BN parameters, Conv/Gemm bias).
        """
        v = np.asarray(v, np.float64)
        c = st.shape[0]
        if not np.all(np.isfinite(v)):
            raise DnncError(f"{node_label(node)}: constant operand is NaN or infinite")
        if v.size == 1:
            return np.full(c, float(v.ravel()[0]))
        if channel_axis_given:
            if v.size != c:
                raise DnncError(f"{node_label(node)}: {v.size} per-channel values for {c} channels")
            return v.ravel()
        full = (1, *st.shape)
        vs = (1,) * (len(full) - v.ndim) + tuple(v.shape)
        if len(vs) != len(full) or vs[1] != c or any(d != 1 for i, d in enumerate(vs) if i != 1):
            raise DnncError(f"{node_label(node)}: operand of shape {v.shape} is not per-channel for "
                            f"a tensor of shape {full}")
        return v.ravel()

    # ---- main walk -------------------------------------------------------------------------------
    def run(self) -> IRModel:
        out_name = self._main_output()
        needed = self._ancestors(out_name)
        dynamic = self._dynamic()
        inp = self.g.input[0].name if len(self.g.input) else ""
        st, cur = self._input_state(), inp
        for node in self.g.node:
            if id(node) not in needed:
                continue
            dyn = [i for i in node.input if i in dynamic]
            if not dyn or all(o in self.consts for o in node.output):  # e.g. Shape of a static tensor
                continue
            if dyn == [cur] and node.op_type in ("Mul", "Add") and len(node.input) == 2 and node.input[1] == cur:
                swapped = onnx.NodeProto()
                swapped.CopyFrom(node)
                swapped.input[:] = [node.input[1], node.input[0]]  # constant * x == x * constant
                node = swapped
            if dyn != [cur] or node.input[0] != cur:
                raise DnncError(f"{node_label(node)}: branching or multi-input activation graphs are not supported")
            if node.domain not in ("", "ai.onnx", *QONNX_DOMAINS):
                raise DnncError(f"{node_label(node)}: unknown op domain '{node.domain}'")
            if node.op_type in ("ArgMax", "TopK") and out_name in node.output:
                self._check_head(node, st)
                self.trace["class_tensor"] = out_name
                break
            st = self.step(node, st)
            cur = node.output[0]
        if st.kind != "acc":
            raise DnncError(f"graph output '{out_name}' is not the accumulator of a final MatMul/Gemm/Conv")
        k = st.shape[0]
        res = qonnx_float.output_steps(st.chain.steps, k)
        if isinstance(res, str):
            raise DnncError(f"graph output '{out_name}': {res}")
        scale, bias, post = res
        shape = (k,)
        self.layers.append(OutputAffine("out_affine", shape, shape, scale=scale, bias=bias, post=post))
        self.layers.append(ArgMax("argmax", shape, ()))
        in_shape = self.layers[0].in_shape
        self.trace["output"] = cur
        return IRModel(self.name, tuple(in_shape), self.layers, k, meta={"source_format": "qonnx",
                                                                         "qonnx": self.trace,
                                                                         "thresholds": self.thr_meta},
                       input_thresholds=self.input_thresholds, input_map=self.input_map,
                       byte_codes=None if self.input_map is None else
                       byte_codes(self.input_thresholds, parse_input_map(self.input_map)))

    def _check_head(self, node: onnx.NodeProto, st: _State) -> None:
        """The classifier head must pick the highest logit on axis 1 (TopK k = 1, largest; or ArgMax).
        A negative axis counts from the tensor's real rank: with trailing unit dims (BatchNorm1d's
        Unsqueeze) or spatial dims, axis -1 is not the class axis."""
        a = attrs(node)
        rank = 1 + len(st.shape) + int(st.meta.get("unit", 0))
        class_axes = (1, 1 - rank)
        if node.op_type == "TopK":
            k = np.asarray(self.const(node.input[1], node)).ravel()
            if k.size != 1 or int(k[0]) != 1 or not a.get("largest", 1) or a.get("axis", -1) not in class_axes:
                raise DnncError(f"{node_label(node)}: only TopK with k = 1, largest, on the class axis is supported")
            if node.output[0] == self._main_output() and len(node.output) > 1:
                raise DnncError(f"{node_label(node)}: the graph output is TopK's values; dnnc reproduces its indices")
        elif a.get("axis", 0) not in class_axes or a.get("select_last_index", 0):
            raise DnncError(f"{node_label(node)}: only ArgMax on the class axis, first index, is supported")

    def _main_output(self) -> str:
        """The output to reproduce: "logits" (dnnc's own files) or the graph's first output."""
        outs = [o.name for o in self.g.output]
        if not outs:
            raise DnncError("the QONNX graph has no outputs")
        return "logits" if "logits" in outs else outs[0]

    def _ancestors(self, name: str) -> set[int]:
        seen: set[int] = set()
        todo = [name]
        while todo:
            n = self.producer.get(todo.pop())
            if n is not None and id(n) not in seen:
                seen.add(id(n))
                todo.extend(i for i in n.input if i)
        return seen

    def _dynamic(self) -> set[str]:
        dyn = {i.name for i in self.g.input if i.name not in self.consts}
        for n in self.g.node:
            if any(i in dyn for i in n.input) and not all(o in self.consts for o in n.output):
                dyn.update(n.output)
        return dyn

    def _fold_shapes(self, model: onnx.ModelProto) -> None:
        """`Shape` of a statically shaped tensor is a constant (old exporters' flatten: Shape, Gather,
        Unsqueeze, Concat, Reshape); shapes come from ONNX shape inference."""
        shape_nodes = [n for n in self.g.node if n.op_type == "Shape"]
        if not shape_nodes:
            return
        try:
            inferred = onnx.shape_inference.infer_shapes(model).graph
        except Exception:  # noqa: BLE001 - an ill-formed graph is reported by the walk below
            return
        shapes = {}
        for vi in [*inferred.input, *inferred.value_info, *inferred.output]:
            dims = vi.type.tensor_type.shape.dim
            if dims and all(d.HasField("dim_value") for d in dims):
                shapes[vi.name] = [d.dim_value for d in dims]
        for n in shape_nodes:
            if n.input[0] not in shapes:
                raise DnncError(f"{node_label(n)}: the shape of '{n.input[0]}' is not static")
            dims = shapes[n.input[0]]
            a = attrs(n)
            self.consts[n.output[0]] = np.asarray(dims[a.get("start", 0):a.get("end", len(dims))], np.int64)

    def _input_state(self) -> _State:
        ins = [i for i in self.g.input if i.name not in self.consts]
        if len(ins) != 1:
            raise DnncError(f"the QONNX graph must have exactly one data input, found {len(ins)}")
        vi = ins[0]
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim][1:]
        if not dims or any(d <= 0 for d in dims):
            raise DnncError(f"graph input '{vi.name}' needs a static shape, got {dims}")
        shape = tuple(dims) if len(dims) == 3 else (int(np.prod(dims)), 1, 1)
        dt = self.dtypes.get(vi.name, FLOAT32)
        if dt == UINT8 and not self._quantized_in_graph(vi.name):
            return _State("raw", shape)
        if vi.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise DnncError(f"graph input '{vi.name}' has element type "
                            f"{onnx.TensorProto.DataType.Name(vi.type.tensor_type.elem_type)}; dnnc reads "
                            "float32 inputs (quantized in the graph) or ones annotated UINT8")
        return _State("float_input", shape, meta={"dtype": dt, "name": vi.name, "steps": []})

    def _quantized_in_graph(self, name: str) -> bool:
        """Does the input reach a quantizer before any linear layer (FINN: UINT8 pixels, Div 255, ...,
        MultiThreshold)? Then the file states its own byte mapping, x = p, and is imported as a float input."""
        cur = name
        for node in self.g.node:
            if cur not in node.input:
                continue
            if node.op_type in (*QUANT_OPS, "MultiThreshold"):
                return True
            if node.op_type in ("MatMul", "Gemm", "Conv") or not node.output:
                return False
            cur = node.output[0]
        return False

    def step(self, node: onnx.NodeProto, st: _State) -> _State:
        op = node.op_type
        if st.kind == "float_input":
            return self._input_quant(node, st)
        if op in PASS_THROUGH:
            return st
        if op in FLATTEN:
            return self._flatten(node, st)
        if op in ("Unsqueeze", "Squeeze"):
            return self._unit_dims(node, st)
        if st.meta.get("unit", 0) and op not in ("BatchNormalization", "Mul", "Add", "Sub", "Div"):
            raise DnncError(f"{node_label(node)}: {op} on a tensor with {st.meta['unit']} extra unit dimensions "
                            "is not supported (Squeeze them first)")
        if op == "Transpose":
            perm = attrs(node).get("perm")
            full = (1, *st.shape)
            kept = [p for p in perm if full[p] != 1]
            if kept != sorted(kept):
                raise DnncError(f"{node_label(node)}: a Transpose that reorders data is not supported")
            return st
        if op in ("MatMul", "Gemm", "Conv"):
            return self._linear(node, st)
        if op == "MaxPool":
            return self._maxpool(node, st)
        if st.kind == "acc":
            return self._acc_op(node, st)
        if op in ("Mul", "Div", "Add", "Sub"):
            return self._scalar_op(node, st)
        if op in (*QUANT_OPS, "MultiThreshold") and st.kind == "raw":
            raise DnncError(f"{node_label(node)}: quantizing or binarizing the raw input is not supported")
        raise DnncError(f"{node_label(node)}: op {op} is not supported here ({st.kind} activation)")

    def _input_quant(self, node: onnx.NodeProto, st: _State) -> _State:
        """Float ops on the float input, then its quantizer: raw codes = float32 thresholds on x."""
        op, steps = node.op_type, st.meta["steps"]
        if op in PASS_THROUGH:
            return st
        if op in FLATTEN:
            st.flat = True
            return st
        if op in ("Mul", "Div", "Add", "Sub"):
            v = np.asarray(self.const(node.input[1], node))
            if v.size != 1:
                raise DnncError(f"{node_label(node)}: a per-element {op} on the float input is not supported "
                                "(scalar input normalization only)")
            k = np.float32(v.ravel()[0])
            if not np.isfinite(k) or (op in ("Mul", "Div") and k == 0):
                raise DnncError(f"{node_label(node)}: input constant {k} must be finite and non-zero")
            steps.append({"Mul": ("mul", k), "Div": ("div", k), "Add": ("add", k), "Sub": ("add", -k)}[op])
            return st
        if op not in (*QUANT_OPS, "MultiThreshold"):
            raise DnncError(f"{node_label(node)}: op {op} on the float input is not supported (dnnc needs scalar "
                            "Mul/Div/Add/Sub, then a BipolarQuant, Quant or MultiThreshold)")
        if any(s_ in ("mul", "div") and v < 0 for s_, v in steps):
            neg = np.prod([np.sign(v) for s_, v in steps if s_ in ("mul", "div")])
            if neg < 0:
                raise DnncError(f"{node_label(node)}: a negative overall input scale is not supported")
        pre = [(s_, np.asarray([v], np.float32)) for s_, v in steps]

        def chain(x):
            return qonnx_float.apply_steps(pre, x, (1,))

        levels, level, (s, m, a) = self._quantizer_levels(node, chain)
        self.input_thresholds = qonnx_float.input_thresholds(level, levels)
        # the quantizer's output tensor holds s * (m * code + a): how the byte table is checked against the file
        self.trace["input"] = {"levels": levels, "steps": [(s_, float(v)) for s_, v in steps],
                               "tensor": node.output[0], "s": s, "m": m, "a": a, "dtype": st.meta["dtype"]}
        if st.meta["dtype"] == UINT8:
            self.input_map = "p"  # the file's input holds the bytes themselves
        return _State("raw", st.shape, flat=st.flat, s=s, m=m, a=a)

    def _quantizer_levels(self, node: onnx.NodeProto, chain):
        """(levels, level(x) -> 0..levels-1, (s, m, a)) of the input quantizer: its value is s * (m*r + a)."""
        op = node.op_type
        if op == "BipolarQuant":
            sc = np.asarray(self.const(node.input[1], node), np.float64)
            if sc.size != 1:
                raise DnncError(f"{node_label(node)}: per-element input scale is not supported")
            check_pow2(node, sc, "input scale")
            return 2, lambda x: (chain(x) >= 0).astype(np.int64), (float(sc.ravel()[0]), 2, -1)
        if op == "MultiThreshold":
            a = attrs(node)
            t = np.asarray(self.const(node.input[1], node), np.float32)
            if t.ndim != 2 or np.any(t != t[:1]) or t.shape[1] > 255:
                raise DnncError(f"{node_label(node)}: input thresholds must be the same for every channel "
                                "(at most 255)")
            tv = np.sort(t[0])
            osc, obias = float(a.get("out_scale", 1.0)), float(a.get("out_bias", 0.0))
            for mm in (1, 2):
                s, aa = osc / mm, obias / (osc / mm) if osc else 0.0
                if osc > 0 and is_pow2(s) and aa == int(aa):
                    break
            else:
                raise DnncError(f"{node_label(node)}: out_scale {osc:g} / out_bias {obias:g} are not a power of "
                                "two and an integer multiple of it")

            def lv(x):
                v = chain(x)
                return (v[..., None] >= tv).sum(axis=-1).astype(np.int64)

            return len(tv) + 1, lv, (s, mm, int(aa))
        p = quant_params(node, [None, *[self.const(i, node) for i in node.input[1:4]]])
        if np.asarray(p["scale"]).size != 1:
            raise DnncError(f"{node_label(node)}: per-channel input scale is not supported")
        if p["bits"] > 8:
            raise DnncError(f"{node_label(node)}: a {p['bits']}-bit input quantizer has more than 256 levels")
        check_pow2(node, p["scale"], "input scale")
        sc = np.float32(np.asarray(p["scale"]).ravel()[0])
        if p["bits"] == 1 and p["signed"]:
            return 2, lambda x: (chain(x) >= 0).astype(np.int64), (float(sc), 2, -1)
        lo, hi, rnd = p["lo"], p["hi"], ROUNDING[p["rounding"]]

        def lq(x):
            with np.errstate(all="ignore"):
                q = rnd(np.clip((chain(x) / sc).astype(np.float32), lo, hi))
            return np.nan_to_num(q, nan=lo).astype(np.int64) - lo

        return hi - lo + 1, lq, (float(sc), 1, lo)

    def _unit_dims(self, node: onnx.NodeProto, st: _State) -> _State:
        """Unsqueeze/Squeeze of trailing size-1 axes (BatchNorm1d exported as Unsqueeze, BN, Squeeze): the
        data and its channel axis stay where they are, so only the count of extra unit axes is tracked."""
        a = attrs(node)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = [int(v) for v in np.asarray(self.const(node.input[1], node)).ravel()]
        unit = st.meta.get("unit", 0)
        rank = 1 + len(st.shape) + unit
        if node.op_type == "Unsqueeze":
            out_rank = rank + len(axes or [])
            want = set(range(rank, out_rank))
        else:
            out_rank = rank - len(axes or [])
            want = set(range(out_rank, rank))
        got = {int(x) % max(rank if node.op_type == "Squeeze" else out_rank, 1) for x in (axes or [])}
        if not axes or got != want or out_rank < 1 + len(st.shape):
            raise DnncError(f"{node_label(node)}: only adding or removing trailing size-1 axes after the data "
                            f"axes is supported (axes {axes} on rank {rank})")
        st.meta = {**st.meta, "unit": out_rank - 1 - len(st.shape)}
        return st

    def _flatten(self, node: onnx.NodeProto, st: _State) -> _State:
        if node.op_type == "Flatten" and attrs(node).get("axis", 1) != 1:
            raise DnncError(f"{node_label(node)}: Flatten axis must be 1")
        if node.op_type == "Reshape":
            target = [int(d) for d in np.asarray(self.const(node.input[1], node)).ravel()]
            n = int(np.prod(st.shape))
            if len(target) != 2 or target[1] not in (-1, n) or target[0] not in (1, -1, 0):
                raise DnncError(f"{node_label(node)}: only a flatten to (N, {n}) is supported, got {target}")
        if st.kind == "acc" and any(d != 1 for d in st.shape[1:]):
            raise DnncError(f"{node_label(node)}: flattening before the sign activation is not supported")
        st.flat = True
        return st

    def _scalar_op(self, node: onnx.NodeProto, st: _State) -> _State:
        v = np.asarray(self.const(node.input[1], node), np.float64)
        if v.size != 1:
            raise DnncError(f"{node_label(node)}: per-channel {node.op_type} on a {st.kind} tensor is not supported")
        k = float(v.ravel()[0])
        if node.op_type in ("Mul", "Div"):
            k = 1.0 / k if node.op_type == "Div" and k != 0 else k
            if st.kind == "raw" and k == int(k) and k != 0 and not is_pow2(abs(k)):
                st.m, st.a = st.m * int(k), st.a * int(k)  # an integer input multiplier stays in u
                return st
            if not is_pow2(abs(k)) or (st.kind == "bipolar" and k < 0):
                raise DnncError(f"{node_label(node)}: scale {k:g} is not a positive power of two; "
                                "it cannot be folded exactly")
            st.s *= abs(k)
            st.m *= -1 if k < 0 else 1
            st.a *= -1 if k < 0 else 1
            return st
        if st.kind != "raw":
            raise DnncError(f"{node_label(node)}: adding to a bipolar activation is not supported")
        k = -k if node.op_type == "Sub" else k
        for shift in range(17):
            q = k / st.s * 2**shift
            if q == int(q):
                st.m, st.a, st.s = st.m * 2**shift, st.a * 2**shift + int(q), st.s / 2**shift
                if abs(st.m) > 2**15 or abs(st.a) > 2**23:
                    break
                return st
        raise DnncError(f"{node_label(node)}: input offset {k:g} is not a multiple of a power-of-two fraction "
                        "of the input scale; it cannot be folded exactly")

    def _linear(self, node: onnx.NodeProto, st: _State) -> _State:
        if st.kind == "acc":
            raise DnncError(f"{node_label(node)}: two linear layers without a sign activation between them")
        a = attrs(node)
        w = self.weight(node.input[1], node)
        bias = None
        if node.op_type == "Conv":
            if st.flat or len(st.shape) != 3:
                raise DnncError(f"{node_label(node)}: Conv needs a (C, H, W) input")
            ks = a.get("kernel_shape", list(w.codes.shape[2:]))
            strides, pads = a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0])
            if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])) or \
                    len(set(strides)) != 1 or len(set(pads)) != 1 or a.get("auto_pad", "NOTSET") != "NOTSET":
                raise DnncError(f"{node_label(node)}: only square stride, symmetric padding, group 1 and "
                                "dilation 1 are supported")
            codes, scale = w.codes, w.scale
            if codes.ndim != 4 or codes.shape[1] != st.shape[0] or list(ks) != list(codes.shape[2:]):
                raise DnncError(f"{node_label(node)}: weight {codes.shape} (kernel {list(ks)}) does not fit "
                                f"input {st.shape}")
            s, p = int(strides[0]), int(pads[0])
            _c, h, wd = st.shape
            oh, ow = (checked_out_size(node_label(node), n, k, s, p) for n, k in ((h, ks[0]), (wd, ks[1])))
            out_shape, kind = (codes.shape[0], oh, ow), "conv"
            if len(node.input) > 2 and node.input[2]:
                bias = np.asarray(self.const(node.input[2], node), np.float64)
        else:
            codes, scale = w.codes, w.scale
            if node.op_type == "Gemm":
                if a.get("transA", 0) or float(a.get("alpha", 1.0)) != 1.0 or float(a.get("beta", 1.0)) != 1.0:
                    raise DnncError(f"{node_label(node)}: Gemm with transA, alpha or beta != 1 is not supported")
                if len(node.input) > 2 and node.input[2]:
                    bias = np.asarray(self.const(node.input[2], node), np.float64)
                if not a.get("transB", 0):
                    codes, scale = codes.T, scale.T
            else:
                codes, scale = codes.T, scale.T  # MatMul x @ W: W is (in, out)
            if codes.ndim != 2 or codes.shape[1] != int(np.prod(st.shape)):
                raise DnncError(f"{node_label(node)}: weight shape {codes.shape[::-1]} does not match "
                                f"the input size {int(np.prod(st.shape))}")
            out_shape, kind, s, p = (codes.shape[0],), "dense", 1, 0
        per_out = scale.reshape(scale.shape[0], -1)
        if np.any(per_out != per_out[:, :1]):
            raise DnncError(f"{node_label(node)}: weight scale varies within an output channel")
        idx = len(self.layers)
        in_dtype = UINT8 if st.kind == "raw" else st.meta["dtype"] if st.kind == "levels" else BIPOLAR
        values, dtype = deployable_set(codes, w)
        layer = Linear(f"l{idx}_{kind}", tuple(st.shape), tuple(out_shape), kind=kind,
                       weight=codes.astype(np.int8), weight_values=values, weight_dtype=dtype,
                       stride=s, pad=p, in_dtype=in_dtype, in_mul=st.m if st.kind == "raw" else 1,
                       in_add=st.a if st.kind == "raw" else 0)
        self.layers.append(layer)
        chain = AffineChain(out_shape[0], per_out[:, 0] * st.s)
        self.trace["acc_tensor"] = node.output[0]  # the reference's float value of acc * scale (exact)
        self.trace["acc_scale"] = (per_out[:, 0] * st.s).tolist()
        self.trace.pop("acc_bias", None)
        if bias is not None:
            bv = self.scalar_or_channel(node, bias, _State("acc", out_shape), True)
            chain.add(bv)
            self.trace["acc_bias"] = np.asarray(bv, np.float32).tolist()  # inside the reference's tensor
        return _State("acc", tuple(out_shape), chain=chain)

    def _acc_op(self, node: onnx.NodeProto, st: _State) -> _State:
        op = node.op_type
        if op in ("Mul", "Div", "Add", "Sub"):
            v = self.scalar_or_channel(node, self.const(node.input[1], node), st)
            if op == "Div":
                if np.any(v == 0):  # float division gives inf/NaN there, not the 0 the chain would assume
                    raise DnncError(f"{node_label(node)}: division by zero on channel {int(np.argmax(v == 0))}")
                st.chain.div(v)
            elif op == "Mul":
                st.chain.mul(v)
            else:
                st.chain.add(-v if op == "Sub" else v)
            return st
        if op in ("Relu", "Clip"):  # ReLU / HardTanh before a quantizer: a monotone float32 step of the chain
            lo, hi = 0.0, np.inf
            if op == "Clip":
                a = attrs(node)
                lo, hi = float(a.get("min", -np.inf)), float(a.get("max", np.inf))
                for k, name in enumerate(node.input[1:3]):
                    if name:
                        v = float(np.asarray(self.const(name, node)).ravel()[0])
                        lo, hi = (v, hi) if k == 0 else (lo, v)
            st.chain.clip(lo, hi)
            return st
        if op == "BatchNormalization":
            g, b, m, var = (self.scalar_or_channel(node, self.const(i, node), st, True) for i in node.input[1:5])
            eps = float(attrs(node).get("epsilon", 1e-5))
            if not np.all(var + eps > 0):
                raise DnncError(f"{node_label(node)}: variance + epsilon must be positive")
            st.chain.batchnorm(g, b, m, var, eps)
            return st
        if op in ("BipolarQuant", "Quant") and node.output[0] == self._main_output() and \
                activation_levels(node, self.const, st.shape[0]) is None:
            _, s = sign_params(node, self.const, st.shape[0])
            st.chain.bipolar(np.full(st.shape[0], s))  # a one-bit graph output: the sign of the last acc
            return st
        if op in QUANT_OPS or op == "MultiThreshold":
            act = activation_levels(node, self.const, st.shape[0])
            return self._sign(node, st) if act is None else self._multi(node, st, *act)
        raise DnncError(f"{node_label(node)}: op {op} is not supported after a linear layer")

    def _sign(self, node: onnx.NodeProto, st: _State) -> _State:
        tvec, s = sign_params(node, self.const, st.shape[0])
        direction, thr, const = qonnx_float.decide(st.chain.steps, np.asarray(tvec, np.float32), st.shape[0])
        ma, mb = st.chain.margin_params(tvec)
        name = f"l{len(self.layers)}_sign"
        self.layers.append(Threshold(name, st.shape, st.shape, direction=direction, threshold=thr, const=const))
        self.trace["thresholds"][name] = {"tensor": node.output[0], "scale": s, "a": ma, "b": mb}
        self.thr_meta[name] = {"gamma_negative": int((ma < 0).sum()), "gamma_zero": int((ma == 0).sum()),
                               "saturated": 0}
        return _State("bipolar", st.shape, s=s)

    def _multi(self, node: onnx.NodeProto, st: _State, level, levels: int, s: float, bias: int) -> _State:
        """A k-bit activation: level(chain(acc)) in 0..levels-1 as integer thresholds, value s * (bias + level)."""
        c = st.shape[0]
        direction, thr = qonnx_float.decide_levels(st.chain.steps, level, levels, c)
        out_dtype = int_dtype(bias, bias + levels - 1)
        name = f"l{len(self.layers)}_act"
        self.layers.append(MultiThreshold(name, st.shape, st.shape, direction=direction, thresholds=thr,
                                          out_bias=bias, out_dtype=out_dtype))
        a = np.array([float(x) for x in st.chain.a])
        self.thr_meta[name] = {"gamma_negative": int((a < 0).sum()), "gamma_zero": int((a == 0).sum()),
                               "saturated": int((np.abs(thr) >= qonnx_float.ACC_LIMIT).all(axis=1).sum()
                                                - (a == 0).sum()), "levels": levels}
        return _State("levels", st.shape, s=s, meta={"dtype": out_dtype})

    def _maxpool(self, node: onnx.NodeProto, st: _State) -> _State:
        a = attrs(node)
        ks, strides = a.get("kernel_shape", []), a.get("strides", a.get("kernel_shape", []))
        if len(set(ks)) != 1 or len(set(strides)) != 1 or any(a.get("pads", [0])) or a.get("ceil_mode", 0) \
                or any(d != 1 for d in a.get("dilations", [1])) or len(st.shape) != 3 or st.flat:
            raise DnncError(f"{node_label(node)}: only square, unpadded, floor-mode 2-D max-pooling is supported")
        k, s = int(ks[0]), int(strides[0])
        c, h, w = st.shape
        out = (c, checked_out_size(node_label(node), h, k, s), checked_out_size(node_label(node), w, k, s))
        pool = MaxPool(f"l{len(self.layers)}_pool", st.shape, out, k=k, stride=s)
        if st.kind == "acc":
            if np.any(qonnx_float.directions(st.chain.steps, st.shape[0]) < 0):
                raise DnncError(f"{node_label(node)}: max-pooling after a negative scale is not supported")
            self.layers.append(pool)
            return _State("acc", out, chain=st.chain)
        if st.kind == "bipolar" and isinstance(self.layers[-1], Threshold):
            return self._pool_before_sign(node, pool, st, out)
        if st.kind == "levels" and isinstance(self.layers[-1], MultiThreshold):
            return self._pool_before_levels(node, pool, st, out)
        raise DnncError(f"{node_label(node)}: MaxPool on the raw input is not supported")

    def _flip_negative_channels(self, node, thresholds: np.ndarray) -> np.ndarray:
        """Channels that count `acc <= t` become `-acc >= -t` (weights negated), so that a max-pool can move
        before the threshold layer (the last layer; the linear one before it). Returns the flipped mask."""
        thr, lin = self.layers[-1], self.layers[-2]
        if not isinstance(lin, Linear):
            raise DnncError(f"{node_label(node)}: two max-pools in a row are not supported")
        neg = thr.direction < 0
        if neg.any():
            if tuple(sorted(-v for v in lin.weight_values)) != tuple(lin.weight_values):
                raise DnncError(f"{node_label(node)}: max-pool after a negative-gamma channel needs a "
                                f"symmetric weight set, not {lin.weight_dtype}")
            lin.weight[neg] = -lin.weight[neg]
            thresholds[neg] = -thresholds[neg]
            thr.direction[neg] = 1
        return neg

    def _pool_before_sign(self, node, pool: MaxPool, st: _State, out) -> _State:
        """max(sign(v(acc))) = sign(v(max acc)) when v increases: move the pool before the threshold."""
        thr = self.layers[-1]
        neg = self._flip_negative_channels(node, thr.threshold)
        if neg.any():
            margin = self.trace["thresholds"][thr.name]
            margin["a"][neg] = -margin["a"][neg]
        old, idx = thr.name, len(self.layers) - 1
        pool.name, thr.name = f"l{idx}_pool", f"l{idx + 1}_sign"
        info = self.trace["thresholds"].pop(old)
        self.thr_meta[thr.name] = self.thr_meta.pop(old)
        info["tensor"] = node.output[0]
        self.trace["thresholds"][thr.name] = info
        thr.in_shape = thr.out_shape = out
        self.layers[-1:] = [pool, thr]
        return _State("bipolar", out, s=st.s)

    def _pool_before_levels(self, node, pool: MaxPool, st: _State, out) -> _State:
        """max(count(acc)) = count(max acc) when every channel counts `acc >= t`: negative-direction channels
        are flipped first (their weights negated, acc <= t becoming -acc >= -t), then the pool moves before."""
        thr = self.layers[-1]
        self._flip_negative_channels(node, thr.thresholds)
        idx = len(self.layers) - 1
        old = thr.name
        pool.name, thr.name = f"l{idx}_pool", f"l{idx + 1}_act"
        self.thr_meta[thr.name] = self.thr_meta.pop(old)
        thr.in_shape = thr.out_shape = out
        self.layers[-1:] = [pool, thr]
        return _State("levels", out, s=st.s, meta=st.meta)


def activation_levels(node: onnx.NodeProto, const, channels: int):
    """(level(v) -> 0..L-1 per channel, L, s, bias) of a k-bit activation on float32 v, whose value is
    s * (bias + level); None for a sign (one threshold: `sign_params`). Why: the level function is the
    file's own quantizer in float32, so the thresholds found on it tie exactly as the reference."""
    op, a = node.op_type, attrs(node)
    if op == "BipolarQuant":
        return None
    if op == "MultiThreshold":
        t = np.asarray(const(node.input[1], node), np.float32)
        if t.ndim != 2 or t.shape[1] == 1 or a.get("out_dtype") == BIPOLAR:
            return None
        if not np.all(np.isfinite(t)) or t.shape[0] not in (1, channels) or t.shape[1] > 15:
            raise DnncError(f"{node_label(node)}: thresholds of shape {t.shape} must be finite, 1 or {channels} "
                            "rows of at most 15 (a 1- to 4-bit activation)")
        if a.get("data_layout", "NCHW") not in ("NCHW", "NC"):
            raise DnncError(f"{node_label(node)}: data_layout {a.get('data_layout')} is not supported")
        osc, obias = float(a.get("out_scale", 1.0)), float(a.get("out_bias", 0.0))
        if not is_pow2(osc) or obias / osc != int(obias / osc):
            raise DnncError(f"{node_label(node)}: out_scale {osc:g} must be a positive power of two and out_bias "
                            f"{obias:g} an integer multiple of it")
        tt = np.broadcast_to(t, (channels, t.shape[1]))

        def level_mt(v: np.ndarray) -> np.ndarray:
            return (v[..., None] >= tt).sum(axis=-1).astype(np.int64)

        return level_mt, t.shape[1] + 1, osc, int(obias / osc)
    p = quant_params(node, [None, *[const(i, node) for i in node.input[1:4]]])
    if p["bits"] == 1:
        return None
    if p["bits"] > 4:
        raise DnncError(f"{node_label(node)}: {p['bits']}-bit activations are not supported (1 to 4 bits are)")
    check_pow2(node, p["scale"], "activation scale")
    if np.asarray(p["scale"]).size != 1:
        raise DnncError(f"{node_label(node)}: per-channel activation scale is not supported")
    sc = np.float32(np.asarray(p["scale"]).ravel()[0])
    lo, hi, rnd = p["lo"], p["hi"], ROUNDING[p["rounding"]]

    def level_q(v: np.ndarray) -> np.ndarray:  # qonnx: v / scale, clamp, round (zero point 0)
        with np.errstate(all="ignore"):
            q = rnd(np.clip((np.asarray(v, np.float32) / sc).astype(np.float32), lo, hi))
        return np.nan_to_num(q, nan=lo).astype(np.int64) - lo

    return level_q, hi - lo + 1, float(sc), lo


def deployable_set(codes: np.ndarray, w) -> tuple[tuple[int, ...], str]:
    """The quantizer's set if dnnc's C backends pack it, else the smallest such set holding every code
    used (e.g. INT2 {-2..1} weights within quinary {-2..2}); else the quantizer's full range."""
    sets = tuple(codes for codes, _ in WEIGHT_SETS.values())
    if tuple(w.values) in sets:
        return tuple(w.values), w.dtype
    used = set(np.unique(codes).tolist())
    for vals in sets:
        if used <= set(vals):
            return vals, weight_dtype(vals)
    return tuple(w.values), w.dtype


def check_annotated_initializers(model: onnx.ModelProto) -> None:
    """An initializer holds only values of its finn_datatype: qonnx's executor (the reference for this file)
    rounds any other value before use (with a warning), the importer would read it as written, so such a
    file contradicts itself and is refused."""
    inits = {t.name: t for t in model.graph.initializer}
    for tensor, dtype in datatype_annotations(model).items():
        rng = dtype_range(dtype)
        if tensor not in inits or rng is None or inits[tensor].data_type == onnx.TensorProto.STRING:
            continue
        a = numpy_helper.to_array(inits[tensor]).astype(np.float64, copy=False)
        ok = np.isfinite(a) & (a == np.round(a)) & (a >= rng[0]) & (a <= rng[1])
        if dtype == BIPOLAR:
            ok &= a != 0
        if not ok.all():
            raise DnncError(f"initializer '{tensor}': value {a[~ok].flat[0]:g} is not a {dtype} value (its "
                            f"finn_datatype annotation; qonnx's executor would round it)")


def import_qonnx(model: onnx.ModelProto, name: str = "model") -> IRModel:
    """Lower a QONNX ModelProto into the dnnc IR (integer thresholds already decided); DnncError else."""
    check_annotated_initializers(model)
    safe = re.sub(r"\W", "_", name) or "model"
    try:
        return _Importer(model, safe if not safe[0].isdigit() else f"m_{safe}").run()
    except (KeyError, IndexError, ValueError, TypeError, ArithmeticError, RuntimeError) as exc:
        raise DnncError(f"malformed QONNX graph: {type(exc).__name__}: {' '.join(str(exc).split())}") from None


def load_qonnx(model: onnx.ModelProto, name: str = "model") -> tuple[onnx.ModelProto, IRModel]:
    """(deployment ONNX, imported IR) for a QONNX file: the deployment ONNX computes exactly what the
    imported IR computes, in standard ops, so the rest of dnnc (passes, verify) treats it like its own."""
    from dnnc.interchange.onnx_writer import ir_to_onnx

    ir = import_qonnx(model, name)
    return ir_to_onnx(ir, doc="imported from QONNX"), ir
