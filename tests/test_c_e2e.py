"""End to end through the CLI: tiny train -> export -> compile -> verify on the emulated Cortex-M4; bench; errors."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.train.api import train_model
from dnnc.train.checkpoint import save_checkpoint

needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                               reason="arm-none-eabi-gcc / qemu-system-arm not installed (tools/setup.sh)")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    ckpt = train_model(arch="tiny-cnn", weights="ternary", epochs=1, pretrain_epochs=1, train_limit=300, seed=0)
    save_checkpoint(ckpt, d / "tiny.pt")
    res = CliRunner().invoke(main, ["export", str(d / "tiny.pt"), "-o", str(d / "tiny.onnx")])
    assert res.exit_code == 0, res.output
    return d


@needs_arm
def test_train_export_compile_verify_cortex_m4(tiny):
    run = CliRunner().invoke
    out = tiny / "c"
    res = run(main, ["compile", str(tiny / "tiny.onnx"), "--target", "cortex-m4", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    files = json.loads(res.output)["files"]
    assert {"model.h", "model.c", "Makefile", "CMakeLists.txt", "report.md", "runtime/dnnc_runtime.h"} <= set(files)
    res = run(main, ["verify", str(tiny / "tiny.pt"), "--target", "cortex-m4", "--samples", "60", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["mismatches"] == 0 and report["samples"] == 60


def test_compile_refuses_non_empty_output_and_bad_target(tiny):
    run = CliRunner().invoke
    out = tiny / "host"
    assert run(main, ["compile", str(tiny / "tiny.onnx"), "-t", "host", "-o", str(out)]).exit_code == 0
    before = (out / "model.c").read_bytes()
    res = run(main, ["compile", str(tiny / "tiny.onnx"), "-t", "host", "-o", str(out)])
    assert res.exit_code == 2 and "not empty" in res.output
    res = run(main, ["compile", str(tiny / "tiny.onnx"), "-t", "no-such-target", "-o", str(tiny / "x")])
    assert res.exit_code == 2 and "unknown target" in res.output and not (tiny / "x").exists()
    assert run(main, ["compile", str(tiny / "tiny.pt"), "-t", "host", "-o", str(out), "--force"]).exit_code == 0
    assert (out / "model.c").read_bytes().replace(b"tiny", b"x") == before.replace(b"tiny", b"x")


def test_bench_host_json(tiny):
    res = CliRunner().invoke(main, ["bench", str(tiny / "tiny.onnx"), "-t", "host", "--repeat", "50", "--json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["latency_us_median"] > 0 and r["onnxruntime_us_median"] > 0 and r["text_bytes"] > 0
