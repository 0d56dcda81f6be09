"""The package as users install it: a wheel that carries and imports every module and resource tree, and
an ONNX file that compiles and verifies with torch unimportable. (`tools/check_install.sh`, run by CI,
goes further: a plain `pip install .` into a fresh venv, every target, from outside the checkout.)"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from dnnc.frontend import export_onnx
from models import conv_model

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "compiler" / "dnnc"
# Runs the CLI with `import torch` failing, as on a machine where only `pip install dnnc` was done.
NO_TORCH_CLI = "import sys; sys.modules['torch'] = None; from dnnc.cli import main; sys.argv[0] = 'dnnc'; main()"


def _modules() -> list[str]:
    return sorted(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
                  for p in PACKAGE.rglob("*.py"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True)
    return next(out.glob("dnnc-*.whl"))


def test_wheel_contains_every_module_and_resource(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [m for m in _modules() if f"{m.replace('.', '/')}.py" not in names
               and f"{m.replace('.', '/')}/__init__.py" not in names]
    assert not missing, f"modules missing from the wheel: {missing}"
    for tree, name in (("runtime", "_runtime"), ("templates", "_templates"), ("targets", "_targets")):
        files = [p.relative_to(ROOT / tree) for p in (ROOT / tree).rglob("*") if p.is_file()]
        assert files
        absent = [str(f) for f in files if f"dnnc/{name}/{f.as_posix()}" not in names]
        assert not absent, f"{tree}/ files missing from the wheel: {absent}"


def test_wheel_imports_every_module_from_itself(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = ("import importlib, sys, dnnc, dnnc.resources as r\n"
            f"assert dnnc.__file__.startswith({str(tmp_path)!r}), dnnc.__file__\n"
            f"for m in {_modules()!r}: importlib.import_module(m)\n"
            "print(r.resource_dir('targets'), r.resource_dir('runtime'), r.resource_dir('templates'))\n")
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [str(tmp_path / "dnnc" / d) for d in ("_targets", "_runtime", "_templates")]


def _no_torch(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_TORCH_CLI, *args], check=False, capture_output=True, text=True,
                          cwd=cwd)


def test_onnx_compiles_and_verifies_without_torch(tmp_path):
    model = tmp_path / "conv.onnx"
    model.write_bytes(export_onnx(conv_model("binary"), "conv").SerializeToString())
    for target in ("cortex-m4", "host", "fpga-hls"):
        res = _no_torch(["compile", str(model), "--target", target, "-o", str(tmp_path / target)], tmp_path)
        assert res.returncode == 0, (target, res.stderr)
        assert any((tmp_path / target).iterdir())
    res = _no_torch(["verify", str(model), "--target", "host", "--samples", "20"], tmp_path)
    assert res.returncode == 0 and " mismatches=0 " in res.stdout, res.stdout + res.stderr
    res = _no_torch(["inspect", str(model)], tmp_path)
    assert res.returncode == 0, res.stderr


def test_checkpoint_without_torch_is_one_line(tmp_path):
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"not read")
    res = _no_torch(["compile", str(ckpt), "--target", "host", "-o", str(tmp_path / "out")], tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"dnnc: error: {ckpt}: training and .pt checkpoints need PyTorch: pip install 'dnnc[train]'"]
    assert not (tmp_path / "out").exists()
    res = _no_torch(["train", "--arch", "tiny-fc", "--weights", "ternary", "-o", str(tmp_path / "t.pt")], tmp_path)
    assert res.returncode == 2 and "pip install 'dnnc[train]'" in res.stderr and "Traceback" not in res.stderr
