"""The dataflow description: dataflow.json (summary) and dataflow.onnx (FINN node types and attributes).

The ONNX graph uses FINN's hardware ops (domain finn.custom_op.fpgadataflow: MVAU, Thresholding,
FMPadding, ConvolutionInputGenerator, StreamingMaxPool, StreamingDataWidthConverter, LabelSelect) with
FINN's attribute names, NHWC tensors in float32 containers annotated with finn_datatype, and standard
ONNX Mul/Add/Reshape for the input normalization, flattening and the float output affine.
Thresholds are in FINN's semantics (out = +1 iff acc >= T): a direction -1 channel of an MVAU is written
as its negated weight column (every dnnc weight set is symmetric) and T = -t; a constant channel as an
always / never threshold; binaryXnorMode MVAUs get weights as {0, 1} and thresholds in the popcount
domain (dot >= t <=> popcount >= ceil((t + MW) / 2)). FINN cannot express "acc <= t" after a max-pool:
such channels keep T = t and are flagged by the extra attribute dnnc_direction (-1).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dnnc import __version__
from dnnc.dataflow.estimates import estimate
from dnnc.dataflow.stages import Stage
from dnnc.interchange.annotations import annotate
from dnnc.ir.model import IRModel
from dnnc.vocabulary import BINARY, BIPOLAR, FLOAT32, INT32, TERNARY, UINT8, dtype_bits, int_dtype

DOMAIN = "finn.custom_op.fpgadataflow"
IR_VERSION = 8
OPSET = 17

FINN_ATTRS = {
    "MVAU": ["PE", "SIMD", "MW", "MH", "resType", "ActVal", "inputDataType", "weightDataType",
             "outputDataType", "accDataType", "binaryXnorMode", "noActivation", "numInputVectors",
             "mem_mode", "ram_style", "ram_style_thresholds"],
    "Thresholding": ["PE", "NumChannels", "numSteps", "ActVal", "inputDataType", "weightDataType",
                     "outputDataType", "numInputVectors"],
    "ConvolutionInputGenerator": ["ConvKernelDim", "IFMChannels", "IFMDim", "OFMDim", "SIMD", "Stride",
                                  "Dilation", "depthwise", "inputDataType", "outputDataType"],
    "StreamingMaxPool": ["ImgDim", "PoolDim", "NumChannels", "PE", "CeilMode", "dataType"],
    "LabelSelect": ["Labels", "PE", "K", "inputDataType", "outputDataType"],
}


def _ceil_half(x: int) -> int:
    return -((-x) // 2)


def finn_thresholds(stage: Stage) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (MW, MH), thresholds (MH, 1), dnnc_direction (MH,)) in FINN's semantics for an MVAU or
    a standalone Thresholding stage (weights empty then). A k-bit activation gives (MH, T) thresholds the same
    way (a direction -1 row negated and re-sorted: count(acc <= t) = count(-acc >= -t)); its level is
    ActVal + count, FINN's MultiThreshold semantics. (The module docstring is dataflow.onnx's doc_string.)"""
    p = stage.params
    xnor = bool(stage.attrs.get("binaryXnorMode", 0))
    w = np.asarray(p["weight"]).astype(np.int64).T.copy() if "weight" in p else np.zeros((0, 0), np.int64)
    if "mthr" in p:  # k-bit: never XNOR (the input is k-bit levels)
        t, d = np.asarray(p["mthr"]).astype(np.int64).copy(), np.asarray(p["dir"]).astype(np.int64)
        flag = np.ones_like(d)
        for ch in np.flatnonzero(d < 0):
            if w.size:
                w[:, ch] = -w[:, ch]
                t[ch] = np.sort(-t[ch])
            else:
                flag[ch] = -1
        return w, t, flag
    if "thr" not in p:
        return (w + 1) // 2 if xnor else w, np.zeros((0, 1), np.int64), np.zeros(0, np.int64)
    t, d, c = (np.asarray(p[k]).astype(np.int64) for k in ("thr", "dir", "cst"))
    k = stage.attrs.get("MW", 0)
    lo, hi = (0, k) if xnor else (int(p.get("acc_min", t.min(initial=0))), int(p.get("acc_max", t.max(initial=0))))
    out = np.zeros_like(t)
    flag = np.ones_like(d)
    for ch in range(t.shape[0]):
        if d[ch] == 0:
            out[ch] = lo if c[ch] > 0 else hi + 1
        elif d[ch] > 0 or w.size == 0:
            out[ch] = _ceil_half(int(t[ch]) + k) if xnor else t[ch]
            flag[ch] = d[ch]
        else:
            w[:, ch] = -w[:, ch]
            out[ch] = _ceil_half(-int(t[ch]) + k) if xnor else -t[ch]
    if xnor:
        w = (w + 1) // 2
    return w, out.reshape(-1, 1), flag


def binary_producers(stages: list[Stage]) -> set[str]:
    """Stages whose bipolar output feeds an XNOR MVAU: FINN encodes them BINARY ({0, 1}, 1 = +1), as
    its ConvertBipolarMatMulToXnorPopcount does; the stream wires in between carry the same bits."""
    marked: set[str] = set()
    for i, s in enumerate(stages):
        if s.op == "MVAU" and s.attrs.get("binaryXnorMode"):
            j = i - 1
            while j >= 0 and stages[j].op in ("StreamingDataWidthConverter", "ConvolutionInputGenerator"):
                marked.add(stages[j].name)
                j -= 1
            if j >= 0:
                marked.add(stages[j].name)
    return marked


def _attr_values(stage: Stage, binary: bool = False) -> dict:
    a = dict(stage.attrs)
    if binary:
        for key in ("outputDataType", "dataType") + (
                ("inputDataType",) if stage.op == "ConvolutionInputGenerator" else ()):
            if key in a:
                a[key] = BINARY
    if stage.op == "StreamingDataWidthConverter":
        bits = dtype_bits(a["dataType"])
        return {"shape": [1, a["NumElems"]], "inWidth": a["inWidth"] * bits, "outWidth": a["outWidth"] * bits,
                "dataType": a["dataType"]}
    return {k: a[k] for k in FINN_ATTRS[stage.op] if k in a}


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.infos: list[onnx.ValueInfoProto] = []
        self.types: dict[str, str] = {}

    def tensor(self, name: str, shape: list[int], dtype: str) -> str:
        self.infos.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        self.types[name] = dtype
        return name

    def init(self, name: str, array: np.ndarray, dtype: str | None = None) -> str:
        self.inits.append(numpy_helper.from_array(array, name))
        if dtype:
            self.types[name] = dtype
        return name

    def hw(self, stage: Stage, inputs: list[str], output: str, binary: bool = False, **extra) -> None:
        res = estimate(stage)
        node = helper.make_node(
            stage.op, inputs, [output], name=stage.name, domain=DOMAIN, backend="fpgadataflow",
            preferred_impl_style="hls", cycles_estimate=stage.cycles(),
            res_estimate=f"{{'LUT': {res.lut}, 'BRAM_18K': {res.bram18}, 'DSP': {res.dsp}}}",
            **_attr_values(stage, binary), **extra)
        self.nodes.append(node)


def _shape_after(stage: Stage, prev: list[int]) -> list[int]:
    a = stage.attrs
    if stage.op == "MVAU":
        return ([1, *a["numInputVectors"][1:], a["MH"]] if len(a["numInputVectors"]) > 1 else [1, a["MH"]])
    if stage.op == "ConvolutionInputGenerator":
        kh, kw = a["ConvKernelDim"]
        return [1, *a["OFMDim"], kh * kw * a["IFMChannels"]]
    if stage.op == "StreamingMaxPool":
        k = a["PoolDim"][0]
        return [1, a["ImgDim"][0] // k, a["ImgDim"][1] // k, a["NumChannels"]]
    return prev


def dataflow_onnx(model: IRModel, d) -> onnx.ModelProto:
    """The FINN-style graph of the folded design (passes onnx.checker)."""
    b = _Builder()
    c, h, w = model.input_shape
    cur = b.tensor("global_in", [1, h, w, c], UINT8)
    graph_input = b.infos.pop()
    shape = [1, h, w, c]
    binary = binary_producers(d.stages)
    for s in d.stages:
        a = s.attrs
        if s.op == "InputConvert":
            mul = b.init(f"{s.name}_mul", np.array(a["mul"], np.float32))
            add = b.init(f"{s.name}_add", np.array(a["add"], np.float32))
            tmp = b.tensor(f"{s.name}_scaled", shape, int_dtype(min(0, a["mul"] * 255), max(0, a["mul"] * 255)))
            b.nodes.append(helper.make_node("Mul", [cur, mul], [tmp], name=f"{s.name}_Mul"))
            cur = b.tensor(f"{s.name}_out", shape, a["outputDataType"])
            b.nodes.append(helper.make_node("Add", [tmp, add], [cur], name=f"{s.name}_Add"))
            continue
        if s.op == "ConvolutionInputGenerator" and a["pad"] > 0:
            p = a["pad"]
            pad_dt = TERNARY if a["inputDataType"] == BIPOLAR else a["inputDataType"]
            shape = [1, shape[1] + 2 * p, shape[2] + 2 * p, shape[3]]
            out = b.tensor(f"{s.name}_padded", shape, pad_dt)
            b.nodes.append(helper.make_node(
                "FMPadding", [cur], [out], name=f"{s.name}_pad", domain=DOMAIN, backend="fpgadataflow",
                preferred_impl_style="hls", ImgDim=[a["ifm_h"], a["ifm_w"]], Padding=[p, p, p, p],
                NumChannels=a["IFMChannels"], SIMD=s.simd, inputDataType=a["inputDataType"],
                numInputVectors=1, cycles_estimate=0))
            cur = out
        if s.op == "MVAU" and len(shape) == 4 and len(a["numInputVectors"]) == 1:
            target = b.init(f"{s.name}_flat_shape", np.array([1, a["MW"]], np.int64))
            flat = b.tensor(f"{s.name}_flat", [1, a["MW"]], b.types[cur])
            b.nodes.append(helper.make_node("Reshape", [cur, target], [flat], name=f"{s.name}_Flatten"))
            cur, shape = flat, [1, a["MW"]]
        new_shape = _shape_after(s, shape)
        is_out = s.op == "MVAU" and a["noActivation"] and d.stages[-1].op == "LabelSelect" and not any(
            x.op == "MVAU" for x in d.stages[d.stages.index(s) + 1:])
        out_dt = BINARY if s.name in binary else a.get("outputDataType", a.get("dataType", INT32))
        if s.op == "LabelSelect":
            sc = b.init("affine_scale", s.params["scale"].astype(np.float32))
            bi = b.init("affine_bias", s.params["bias"].astype(np.float32))
            tmp = b.tensor("affine_scaled", shape, FLOAT32)
            b.nodes.append(helper.make_node("Mul", [cur, sc], [tmp], name="affine_Mul"))
            b.nodes.append(helper.make_node("Add", [tmp, bi], ["logits"], name="affine_Add"))
            b.hw(s, ["logits"], "class")
            continue
        xnor_out = is_out and a.get("binaryXnorMode")
        out = "acc" if is_out and not xnor_out else b.tensor(f"{s.name}_out", new_shape, out_dt)
        if s.op == "MVAU":
            wmat, thr, flag = finn_thresholds(s)
            inputs = [cur, b.init(f"{s.name}_weights", wmat.astype(np.float32), a["weightDataType"])]
            if thr.size:
                inputs.append(b.init(f"{s.name}_thresholds", thr.astype(np.float32), a["accDataType"]))
            b.hw(s, inputs, out, s.name in binary)
            if xnor_out:  # popcount P -> dot = 2 P - MW (FINN's ConvertBipolarMatMulToXnorPopcount)
                two = b.init(f"{s.name}_two", np.array(2, np.float32))
                neg = b.init(f"{s.name}_neg_mw", np.array(-a["MW"], np.float32))
                tmp = b.tensor(f"{s.name}_doubled", new_shape, int_dtype(0, 2 * a["MW"]))
                b.nodes.append(helper.make_node("Mul", [out, two], [tmp], name=f"{s.name}_Mul2"))
                b.nodes.append(helper.make_node("Add", [tmp, neg], ["acc"], name=f"{s.name}_AddNegMW"))
                out = "acc"
        elif s.op == "Thresholding":
            _, thr, flag = finn_thresholds(s)
            tname = b.init(f"{s.name}_thresholds", thr.astype(np.float32), a["inputDataType"])
            b.hw(s, [cur, tname], out, s.name in binary, dnnc_direction=[int(x) for x in flag])
        else:
            b.hw(s, [cur], out, s.name in binary)
        cur, shape = out, new_shape
    k = model.num_classes
    outputs = [helper.make_tensor_value_info("acc", TensorProto.FLOAT, [1, k]),
               helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, k]),
               helper.make_tensor_value_info("class", TensorProto.FLOAT, [1, 1])]
    graph = helper.make_graph(b.nodes, f"{model.name}_dataflow", [graph_input], outputs, b.inits,
                              value_info=b.infos)
    b.types.update({"acc": d.stages[-1].attrs["inputDataType"], "class": int_dtype(0, k - 1)})
    for name, dtype in b.types.items():
        annotate(graph, name, dtype)
    proto = helper.make_model(graph, producer_name="dnnc", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, 1)])
    proto.ir_version = IR_VERSION
    proto.doc_string = __doc__ or ""
    return proto


def dataflow_json(model: IRModel, target: dict, d) -> dict:
    """The summary a FINN user (or a script) reads: folding, cycles, resources, roll-up."""
    stages = []
    for s in d.stages:
        res = estimate(s)
        stages.append({
            "name": s.name, "op": s.op, "layer": s.layer, "attributes": _attr_values(s) if s.op in FINN_ATTRS
            or s.op == "StreamingDataWidthConverter" else dict(s.attrs),
            "PE": s.attrs.get("PE"), "SIMD": s.attrs.get("SIMD"), "cycles": s.cycles(), "ii": 1,
            "resources": {"LUT": res.lut, "BRAM_18K": res.bram18, "DSP": res.dsp, "model": res.model},
        })
    sm = d.summary
    return {
        "model": model.name, "generator": f"dnnc {__version__}", "part": target["part"],
        "clock_ns": sm.clock_ns, "input": {"shape_chw": list(model.input_shape), "dtype": UINT8,
                                           "stream_order": "HWC"},
        "folding": {"mode": d.fold.mode, "target_cycles": d.fold.target_cycles, "unmet": d.fold.unmet,
                    "config": {s.name: {k: s.attrs[k] for k in ("PE", "SIMD") if k in s.attrs}
                               for s in d.stages if "PE" in s.attrs or "SIMD" in s.attrs}},
        "stages": stages,
        "summary": {"bottleneck": sm.bottleneck, "max_cycles": sm.max_cycles, "fps": sm.fps,
                    "latency_cycles": sm.latency_cycles, "latency_us": sm.latency_us,
                    "LUT": sm.lut, "BRAM_18K": sm.bram18, "DSP": sm.dsp},
        "bit_packing": "bipolar lanes: bit 1 = +1, lane i = bit i % 64 of 64-bit word i / 64",
    }
