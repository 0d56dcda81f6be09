"""torchrun + DDP: 2 gloo processes train tiny-fc along the single-process trajectory; rank 0 writes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.train.checkpoint import load_checkpoint

ARGS = ["train", "--arch", "tiny-fc", "--weights", "ternary", "--epochs", "3", "--pretrain-epochs", "2",
        "--train-limit", "600", "--seed", "4"]


def _torchrun(nproc: int, args: list[str], cwd) -> subprocess.CompletedProcess:
    dnnc = shutil.which("dnnc")
    cmd = [dnnc] if dnnc else [sys.executable, "-m", "dnnc.cli"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # --standalone: a local rendezvous on a free port; a new session so a hang is cleaned up whole
    p = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                          str(nproc), "--no-python", *cmd, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


# Every method's run (lrt on two hidden layers: its real net and both layer-wise phases) and the name of
# its real-net stage, which follows more closely than the discrete ones.
RUNS = {"distribution": (ARGS, "pretrain"),
        "lrt": (["train", "--method", "lrt", "--arch", "FC32-FC16-FC10", "--weights", "ternary", "--epochs", "4",
                 "--pretrain-epochs", "2", "--train-limit", "600", "--seed", "4"], "real-tanh"),
        "few-mult": (["train", "--method", "few-mult", "--arch", "tiny-fc", "--weights", "binary", "--epochs", "3",
                      "--train-limit", "600", "--seed", "4"], None)}


@pytest.mark.parametrize("method", RUNS)
def test_two_gloo_processes_follow_one_process(tmp_path, method):
    args, real_stage = RUNS[method]
    one = tmp_path / "one" / "m.pt"
    r = CliRunner().invoke(main, [*args, "-o", str(one)])
    assert r.exit_code == 0, r.output
    (tmp_path / "two").mkdir()
    p = _torchrun(2, [*args, "-o", "m.pt"], tmp_path / "two")
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    assert sorted(os.listdir(tmp_path / "two")) == ["m.history.json", "m.pt"]  # one checkpoint, no leftovers
    a, b = load_checkpoint(one), load_checkpoint(tmp_path / "two" / "m.pt")
    assert a["options"]["world_size"] == 1 and b["options"]["world_size"] == 2
    assert all(h.get("world_size", 2) == 2 for h in b["history"])
    assert [(h["stage"], h["epoch"]) for h in a["history"]] == [(h["stage"], h["epoch"]) for h in b["history"]]
    assert len({h["stage"] for h in a["history"]}) == {"distribution": 2, "lrt": 3, "few-mult": 1}[method]
    for x, y in zip(a["history"], b["history"], strict=True):
        # Float reduction order differs (all-reduce of gradients and batch statistics); the real
        # pre-training net follows to ~1e-5, the discrete nets' argmax may flip a few weights.
        real = x["stage"] == real_stage
        assert abs(x["val_error"] - y["val_error"]) <= (0.001 if real else 0.005), (x, y)
        assert x["loss"] is None or abs(x["loss"] - y["loss"]) <= (1e-4 if real else 1e-3) * x["loss"], (x, y)


def test_batch_not_a_multiple_of_the_processes_is_one_line(tmp_path):
    p = _torchrun(2, [*ARGS, "--batch-size", "99", "-o", "m.pt"], tmp_path)
    assert p.returncode != 0
    err = p.stderr.decode()
    assert err.count("dnnc: error: --batch-size 99 is not a multiple of the 2 processes") == 2  # each rank
    assert "dnnc/" not in err  # no traceback through dnnc (torchrun adds its own failure summary)
    assert not (tmp_path / "m.pt").exists()
