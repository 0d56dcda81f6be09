"""`dnnc train --resume`: a run killed (SIGKILL) after epoch k continues to the uninterrupted run's result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.train.checkpoint import load_checkpoint
from dnnc.train.collapse import collapse

ARGS = ["train", "--arch", "tiny-fc", "--weights", "ternary", "--epochs", "4", "--pretrain-epochs", "2",
        "--train-limit", "400", "--seed", "5"]
# Every method's run: lrt on two hidden layers, so its layer-wise phases are two stages after the real net.
RUNS = {"distribution": ARGS,
        "lrt": ["train", "--method", "lrt", "--arch", "FC32-FC16-FC10", "--weights", "ternary", "--epochs", "4",
                "--pretrain-epochs", "2", "--train-limit", "400", "--seed", "5"],
        "few-mult": ["train", "--method", "few-mult", "--arch", "tiny-fc", "--weights", "binary", "--epochs", "4",
                     "--train-limit", "400", "--seed", "5"]}

# The child runs the real CLI; right after the snapshot of epoch k of a stage is on disk it SIGKILLs
# itself (no cleanup, no chance to finish the epoch after).
KILLER = """
import os, signal, sys
from dnnc.train import resume
stage, epoch = sys.argv[1], int(sys.argv[2])
done = resume.Run.epoch_done
def epoch_done(self, s, e, *rest):
    done(self, s, e, *rest)
    if (s, e) == (stage, epoch):
        os.kill(os.getpid(), signal.SIGKILL)
resume.Run.epoch_done = epoch_done
from dnnc.cli import main
main(sys.argv[3:])
"""


@pytest.fixture(scope="module")
def full_runs(tmp_path_factory) -> dict:
    """method -> the uninterrupted run's checkpoint (trained on first use)."""
    cache: dict = {}

    def get(method: str) -> dict:
        if method not in cache:
            out = tmp_path_factory.mktemp("full") / "full.pt"
            r = CliRunner().invoke(main, [*RUNS[method], "-o", str(out)])
            assert r.exit_code == 0, r.output
            cache[method] = load_checkpoint(out)
        return cache[method]
    return get


@pytest.fixture(scope="module")
def uninterrupted(full_runs):
    return full_runs("distribution")


@pytest.mark.parametrize("method,stage,epoch", [("distribution", "pretrain", 1), ("distribution", "ternary-sign", 2),
                                                ("lrt", "lrt-ternary-binary1", 1), ("lrt", "lrt-ternary-sign", 1),
                                                ("few-mult", "few-mult-binary-sign", 2)])
def test_killed_run_resumes_to_the_uninterrupted_result(full_runs, tmp_path, method, stage, epoch):
    uninterrupted = full_runs(method)
    out = tmp_path / "m.pt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run([sys.executable, "-c", KILLER, stage, str(epoch), *RUNS[method], "-o", str(out)],
                       env=env, capture_output=True, timeout=300, check=False)
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    snap = load_checkpoint(out)
    assert (snap["resume"]["stage"], snap["resume"]["epoch"]) == (stage, epoch)
    assert snap["options"]["complete"] is False
    r = CliRunner().invoke(main, ["train", "--resume", str(out)])
    assert r.exit_code == 0, r.output
    done = load_checkpoint(out)
    assert "resume" not in done
    a, b = collapse(uninterrupted), collapse(done)
    for x, y in zip([*a.hidden, a.output], [*b.hidden, b.output], strict=True):
        assert np.array_equal(x.weight, y.weight)
        for f in ("gamma", "beta", "mean", "inv_std"):
            assert x.bn is None or np.array_equal(getattr(x.bn, f), getattr(y.bn, f))
    assert np.array_equal(a.output.bias, b.output.bias)
    for x, y in zip(uninterrupted["layers"], done["layers"], strict=True):  # the float state too
        assert torch.equal(x["logits"], y["logits"])
    assert [(h["stage"], h["epoch"], h["val_error"], h["loss"]) for h in done["history"]] == \
        [(h["stage"], h["epoch"], h["val_error"], h["loss"]) for h in uninterrupted["history"]]
    assert done["best"] == uninterrupted["best"]


def test_resume_refuses_a_finished_run_and_extra_options(uninterrupted, tmp_path):
    from dnnc.train.checkpoint import save_checkpoint

    path = tmp_path / "done.pt"
    save_checkpoint(uninterrupted, path)
    r = CliRunner().invoke(main, ["train", "--resume", str(path)])
    assert r.exit_code == 2 and "complete" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["train", "--resume", str(path), "--epochs", "3"])
    assert r.exit_code == 2 and "--epochs" in r.output
    r = CliRunner().invoke(main, ["train", "--weights", "ternary", "-o", str(tmp_path / "x.pt")])
    assert r.exit_code == 2 and "--arch" in r.output
    (tmp_path / "s.resume.pt").write_bytes(b"")  # an STE snapshot is resumed through its .onnx output
    r = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "s.resume.pt")])
    assert r.exit_code == 2 and "--resume s.onnx" in r.output


STE = ["train", "--method", "ste", "--arch", "tiny-fc", "--weights", "ternary", "--epochs", "3", "--train-limit", "400",
       "--seed", "5", "--dropout", "0.2"]


def test_killed_ste_run_resumes_to_the_uninterrupted_qonnx(tmp_path):
    import onnx
    from onnx import numpy_helper

    full = tmp_path / "full.onnx"
    r = CliRunner().invoke(main, [*STE, "-o", str(full)])
    assert r.exit_code == 0, r.output
    assert sorted(os.listdir(tmp_path)) == ["full.history.json", "full.onnx"]  # the snapshot is gone
    out = tmp_path / "m.onnx"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run([sys.executable, "-c", KILLER, "ste", "2", *STE, "-o", str(out)],
                       env=env, capture_output=True, timeout=300, check=False)
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    assert not out.exists() and (tmp_path / "m.resume.pt").is_file()
    r = CliRunner().invoke(main, ["train", "--resume", str(out)])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "m.resume.pt").exists()
    a, b = onnx.load(full), onnx.load(out)
    assert [n.op_type for n in a.graph.node] == [n.op_type for n in b.graph.node]
    for x, y in zip(a.graph.initializer, b.graph.initializer, strict=True):
        assert x.name == y.name and np.array_equal(numpy_helper.to_array(x), numpy_helper.to_array(y)), x.name
    ha, hb = (json.loads((tmp_path / f"{s}.history.json").read_text()) for s in ("full", "m"))
    assert [(h["epoch"], h["val_error"], h["loss"]) for h in ha["history"]] == \
        [(h["epoch"], h["val_error"], h["loss"]) for h in hb["history"]]
    assert ha["best"] == hb["best"] and ha["test_error"] == hb["test_error"]
    r = CliRunner().invoke(main, ["train", "--resume", str(out)])  # complete: no snapshot left
    assert r.exit_code == 2 and "no snapshot" in r.output
