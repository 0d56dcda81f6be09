"""`dnnc verify --target ir` and the shared verify framework, on trained tiny models and edge models.

Bars: 0 mismatches between onnxruntime on the deployment ONNX and the IR interpreter after all
passes, and 0 class disagreements between the deployment network and the discrete network (numpy float64
`forward_float64` and the PyTorch twin `forward_torch`) on the 2000 test digits.
"""

import functools
import json

import numpy as np
import pytest
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.data.bundled import mnist10k
from dnnc.frontend import LoadedModel, export_onnx, from_net, load_model
from dnnc.interchange.export import save_onnx
from dnnc.ir.model import Threshold
from dnnc.netspec import forward_float64
from dnnc.verify import run_verify
from dnnc.verify.inputs import make_inputs, split_counts
from dnnc.verify.reference import run_onnx
from models import edge_models

SETS = ("binary", "ternary", "quaternary", "quinary")
FAST = [(arch, ws) for arch in ("tiny-fc", "tiny-cnn") for ws in SETS]


@functools.cache
def _checkpoint(arch: str, ws: str, full: bool = False) -> dict:
    """A tiny trained model: one epoch on 300 digits (fast), or pretraining + 1000 digits (slow bar)."""
    from dnnc.train.api import train_model

    if full:
        return train_model(arch=arch, weights=ws, epochs=1, pretrain_epochs=1, train_limit=1000, seed=1)
    return train_model(arch=arch, weights=ws, epochs=1, pretrain_epochs=0, train_limit=300, seed=1)


@functools.cache
def _loaded(arch: str, ws: str, full: bool = False) -> LoadedModel:
    from dnnc.train.collapse import collapse

    return from_net(collapse(_checkpoint(arch, ws, full)), name=f"{arch}_{ws}".replace("-", "_"))


def _check_trained(arch, ws, samples, full=False):
    lm = _loaded(arch, ws, full)
    report = run_verify(lm, "ir", samples, seed=0)
    assert report.mismatches == 0, report.summary_line()
    assert report.samples == samples and report.inputs["real"] == min(2000, (samples + 1) // 2)
    # the deployment network's predictions == the discrete network's on all 2000 test digits
    from dnnc.train.collapse import forward_torch

    x, _ = mnist10k("test")
    out = run_onnx(lm.onnx, x)
    logits64, cls64 = forward_float64(lm.net, x)
    _, cls_torch = forward_torch(lm.net, x)
    assert np.array_equal(cls64, cls_torch)
    bad = np.flatnonzero(cls64 != out.cls)
    if full:
        assert bad.size == 0, f"{bad.size} class disagreements with the discrete network"
    else:
        # Barely-trained nets (one epoch, no pretraining) keep output biases that differ by < 1 float32 ulp
        # of the logits: there, and only there, the float32 logits tie (argmax -> lowest index) while the
        # float64 ones do not. Every disagreement must be such a tie.
        rows = np.arange(bad.size)
        a, b = cls64[bad], out.cls[bad]
        assert np.array_equal(out.logits[bad, a].view(np.uint32), out.logits[bad, b].view(np.uint32))
        assert np.all(np.abs(logits64[bad, a] - logits64[bad, b]) < 1e-6), rows
        assert bad.size <= 10
    return report


@pytest.mark.parametrize("arch,ws", FAST, ids=[f"{a}-{w}" for a, w in FAST])
def test_trained_models_bit_exact(arch, ws):
    report = _check_trained(arch, ws, 400)
    assert report.float64_class_disagreements is not None


@pytest.mark.slow
@pytest.mark.parametrize("arch,ws", FAST, ids=[f"{a}-{w}" for a, w in FAST])
def test_trained_models_full_bar(arch, ws):
    """The issue's bar: 2000 test digits + 10,000 random and threshold-edge inputs, 0 mismatches."""
    report = _check_trained(arch, ws, 12000, full=True)
    assert report.inputs == {"real": 2000, "random": 5000, "edge": 5000}
    assert report.ties_hit > 0


def test_edge_models_verify_cli(tmp_path):
    for name, net in edge_models():
        path = tmp_path / f"{name}.onnx"
        save_onnx(export_onnx(net), path)
        res = CliRunner().invoke(main, ["verify", str(path), "--samples", "400", "--json"])
        assert res.exit_code == 0, res.output
        obj = json.loads(res.output)
        assert obj["target"] == "ir" and obj["samples"] == 400 and obj["mismatches"] == 0
        if "output-only" not in name:
            assert obj["ties_hit"] > 0


def test_export_then_verify_and_inspect_cli(tmp_path):
    from dnnc.train.checkpoint import save_checkpoint

    pt = tmp_path / "tiny.pt"
    save_checkpoint(_checkpoint("tiny-fc", "ternary"), pt)
    out = tmp_path / "tiny.onnx"
    runner = CliRunner()
    res = runner.invoke(main, ["export", str(pt), "-o", str(out)])
    assert res.exit_code == 0 and out.is_file(), res.output
    again = tmp_path / "again.onnx"
    assert runner.invoke(main, ["export", str(pt), "-o", str(again)]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()  # same model + options -> byte-identical file
    res = runner.invoke(main, ["verify", str(out), "--samples", "300"])
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 1
    assert "target=ir samples=300" in res.output and "mismatches=0" in res.output
    res = runner.invoke(main, ["verify", str(pt), "--samples", "200", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["float64_class_disagreements"] == 0
    res = runner.invoke(main, ["inspect", str(out), "--json"])
    desc = json.loads(res.output)
    assert [d["type"] for d in desc["layers"]] == ["Linear", "Threshold", "Linear", "OutputAffine", "ArgMax"]
    assert desc["layers"][0]["weight_dtype"] == "TERNARY" and desc["memory"]["weight_bytes"] > 0
    res = runner.invoke(main, ["inspect", str(pt)])
    assert res.exit_code == 0 and "Threshold" in res.output
    res = runner.invoke(main, ["export", str(pt), "-o", str(tmp_path / "s.onnx"), "--collapse", "sample",
                               "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert load_model(tmp_path / "s.onnx").ir.is_lowered()


def test_mismatch_exits_1(tmp_path, monkeypatch):
    """A wrong executor is caught: shift one threshold of the IR by two and verify fails with exit 1."""
    _, net = next(edge_models())
    good = from_net(net)
    bad_ir = good.ir.copy()
    thr = next(x for x in bad_ir.layers if isinstance(x, Threshold))
    live = int(np.flatnonzero(thr.direction != 0)[0])
    thr.threshold[live] += 2  # +1 can be a no-op: accumulators of one layer share a parity
    bad = LoadedModel(onnx=good.onnx, ir=bad_ir, source=good.source)
    report = run_verify(bad, "ir", 600, 0)
    assert report.mismatches > 0 and report.first_mismatch is not None
    monkeypatch.setattr("dnnc.commands.verify.load_model", lambda *a, **k: bad)
    res = CliRunner().invoke(main, ["verify", "x.onnx", "--samples", "600"])
    assert res.exit_code == 1 and "mismatches=" in res.output


def test_inputs_order_and_unknown_target():
    lm = _loaded("tiny-fc", "binary")
    raw = make_inputs(lm, 50, seed=0)
    x, _ = mnist10k("test")
    assert raw.dtype == np.uint8 and raw.shape == (50, 1, 28, 28)
    assert np.array_equal(raw[:25], x[:25])  # real digits first
    assert split_counts(12000, True) == (2000, 5000, 5000) and split_counts(10, False) == (0, 5, 5)
    assert np.array_equal(make_inputs(lm, 50, seed=0), raw)
    res = CliRunner().invoke(main, ["verify", "nope.onnx"])
    assert res.exit_code == 2 and "nope.onnx" in res.output
    from dnnc.errors import DnncError

    with pytest.raises(DnncError, match="unknown target"):
        run_verify(lm, "no-such-target", 4, 0)


def test_nan_batch_norm_checkpoint_is_rejected(tmp_path):
    import copy

    from dnnc.train.checkpoint import save_checkpoint

    ckpt = copy.deepcopy(_checkpoint("tiny-fc", "ternary"))
    ckpt["layers"][0]["gamma"][3] = float("nan")
    pt = tmp_path / "nan.pt"
    save_checkpoint(ckpt, pt)
    out = tmp_path / "nan.onnx"
    res = CliRunner().invoke(main, ["export", str(pt), "-o", str(out)])
    assert res.exit_code == 2 and "nan.pt" in res.output and "NaN or infinite" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and not out.exists()
