"""`dnnc train --method ste --act-bits K`: bnn_pynq's K-bit activation quantizer, exported as QONNX that
qonnx's executor runs to the Brevitas model's own classes, and that dnnc compiles bit-exact."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("brevitas")
pytest.importorskip("qonnx")

from dnnc.cli import main
from dnnc.data.bundled import mnist10k
from dnnc.verify.qonnx_reference import run_qonnx


@pytest.fixture(scope="module")
def w2a2(tmp_path_factory):
    from dnnc.interchange.brevitas_export import export_ste
    from dnnc.train.ste import train_ste

    res = train_ste("FC32-FC32-FC10", "ternary", "ste", epochs=1, max_steps=30, seed=0, batch_size=50,
                    act_bits=2, dropout=0.2)
    model = res["model"]
    with torch.no_grad():  # BN skewed: negative and zero gamma, so activations hit all three levels
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)):
            bn.weight[:4] = -bn.weight[:4].abs()
            bn.weight[4] = 0.0
    path = tmp_path_factory.mktemp("w2a2") / "w2a2.onnx"
    export_ste(model, (1, 28, 28), path)
    return path, model


def test_activation_quant_is_signed_narrow_2bit(w2a2):
    proto = onnx.load(str(w2a2[0]))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    producers = {o: n for n in proto.graph.node for o in n.output}
    acts = [n for n in proto.graph.node if n.op_type == "Quant" and n.input[0] in producers
            and producers[n.input[0]].op_type == "BatchNormalization"]
    assert len(acts) == 2
    for n in acts:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        assert attrs["signed"] == 1 and attrs["narrow"] == 1 and attrs["rounding_mode"] in (b"ROUND", "ROUND")
        assert float(inits[n.input[3]]) == 2.0 and float(inits[n.input[1]]) == 1.0  # bits, scale
    assert not {"BipolarQuant", "Dropout"} & {n.op_type for n in proto.graph.node}  # dropout: training only


def test_qonnx_executor_gives_the_brevitas_classes_and_ternary_levels(w2a2):
    path, model = w2a2
    proto = onnx.load(str(path))
    acts = [n.output[0] for n in proto.graph.node if n.op_type == "Quant" and "BatchNorm" in n.input[0]]
    x, _ = mnist10k("test")
    x = x[:200]
    logits, hidden = run_qonnx(proto, x, tensors=tuple(acts))
    for name in acts:
        assert set(np.unique(hidden[name])) == {-1.0, 0.0, 1.0}
    with torch.no_grad():
        ref = model(torch.from_numpy(x).float()).numpy()
    assert np.array_equal(logits.reshape(len(x), -1).argmax(1), ref.argmax(1))


def test_trained_w2a2_file_verifies_on_the_host(w2a2):
    """The training half meets the compiler half: dnnc's k-bit import of its own STE export, against qonnx."""
    from dnnc.frontend import load_model
    from dnnc.verify import run_verify

    report = run_verify(load_model(w2a2[0]), "host", samples=60, seed=0)
    assert report.mismatches == 0, report.summary_line()
    assert report.samples == 60


@pytest.mark.parametrize("args,needle", [
    (["--weights", "ternary", "--act-bits", "2"], "--method ste"),
    (["--method", "ste", "--weights", "binary", "--weight-bits", "2"], "--weight-bits 2 means --weights ternary"),
    (["--method", "ste", "--weight-bits", "1", "--act-bits", "5"], "--act-bits"),
])
def test_cli_kbit_option_errors(tmp_path, args, needle):
    out = tmp_path / "m.onnx"
    r = CliRunner().invoke(main, ["train", "--arch", "tiny-fc", *args, "--epochs", "1", "-o", str(out)])
    assert r.exit_code == 2 and needle in r.output, r.output
    assert list(tmp_path.iterdir()) == []
