"""examples/cortex-m-firmware links a freshly generated library unmodified and classifies its embedded digits
under QEMU exactly like the IR interpreter (class and accumulator per digit), on every Arm core it has a
cores/ folder for (cortex-m4 in the default run, the others slow); its cores/ facts match the target files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from dnnc.data.bundled import mnist10k
from dnnc.frontend import load_model
from dnnc.ir.interpreter import run as interpret
from dnnc.targets import load_target
from dnnc.train.api import train_model
from dnnc.train.checkpoint import save_checkpoint

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cortex-m-firmware"
CORES = sorted(d.name for d in (EXAMPLE / "cores").iterdir())
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                               reason="arm-none-eabi-gcc / qemu-system-arm not installed (tools/setup.sh)")


def test_every_arm_target_has_a_core_folder_that_matches_it():
    """cores/CORE/ repeats the target file's compiler flags, board and memory origins (a firmware project copies
    the folder): checked here so that the two cannot drift apart."""
    arm = sorted(p.stem for p in (EXAMPLE.parent.parent / "targets").glob("cortex-m*.toml"))
    assert CORES == arm
    for core in CORES:
        t, em = load_target(core), load_target(core)["emulator"]
        mk = dict(re.findall(r"(?m)^(\w+) = (.*)$", (EXAMPLE / "cores" / core / "core.mk").read_text()))
        assert mk["CPU_FLAGS"].split() == t["cpu_flags"], core
        assert mk["QEMU_BOARD"].split() == ["-M", em["machine"], "-cpu", em["cpu"], *em.get("args", [])], core
        ld = (EXAMPLE / "cores" / core / "memory.ld").read_text()
        origins = [int(x, 16) for x in re.findall(r"ORIGIN = (0x[0-9a-f]+)", ld)]
        assert origins == [em["code_origin"], em["ram_origin"]], core


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fw") / "model.pt"
    save_checkpoint(train_model(arch="tiny-fc", weights="binary", epochs=1, pretrain_epochs=1, train_limit=300,
                                seed=0), path)
    return path


@needs_arm
@pytest.mark.parametrize("core", [c if c == "cortex-m4" else pytest.param(c, marks=pytest.mark.slow) for c in CORES])
def test_firmware_example_classifies_digits(tmp_path, checkpoint, core):
    from click.testing import CliRunner
    from dnnc.cli import main

    fw = tmp_path / "fw"
    shutil.copytree(EXAMPLE, fw)
    shutil.copy(checkpoint, fw / "model.pt")
    res = CliRunner().invoke(main, ["compile", str(fw / "model.pt"), "-t", core, "-o", str(fw / "model")])
    assert res.exit_code == 0, res.output
    build = subprocess.run(["make", "-C", str(fw), f"CORE={core}", "MODEL_DIR=model"], check=False,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    out = subprocess.run(["make", "-s", "-C", str(fw), f"CORE={core}", "run"], check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, timeout=120).stdout
    got = [(int(c), int(a)) for c, a in re.findall(r"class (\d+) acc\[class\] (-?\d+)", out)]
    want = interpret(load_model(fw / "model.pt").ir, mnist10k("test")[0][:8])
    assert got == [(int(c), int(want.acc[i, c])) for i, c in enumerate(want.cls)]
    assert "correct" in out
