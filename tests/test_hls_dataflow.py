"""The dataflow description: dataflow.onnx passes onnx.checker and, executed with FINN's node semantics
(a small numpy executor written here from FINN's documented behaviour), equals the IR interpreter;
dataflow.json and report.md agree with the design's estimates; compile output is deterministic."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from dnnc import dataflow
from dnnc.backends import hls
from dnnc.frontend import from_net
from dnnc.ir import interpreter
from dnnc.targets import load_target
from dnnc.verify.inputs import make_inputs
from models import edge_models
from onnx import numpy_helper

EDGE = list(edge_models())


def _attrs(node: onnx.NodeProto) -> dict:
    values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}


def run_finn_graph(proto: onnx.ModelProto, raw: np.ndarray) -> dict[str, np.ndarray]:
    """FINN semantics: MVAU acc = x @ W (XNOR mode: popcount of matches of {0,1} inputs and weights),
    activation out = count(acc >= T) (BIPOLAR: 2 * count - 1); ConvolutionInputGenerator emits windows in
    (kh, kw, c) order; FMPadding pads with 0; LabelSelect = TopK(1), ties to the lowest index."""
    t = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    dtypes = {a.tensor_name: a.quant_parameter_tensor_names[0].value for a in proto.graph.quantization_annotation}
    t["global_in"] = raw.transpose(0, 2, 3, 1).astype(np.float64)
    n = raw.shape[0]
    for node in proto.graph.node:
        a = _attrs(node)
        x = t[node.input[0]]
        op = node.op_type
        if op in ("Mul", "Add"):
            y, c = x.astype(np.float32), t[node.input[1]].astype(np.float32)
            out = (y * c if op == "Mul" else y + c).astype(np.float32)
        elif op == "Reshape":
            out = x.reshape(n, -1)
        elif op == "FMPadding":
            p = a["Padding"]
            out = np.pad(x, ((0, 0), (p[0], p[2]), (p[1], p[3]), (0, 0)))
        elif op == "ConvolutionInputGenerator":
            (kh, kw), (oh, ow), s = a["ConvKernelDim"], a["OFMDim"], a["Stride"][0]
            cols = [x[:, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s, :]
                    for ky in range(kh) for kx in range(kw)]
            out = np.concatenate(cols, axis=-1)
        elif op == "MVAU":
            w = t[node.input[1]].astype(np.float64)
            acc = x @ w + (1 - x) @ (1 - w) if a["binaryXnorMode"] else x @ w
            out = acc if a["noActivation"] else _activate(acc, t[node.input[2]], None, a["outputDataType"],
                                                          a.get("ActVal", 0))
        elif op == "Thresholding":
            out = _activate(x, t[node.input[1]], a.get("dnnc_direction"), a["outputDataType"], a.get("ActVal", 0))
        elif op == "StreamingMaxPool":
            k = a["PoolDim"][0]
            h, w_ = x.shape[1] // k * k, x.shape[2] // k * k
            out = x[:, :h, :w_].reshape(n, h // k, k, w_ // k, k, -1).max(axis=(2, 4))
        elif op == "StreamingDataWidthConverter":
            out = x
        elif op == "LabelSelect":
            out = np.argmax(x, axis=-1).reshape(n, 1)
        else:
            raise AssertionError(f"unexpected node {op}")
        if node.domain:
            assert node.domain == "finn.custom_op.fpgadataflow" and a["backend"] == "fpgadataflow"
        t[node.output[0]] = out
    assert dtypes["global_in"] == "UINT8"
    return t


def _activate(acc, thr, direction, out_dt, act_val=0):
    """FINN MultiThreshold: ActVal + count(acc >= T) over a channel's thresholds (BIPOLAR: 2 * count - 1)."""
    a = acc[..., None]
    plus = a >= thr
    if direction is not None:
        neg = (np.asarray(direction) < 0)[:, None]
        plus = np.where(neg, a <= thr, plus)
    count = plus.sum(axis=-1).astype(np.float64)
    return 2 * count - 1 if out_dt == "BIPOLAR" else act_val + count


@pytest.mark.parametrize("name,net", EDGE, ids=[n for n, _ in EDGE])
def test_description_executes_like_the_interpreter(name, net, tmp_path):
    loaded = from_net(net, name.replace("-", "_"))
    target = dict(load_target("fpga-hls"), fps=2e5)
    hls.compile(loaded.ir, target, tmp_path)
    proto = onnx.load(tmp_path / "dataflow.onnx")
    onnx.checker.check_model(proto)
    raw = make_inputs(loaded, 40, seed=1)
    ref = interpreter.run(loaded.ir, raw)
    t = run_finn_graph(proto, raw)
    assert np.array_equal(t["acc"].astype(np.int64), ref.acc.astype(np.int64))
    assert np.array_equal(t["logits"].astype(np.float32).view(np.uint32), ref.logits.view(np.uint32))
    assert np.array_equal(t["class"][:, 0].astype(np.int64), ref.cls)
    ops = {node.op_type for node in proto.graph.node}
    assert "MVAU" in ops and "LabelSelect" in ops


def test_json_and_report_agree_with_design(tmp_path):
    _, net = EDGE[1]  # conv-binary: padding, stride, max-pool
    loaded = from_net(net, "conv_binary")
    target = load_target("fpga-hls")
    hls.compile(loaded.ir, target, tmp_path)
    d = dataflow.design(loaded.ir, target)
    summary = json.loads((tmp_path / "dataflow.json").read_text())
    assert [s["name"] for s in summary["stages"]] == [s.name for s in d.stages]
    assert [s["cycles"] for s in summary["stages"]] == [s.cycles() for s in d.stages]
    assert summary["summary"]["bottleneck"] == d.summary.bottleneck
    assert summary["summary"]["max_cycles"] == max(s.cycles() for s in d.stages)
    ops = {s["op"] for s in summary["stages"]}
    assert {"ConvolutionInputGenerator", "MVAU", "StreamingMaxPool", "Thresholding", "LabelSelect"} <= ops
    for s in summary["stages"]:
        if s["op"] == "MVAU":
            assert s["attributes"]["MH"] % s["PE"] == 0 and s["attributes"]["MW"] % s["SIMD"] == 0
    report = (tmp_path / "report.md").read_text()
    assert f"`{d.summary.bottleneck}`" in report and "(bottleneck)" in report
    for f in ("conv_binary_top.cpp", "conv_binary_params.h", "tb_conv_binary.cpp", "run_hls.tcl", "Makefile",
              "dnnc_hls.h", "dnnc_hls_stream.h"):
        assert (tmp_path / "hls" / f).is_file()


def test_compile_is_deterministic(tmp_path):
    loaded = from_net(EDGE[0][1], "dense_binary")
    target = load_target("fpga-hls")
    hls.compile(loaded.ir, target, tmp_path / "a")
    hls.compile(loaded.ir, target, tmp_path / "b")
    for f in sorted((tmp_path / "a").rglob("*")):
        if f.is_file():
            assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes(), f


def test_folding_config_round_trips(tmp_path):
    """dataflow.json's folding config, fed back as an explicit folding, reproduces the design."""
    loaded = from_net(EDGE[1][1], "conv_binary")
    target = dict(load_target("fpga-hls"), fps=3e5)
    hls.compile(loaded.ir, target, tmp_path)
    config = json.loads((tmp_path / "dataflow.json").read_text())["folding"]["config"]
    again = dataflow.design(loaded.ir, dict(load_target("fpga-hls"), folding=config))
    first = dataflow.design(loaded.ir, target)
    assert [(s.name, s.attrs.get("PE"), s.attrs.get("SIMD")) for s in again.stages] == [
        (s.name, s.attrs.get("PE"), s.attrs.get("SIMD")) for s in first.stages]
    bad = dict(config, L1_swg={"SIMD": 1})
    if config["L1_mvau"]["SIMD"] != 1:
        with pytest.raises(Exception, match="must equal"):
            dataflow.design(loaded.ir, dict(load_target("fpga-hls"), folding=bad))


@pytest.mark.parametrize("index", [0, 1, 8])
def test_qonnx_reads_the_description(index, tmp_path):
    """qonnx's ModelWrapper sees every shape and resolves every finn_datatype; weights obey their type."""
    qonnx_mw = pytest.importorskip("qonnx.core.modelwrapper")
    from qonnx.core.datatype import DataType

    name, net = EDGE[index]
    loaded = from_net(net, name.replace("-", "_"))
    hls.compile(loaded.ir, load_target("fpga-hls"), tmp_path)
    model = qonnx_mw.ModelWrapper(str(tmp_path / "dataflow.onnx"))
    assert model.check_all_tensor_shapes_specified()
    for ann in model.graph.quantization_annotation:
        assert model.get_tensor_datatype(ann.tensor_name) == DataType[ann.quant_parameter_tensor_names[0].value]
    for node in model.graph.node:
        if node.op_type == "MVAU":
            attrs = _attrs(node)
            w = model.get_initializer(node.input[1])
            assert w.shape == (attrs["MW"], attrs["MH"])
            assert DataType[attrs["weightDataType"]].allowed(w).all()
