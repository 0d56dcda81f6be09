"""examples/cortex-m4-firmware links a freshly generated library unmodified and classifies its embedded digits
under QEMU exactly like the IR interpreter (class and accumulator per digit)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from dnnc.data.bundled import mnist10k
from dnnc.frontend import load_model
from dnnc.ir.interpreter import run as interpret
from dnnc.train.api import train_model
from dnnc.train.checkpoint import save_checkpoint

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cortex-m4-firmware"


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="arm-none-eabi-gcc / qemu-system-arm not installed (tools/setup.sh)")
def test_firmware_example_classifies_digits(tmp_path):
    from click.testing import CliRunner
    from dnnc.cli import main

    fw = tmp_path / "fw"
    shutil.copytree(EXAMPLE, fw)
    save_checkpoint(train_model(arch="tiny-fc", weights="binary", epochs=1, pretrain_epochs=1, train_limit=300,
                                seed=0), fw / "model.pt")
    res = CliRunner().invoke(main, ["compile", str(fw / "model.pt"), "-t", "cortex-m4", "-o", str(fw / "model")])
    assert res.exit_code == 0, res.output
    subprocess.run(["make", "-C", str(fw), "MODEL_DIR=model"], check=True, capture_output=True)
    out = subprocess.run(["make", "-s", "-C", str(fw), "run"], check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, timeout=120).stdout
    got = [(int(c), int(a)) for c, a in re.findall(r"class (\d+) acc\[class\] (-?\d+)", out)]
    want = interpret(load_model(fw / "model.pt").ir, mnist10k("test")[0][:8])
    assert got == [(int(c), int(want.acc[i, c])) for i, c in enumerate(want.cls)]
    assert "correct" in out
