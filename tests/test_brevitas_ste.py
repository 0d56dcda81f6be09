"""A Brevitas-trained TFC-style network (784-64-64-64-10, binary weights, bipolar activations), exported
with Brevitas' own QONNX export, imported by dnnc and checked against qonnx's executor and every backend."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

pytest.importorskip("brevitas")
pytest.importorskip("qonnx")

from dnnc.data.bundled import mnist10k
from dnnc.frontend import load_model
from dnnc.interchange.qonnx_import import import_qonnx
from dnnc.ir.model import Threshold
from dnnc.verify.inputs import make_inputs
from dnnc.verify.qonnx_reference import compare

TFC = "FC64-FC64-FC64-FC10"


@pytest.fixture(scope="module")
def tfc(tmp_path_factory):
    """Train ~200 STE steps, force negative and zero gammas in every BN, export through Brevitas."""
    from dnnc.interchange.brevitas_export import export_ste
    from dnnc.train.ste import train_ste

    res = train_ste(TFC, "binary", "ste", epochs=2, max_steps=200, seed=0, batch_size=50)
    model = res["model"]
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)):
            bn.weight[:8] = -bn.weight[:8].abs()  # negative gamma channels (TFC_1W1A has them in every BN)
            bn.weight[8] = 0.0  # a constant channel
    path = tmp_path_factory.mktemp("tfc") / "tfc_w1a1.onnx"
    export_ste(model, (1, 28, 28), path)
    return path, res


def test_export_is_brevitas_qonnx_with_negative_gamma(tfc):
    path, res = tfc
    proto = onnx.load(str(path))
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("BipolarQuant") == 7  # 4 weight + 3 activation quantizers
    assert {n.domain for n in proto.graph.node if n.op_type == "BipolarQuant"} == {"qonnx.custom_op.general"}
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    bn_gammas = [inits[n.input[1]] for n in proto.graph.node if n.op_type == "BatchNormalization"]
    assert len(bn_gammas) == 3 and all((g < 0).sum() >= 8 and (g == 0).sum() >= 1 for g in bn_gammas)
    assert res["best"]["val_error"] < 0.5  # it learned something in 200 steps


def test_import_has_negative_and_constant_channels(tfc):
    ir = import_qonnx(onnx.load(str(tfc[0])))
    thresholds = [layer for layer in ir.layers if isinstance(layer, Threshold)]
    assert len(thresholds) == 3
    for t in thresholds:
        assert (t.direction == -1).sum() >= 8 and (t.direction == 0).sum() >= 1


def test_zero_mismatches_against_qonnx_executor(tfc):
    proto = onnx.load(str(tfc[0]))
    ir = import_qonnx(proto)
    x, _ = mnist10k("test")
    rng = np.random.default_rng(1)
    raw = np.concatenate([x[:120], rng.integers(0, 256, (40, 1, 28, 28), dtype=np.uint8)])
    res = compare(proto, ir, raw)
    assert (res.mismatches, res.unexplained) == (0, 0), res.summary_line()
    # threshold-edge inputs (acc exactly at a threshold): float executors may round either way there;
    # every disagreement must be explained as such a tie
    edge = make_inputs(load_model(tfc[0]), 60, seed=0)[-20:]
    assert compare(proto, ir, edge).unexplained == 0


def test_dnnc_verify_ir(tfc):
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "verify", str(tfc[0]), "-n", "300"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "mismatches=0" in r.stdout


@pytest.mark.parametrize("target", ["host", "cortex-m4", "fpga-hls"])
def test_backends_bit_exact(tfc, target):
    from dnnc.backends import backend_for
    from dnnc.targets import load_target

    try:
        backend_for(load_target(target))
    except Exception as exc:  # noqa: BLE001 - the backend may not be registered yet
        pytest.skip(f"backend for {target} not available: {exc}")
    if target == "cortex-m4" and importlib.util.find_spec("dnnc.backends.c") is None:
        pytest.skip("C backend missing")
    from dnnc.verify import run_verify

    report = run_verify(load_model(tfc[0]), target, samples=60 if target == "cortex-m4" else 200, seed=0)
    assert report.mismatches == 0, report.summary_line()


def test_dnnc_verify_reference_qonnx_cli(tfc):
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "verify", str(tfc[0]), "-t", "host", "-n", "50",
                        "--reference", "qonnx-ties"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "0 unexplained" in r.stdout


@pytest.mark.parametrize("arch,weights,dynamo", [
    pytest.param("FC32-FC32-FC10", "binary", True, marks=pytest.mark.slow),  # the dynamo exporter is slow
    ("tiny-cnn", "ternary", False)])
def test_export_paths_conv_and_dynamo_match_qonnx_and_brevitas(tmp_path, arch, weights, dynamo):
    """Both Brevitas exporters (dynamo: Gemm/Reshape, IR 10; classic: MatMul/Flatten, IR 9), conv + pool."""
    from brevitas.export import export_qonnx
    from dnnc.interchange.annotations import annotate
    from dnnc.ir import interpreter
    from dnnc.train.arch import parse_arch
    from dnnc.train.ste import SteNet

    torch.manual_seed(0)
    model = SteNet(parse_arch(arch), (1, 28, 28), weights)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))):
            bn.weight.uniform_(-1, 1)
            bn.bias.uniform_(-1, 1)
            bn.running_mean.uniform_(-20, 20)
            bn.running_var.uniform_(1, 50)
    model.eval()
    path = tmp_path / "m.onnx"
    export_qonnx(model, torch.zeros(1, 1, 28, 28), export_path=str(path), dynamo=dynamo)
    proto = onnx.load(str(path))
    annotate(proto.graph, proto.graph.input[0].name, "UINT8")
    ir = import_qonnx(proto)
    raw = np.random.default_rng(0).integers(0, 256, (30, 1, 28, 28), dtype=np.uint8)
    assert compare(proto, ir, raw).unexplained == 0
    with torch.no_grad():
        ref = model(torch.tensor(raw, dtype=torch.float32)).numpy()
    ours = interpreter.run(ir, raw)
    assert np.array_equal(ref.argmax(1), ours.cls)


@pytest.mark.slow  # a subprocess importing torch + Brevitas, training and exporting (~20 s loaded)
def test_cli_train_ste(tmp_path):
    out = tmp_path / "ste.onnx"
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "train", "--method", "ste-stochastic", "--arch", "tiny-fc",
                        "--weights", "binary", "--epochs", "1", "--train-limit", "300", "-o", str(out)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert out.is_file() and (tmp_path / "ste.history.json").is_file()
    bad = subprocess.run([sys.executable, "-m", "dnnc.cli", "train", "--method", "ste", "--arch", "tiny-fc",
                          "--weights", "quinary", "-o", str(tmp_path / "x.onnx")], capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 2 and "binary or ternary" in bad.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_dnnc_compile_cortex_m4(tfc, tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "compile", str(tfc[0]), "--target", "cortex-m4", "-o",
                        str(out)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert (out / "model.c").is_file() or any(out.rglob("*.c"))


@pytest.mark.slow  # exports Brevitas' model zoo TFC (~20 s loaded); the layouts are unit-tested too
def test_bnn_pynq_tfc_1w1a_binarized_input_imports(tmp_path):
    """Brevitas' own TFC_1W1A binarizes the input in the graph (2x - 1 -> BipolarQuant): a float input
    quantized by one float32 threshold; annotated UINT8, the same graph takes bytes (its own map x = p)."""
    models = pytest.importorskip("brevitas_examples.bnn_pynq.models")
    from brevitas.export import export_qonnx
    from dnnc.interchange.annotations import annotate

    model, _ = models.model_with_cfg("TFC_1W1A", pretrained=False)
    path = tmp_path / "tfc_1w1a.onnx"
    export_qonnx(model.eval(), torch.zeros(1, 1, 28, 28), export_path=str(path), dynamo=False)
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "inspect", str(path)], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stderr
    proto = onnx.load(str(path))
    annotate(proto.graph, proto.graph.input[0].name, "UINT8")
    ir = import_qonnx(proto)
    assert ir.input_map == "p" and ir.input_thresholds.tolist() == [0.5]
    assert ir.byte_codes.tolist() == [0] + [1] * 255  # 2p - 1 >= 0 from p = 1
