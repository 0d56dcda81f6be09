"""Target files: the schema (unknown, mistyped, missing keys are one-line errors naming file and key, exit 2),
`--target PATH` for a user's own file, names that try to leave targets/, and the cortex-m7 target, which is a
TOML file on the shared armv7m harness, verified end to end on QEMU mps2-an500."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.errors import DnncError
from dnnc.resources import resource_dir
from dnnc.targets import (
    C_SCHEMA,
    EMULATOR,
    HLS_SCHEMA,
    RTL_SCHEMA,
    available_targets,
    harness_archs,
    harness_dir,
    load_harness,
    load_target,
    reference_table,
    validate,
)

ROOT = Path(__file__).resolve().parent.parent
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                               reason="arm-none-eabi-gcc / qemu-system-arm not installed (tools/setup.sh)")


def _shipped(name: str) -> str:
    return (resource_dir("targets") / f"{name}.toml").read_text()


def _edit(text: str, old: str, new: str) -> str:
    """`text` with the one line matching regex `old` replaced by `new` (or deleted when new is '')."""
    out, n = re.subn(rf"(?m)^{old}\n", new + "\n" if new else "", text)
    assert n == 1, f"{old!r} matched {n} lines"
    return out


def _compile_error(tmp_path: Path, text: str, name: str = "board.toml") -> str:
    """The CLI's whole output for `dnnc compile` with `text` as the target file; asserts exit 2, one line."""
    path = tmp_path / name
    path.write_text(text)
    res = CliRunner().invoke(main, ["compile", str(tmp_path / "m.onnx"), "-t", str(path), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "o").exists()
    return res.output


def test_shipped_targets_and_harnesses_validate():
    assert {"cortex-m4", "cortex-m7", "host", "fpga-hls", "fpga-rtl", "ice40-up5k"} <= set(available_targets())
    for name in available_targets():
        cfg = load_target(name)
        assert cfg["name"] == name
        # The defaults filled in satisfy the schema themselves (a round trip changes nothing).
        given = {k: v for k, v in cfg.items() if k not in ("name", "path") and v is not None}
        assert validate(given, name) == {k: v for k, v in cfg.items() if k not in ("name", "path")}
    for arch in harness_archs():
        assert load_harness(arch)["flags"]
        files = {p.name for p in harness_dir(arch).iterdir()}
        # The pieces the common harness files include or build: see docs/adding-a-target.md.
        assert {"dnnc_semihost.h", "dnnc_cycles.h", "link.ld.j2"} <= files and any(f.endswith(".c") for f in files)


def test_defaults_live_in_the_schema():
    cfg = validate({"backend": "c", "description": "x", "arch": "host", "cc": "cc", "ar": "ar", "size": "size"}, "t")
    assert cfg["popcount"] == "swar" and cfg["lanes"] == 0 and cfg["cpu_flags"] == [] and cfg["emulator"] is None
    hls = validate({"backend": "hls", "description": "x", "part": "p"}, "t")
    assert hls["clock_ns"] == 10.0 and hls["csim"] == {"cxx": "g++", "flags": [], "sanitize": []}


@pytest.mark.parametrize("target,old,new,key", [
    ("host", "flash_bytes = 0", "flahs_bytes = 0", "unknown key 'flahs_bytes' (did you mean 'flash_bytes'?)"),
    ("host", "flash_bytes = 0", 'flash_bytes = "1M"', "key 'flash_bytes' must be an integer"),
    ("host", 'cc = "cc"', "", "missing required key 'cc'"),
    ("host", "dsp = false", "dsp = 1", "key 'dsp' must be true or false"),
    ("host", 'popcount = "builtin"', 'popcount = "fast"', "key 'popcount' = 'fast', expected one of"),
    ("host", 'cflags = .*', 'cflags = "-O2"', "key 'cflags' must be a list"),
    ("host", 'cflags = .*', 'cflags = ["-O2", 3]', "key 'cflags' must be a list of strings"),
    ("host", "lut_bytes = .*", "lut_bytes = -1", "key 'lut_bytes' = -1 must be >= 1"),
    ("host", 'arch = "host"', 'arch = "armv9z"', "key 'arch' = 'armv9z' has no harness folder"),
    ("host", 'arch = "host"', "", "missing required key 'arch'"),
    ("host", 'backend = "c"', 'backend = "verilog"', "key 'backend' = 'verilog', expected one of"),
    ("cortex-m7", "timer_hz = .*", "timer_hz_ = 25000000", "unknown key 'emulator.timer_hz_'"),
    ("cortex-m7", "ram_origin = .*", 'ram_origin = "0x20000000"', "key 'emulator.ram_origin' must be an integer"),
    ("cortex-m7", "stack_bytes = .*", "", "missing required key 'emulator.stack_bytes'"),
    ("fpga-hls", "clock_ns = .*", "clock_ns = 0", "key 'clock_ns' = 0 must be > 0"),
    ("fpga-hls", "balance_max_lanes = .*", "balance_max_lane = 64", "unknown key 'balance_max_lane'"),
    ("fpga-hls", "cxx = .*", "cc = 'g++'", "unknown key 'csim.cc'"),
])
def test_bad_key_is_one_line_naming_file_and_key(tmp_path, target, old, new, key):
    out = _compile_error(tmp_path, _edit(_shipped(target), old, new))
    assert str(tmp_path / "board.toml") in out and key in out


@pytest.mark.parametrize("value", ['"yes"', "8", "true"])
def test_bad_lanes_value_is_refused(tmp_path, value):
    out = _compile_error(tmp_path, _edit(_shipped("host"), "lanes = .*", f"lanes = {value}"))
    assert "key 'lanes'" in out


def test_unparsable_file_and_emulator_on_host_are_refused(tmp_path):
    assert "not valid TOML" in _compile_error(tmp_path, _shipped("host") + "cc = \n")
    out = _compile_error(tmp_path, _shipped("host") + "\n[emulator]\n" + _shipped("cortex-m7").split("[emulator]")[1])
    assert "key 'emulator' is for a bare-metal arch" in out


@pytest.mark.parametrize("spec,msg", [
    ("../targets/host", "must end in .toml"),
    ("/abs/targets/host", "must end in .toml"),
    ("targets\\host", "must end in .toml"),
    ("..", "unknown target '..'"),
    ("no-such-target", "unknown target 'no-such-target'"),
    ("missing.toml", "no such target file"),
])
def test_names_with_path_parts_are_refused(tmp_path, monkeypatch, spec, msg):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "host").write_text(_shipped("host"))  # a file of that name here must not be picked up
    res = CliRunner().invoke(main, ["verify", "m.onnx", "-t", spec])
    assert res.exit_code == 2 and msg in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_user_target_file_compiles_and_verifies_on_the_host(small, tmp_path, monkeypatch):
    """A copy of host.toml with the user's own budget and flags, given by relative path, end to end."""
    text = _edit(_shipped("host"), "flash_bytes = 0", "flash_bytes = 1234")
    text = _edit(text, "cflags = .*", 'cflags = ["-std=c11", "-ffp-contract=off", "-O1"]')
    (tmp_path / "board.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    res = run(main, ["compile", str(small / "small.onnx"), "-t", "./board.toml", "-o", "out", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["target"] == "./board.toml"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "target `board`" in report and re.search(r"\| 1,234 \| \*\*no\*\* \|", report), report
    assert "CFLAGS = -std=c11 -ffp-contract=off -O1 " in (tmp_path / "out" / "Makefile").read_text()
    res = run(main, ["verify", str(small / "small.onnx"), "-t", "board.toml", "--samples", "64", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["mismatches"] == 0


@needs_arm
def test_cortex_m7_verifies_and_benches_on_qemu(small):
    run = CliRunner().invoke
    for model in ("small.onnx", "smallconv.onnx"):
        res = run(main, ["verify", str(small / model), "-t", "cortex-m7", "--samples", "64", "--json"])
        assert res.exit_code == 0, res.output
        rep = json.loads(res.output)
        assert rep["mismatches"] == 0 and rep["samples"] == 64 and rep["target"] == "cortex-m7"
    res = run(main, ["bench", str(small / "smallconv.onnx"), "-t", "cortex-m7", "--json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["target"] == "cortex-m7" and 0 < r["instructions"] < 10 * r["macs"] and r["text_bytes"] > 0


@needs_arm
def test_stack_budget_is_checked_at_link_time(small, tmp_path):
    text = _edit(_shipped("cortex-m7"), "stack_bytes = .*", "stack_bytes = 4194304")
    (tmp_path / "tight.toml").write_text(text)
    res = CliRunner().invoke(main, ["verify", str(small / "small.onnx"), "-t", str(tmp_path / "tight.toml"),
                                    "--samples", "4"])
    assert res.exit_code == 2 and "stack_bytes exceed the RAM" in res.output, res.output


def test_target_without_emulator_compiles_but_does_not_run(small, tmp_path):
    text = _shipped("cortex-m7").split("[emulator]")[0]
    (tmp_path / "board.toml").write_text(text)
    run = CliRunner().invoke
    res = run(main, ["compile", str(small / "small.onnx"), "-t", str(tmp_path / "board.toml"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    res = run(main, ["bench", str(small / "small.onnx"), "-t", str(tmp_path / "board.toml")])
    assert res.exit_code == 2 and "has no [emulator] table" in res.output, res.output


def test_cores_and_boards_are_data_not_python():
    """A new core of a known arch is a TOML file: no Python module names one (cores, boards, harness files)."""
    words = ("cortex-m7", "mps2-an500", "armv7m", "startup.c", "systick")
    for path in (ROOT / "compiler" / "dnnc").rglob("*.py"):
        text = path.read_text().lower()
        assert not [w for w in words if w in text], path


def test_docs_key_table_matches_schema():
    doc = (ROOT / "docs" / "adding-a-target.md").read_text()
    for schema in (C_SCHEMA, HLS_SCHEMA, RTL_SCHEMA):
        assert reference_table(schema) in doc
    assert all(f"`emulator.{k}`" in doc for k in EMULATOR)


def test_load_target_error_is_a_dnnc_error(tmp_path):
    with pytest.raises(DnncError, match="board.toml: unknown key 'word_bits'"):
        (tmp_path / "board.toml").write_text(_shipped("host") + "word_bits = 32\n")
        load_target(str(tmp_path / "board.toml"))
