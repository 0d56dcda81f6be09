"""Deployment ONNX: checker, annotations (read back by qonnx), standard ops only, import round trip, and
bad input (one-line error naming the node or file, exit 2, nothing written)."""

import json
import re

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.frontend import export_onnx
from dnnc.interchange.annotations import read_annotations
from dnnc.interchange.export import save_onnx
from dnnc.interchange.onnx_reader import onnx_to_ir
from dnnc.verify.reference import session
from models import conv_model, dense_model, output_only_model
from onnx import numpy_helper

STANDARD = {"Cast", "Mul", "Add", "MatMul", "Conv", "Flatten", "MaxPool", "GreaterOrEqual", "Where", "ArgMax"}


def test_export_checks_and_annotations(tmp_path):
    net = conv_model("quaternary")
    proto = export_onnx(net)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version == 8 and proto.opset_import[0].domain == "" and proto.opset_import[0].version == 17
    ops = {n.op_type for n in proto.graph.node}
    assert ops <= STANDARD and "Sign" not in ops
    assert [o.name for o in proto.graph.output] == ["acc", "logits", "class"]
    ann = read_annotations(proto.graph)
    assert ann["input"]["finn_datatype"] == "UINT8"
    assert ann["conv0_W"]["finn_datatype"] == "INT3" and ann["conv0_W"]["dnnc_weight_values"] == "-3,-1,1,3"
    assert ann["sign0_out"]["finn_datatype"] == "BIPOLAR"
    assert ann["conv1_acc"]["finn_datatype"].startswith("INT")
    assert all(n.name for n in proto.graph.node)
    session(proto)  # onnxruntime loads it
    path = tmp_path / "m.onnx"
    save_onnx(proto, path)
    assert onnx.load(str(path)).graph.node


@pytest.mark.parametrize("ws,dt", [("binary", "BIPOLAR"), ("ternary", "TERNARY"), ("quinary", "INT3")])
def test_qonnx_reads_datatypes(tmp_path, ws, dt):
    pytest.importorskip("qonnx")
    from qonnx.core.modelwrapper import ModelWrapper

    path = tmp_path / "m.onnx"
    save_onnx(export_onnx(dense_model(ws)), path)
    mw = ModelWrapper(str(path))
    assert mw.get_tensor_datatype("input").name == "UINT8"
    assert mw.get_tensor_datatype("dense0_W").name == dt
    assert mw.get_tensor_datatype("sign1_out").name == "BIPOLAR"
    assert mw.get_tensor_datatype("dense1_acc").name.startswith("INT")


def test_output_only_net_keeps_input_normalization():
    ir = onnx_to_ir(export_onnx(output_only_model("quaternary")))
    assert [type(x).__name__ for x in ir.layers] == ["InputAffine", "Linear", "OutputAffine", "ArgMax"]


def _save(proto, path):
    onnx.save(proto, str(path))
    return str(path)


def _cli(*args):
    return CliRunner().invoke(main, list(args))


def _mutate(tmp_path, fn, name="bad.onnx"):
    proto = export_onnx(dense_model("ternary"))
    fn(proto)
    return _save(proto, tmp_path / name)


def test_bad_inputs_exit_2_naming_node_or_file(tmp_path):
    def unsupported(p):
        p.graph.node[2].op_type = "Relu"
        p.graph.node[2].name = "weird_node"

    def dynamic(p):
        p.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"

    def weight(p):
        init = next(i for i in p.graph.initializer if i.name == "dense1_W")
        w = numpy_helper.to_array(init).copy()
        w[0, 0] = 2.0
        init.CopyFrom(numpy_helper.from_array(w, "dense1_W"))

    def nan_bn(p):
        init = next(i for i in p.graph.initializer if i.name == "sign0_bias")
        b = numpy_helper.to_array(init).copy()
        b.flat[0] = np.nan
        init.CopyFrom(numpy_helper.from_array(b, "sign0_bias"))

    cases = [(unsupported, "weird_node"), (dynamic, "dynamic shape"), (weight, "dense1/MatMul.*not in the declared"),
             (nan_bn, "sign0/Add.*NaN")]
    for fn, pattern in cases:
        path = _mutate(tmp_path, fn)
        for cmd in (["verify", path], ["inspect", path]):
            res = _cli(*cmd)
            assert res.exit_code == 2, (pattern, res.output)
            assert len(res.output.strip().splitlines()) == 1
            assert re.search(pattern, res.output), res.output
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not protobuf \x00\xff")
    res = _cli("inspect", str(junk))
    assert res.exit_code == 2 and "junk.onnx" in res.output and "not an ONNX file" in res.output


def test_export_bad_checkpoint_writes_nothing(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "out.onnx"
    res = _cli("export", str(bad), "-o", str(out))
    assert res.exit_code == 2 and "bad.pt" in res.output
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_importer_rejects_sign_op(tmp_path):
    proto = export_onnx(dense_model("binary"))
    for n in proto.graph.node:
        if n.op_type == "GreaterOrEqual":
            n.op_type = "Sign"
            del n.input[1]
            break
    with pytest.raises(Exception, match="Sign"):
        onnx_to_ir(proto)


def test_inspect_writes_every_stage_and_onnxruntime_runs_them(tmp_path):
    from dnnc.verify.reference import run_onnx

    path = tmp_path / "m.onnx"
    proto = export_onnx(conv_model("ternary"))
    save_onnx(proto, path)
    res = _cli("inspect", str(path), "--stages", str(tmp_path / "st"), "--json")
    assert res.exit_code == 0, res.output
    names = json.loads(res.output)["stages"]
    from dnnc.passes.pipeline import default_pipeline

    assert names[0] == "00-import.onnx" and len(names) == 1 + len(default_pipeline())
    raw = np.random.default_rng(0).integers(0, 256, size=(50, 1, 11, 11), dtype=np.uint8)
    ref = run_onnx(proto, raw)
    for name in names:
        out = run_onnx(onnx.load(str(tmp_path / "st" / name)), raw)
        assert np.array_equal(out.logits.view(np.uint32), ref.logits.view(np.uint32)) and np.array_equal(
            out.acc, ref.acc)
    assert _cli("inspect", str(path), "--stages", str(tmp_path / "st")).exit_code == 2  # not empty
