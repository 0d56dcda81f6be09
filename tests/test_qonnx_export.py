"""QONNX export round trip: dnnc export --format qonnx -> qonnx executor == onnxruntime on the deployment ONNX."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from dnnc.frontend import from_net
from dnnc.interchange.qonnx_export import ir_to_qonnx
from dnnc.interchange.qonnx_import import import_qonnx
from dnnc.ir import interpreter
from dnnc.verify.qonnx_reference import run_qonnx
from dnnc.verify.reference import run_onnx
from models import conv_model, dense_model

pytest.importorskip("qonnx")


def _raw(shape, n: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    raw[0], raw[1] = 0, 255
    return raw


def _qonnx_outputs(proto: onnx.ModelProto, raw: np.ndarray):
    _, ctx = run_qonnx(proto, raw, tensors=("acc", "logits", "class"))
    return ctx["acc"].reshape(len(raw), -1), ctx["logits"].reshape(len(raw), -1), ctx["class"].reshape(-1)


@pytest.mark.parametrize("make,weight_set", [(dense_model, "binary"), (dense_model, "quaternary"),
                                             (conv_model, "ternary"), (conv_model, "quinary")])
def test_round_trip_identical_to_onnxruntime(make, weight_set):
    loaded = from_net(make(weight_set, seed=3))
    proto = ir_to_qonnx(loaded.ir)
    assert any(n.op_type == "MultiThreshold" for n in proto.graph.node)
    raw = _raw(loaded.ir.input_shape)
    ref = run_onnx(loaded.onnx, raw)  # onnxruntime on the deployment ONNX
    acc, logits, cls = _qonnx_outputs(proto, raw)
    assert np.array_equal(acc.astype(np.int32), ref.acc)
    assert np.array_equal(logits.astype(np.float32).view(np.uint32), ref.logits.view(np.uint32))
    assert np.array_equal(cls.astype(np.int64), ref.cls)
    # and dnnc reads its own QONNX back to the same function
    back = import_qonnx(proto)
    assert interpreter.run(back, raw).equals(ref)


def test_cli_export_qonnx_is_readable_by_qonnx(tmp_path):
    from dnnc.frontend import export_onnx
    from dnnc.interchange.export import save_onnx
    from qonnx.core.modelwrapper import ModelWrapper

    src = tmp_path / "m.onnx"
    save_onnx(export_onnx(dense_model("ternary", seed=1), "m"), src)
    out = tmp_path / "m.qonnx.onnx"
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "export", "--format", "qonnx", str(src), "-o", str(out),
                        "--json"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    mw = ModelWrapper(str(out))
    assert mw.get_tensor_datatype("input").name == "UINT8"
    assert {n.op_type for n in mw.graph.node} >= {"MultiThreshold", "Quant", "MatMul"}
    v = subprocess.run([sys.executable, "-m", "dnnc.cli", "verify", str(out), "-n", "50"], capture_output=True,
                       text=True, check=False)
    assert v.returncode == 0 and "mismatches=0" in v.stdout, v.stderr
