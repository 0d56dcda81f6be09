"""Stage order: no module of the dnnc package imports a later stage (function-level imports included).

Import order, earliest first (DESIGN.md "Layout"): root modules usable by all (errors, fsutil, resources,
vocabulary, netspec, targets, data: bundled datasets read by training and verification alike), then
train -> ir -> interchange -> passes -> dataflow -> backends -> verify, then the commands on top (cli,
commands, frontend). The IR sits below interchange in import order although ONNX comes first in the flow:
the importers produce IR and the exporter writes it, so interchange translates to and from ir.model the
way it does with netspec. Backend families (c, hls, ...) never import each other: what two of them share
belongs in an earlier stage (e.g. dnnc.dataflow for the FPGA backends).
"""

from __future__ import annotations

import ast
from pathlib import Path

import dnnc

PACKAGE = Path(dnnc.__file__).resolve().parent
ROOT = ("errors", "fsutil", "resources", "vocabulary", "netspec", "targets", "data")
ORDER = ("train", "ir", "interchange", "passes", "dataflow", "backends", "verify")
TOP = ("cli", "commands", "frontend")


def rank(module: str) -> int:
    """0 for root modules, 1.. for the stages in ORDER, len(ORDER) + 1 for the commands on top."""
    parts = module.split(".")
    assert parts[0] == "dnnc", module
    head = parts[1] if len(parts) > 1 else ""
    if head in ("", *ROOT):
        return 0
    if head in ORDER:
        return 1 + ORDER.index(head)
    if head in TOP:
        return len(ORDER) + 1
    raise AssertionError(f"module {module} belongs to no stage: add '{head}' to ROOT, ORDER or TOP in {__file__}")


def family(module: str) -> str | None:
    """The backend family of a module (dnnc.backends.<family>...), None outside one."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "backends" else None


def imported(module: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, dnnc module) for every import of the dnnc package in `source`, at any nesting level."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "dnnc"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "dnnc":
                continue
            if target == "dnnc":  # `from dnnc import verify` names a sub-package, `__version__` the root
                out += [(node.lineno, f"dnnc.{a.name}" if a.name in ORDER + TOP else "dnnc") for a in node.names]
            else:
                out.append((node.lineno, target))
    return out


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """Every import in `source` (the text of `module`) that reaches a later stage or a sibling backend."""
    bad = []
    for line, target in imported(module, source, is_package):
        if rank(target) > rank(module):
            bad.append(f"{module}:{line} imports {target} (a later stage)")
        elif family(module) and family(target) and family(target) != family(module):
            bad.append(f"{module}:{line} imports {target} (another backend family)")
    return bad


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def test_no_module_imports_a_later_stage():
    found = modules()
    assert len(found) > 50, f"only {len(found)} modules under {PACKAGE}"
    bad = [v for name, path in found for v in violations(name, path.read_text(), path.name == "__init__.py")]
    assert not bad, "\n".join(bad)


def test_the_check_sees_violations():
    """The rule is real: synthetic sources that break it are reported, allowed imports are not."""
    late = "import numpy\n\ndef f():\n    from dnnc.passes.range_analysis import RangeAnalysis\n    return 1\n"
    assert violations("dnnc.interchange.fake", late) == [
        "dnnc.interchange.fake:4 imports dnnc.passes.range_analysis (a later stage)"]
    assert violations("dnnc.train.fake", "def f():\n    import dnnc.interchange.annotations\n") == [
        "dnnc.train.fake:2 imports dnnc.interchange.annotations (a later stage)"]
    assert violations("dnnc.vocabulary", "from dnnc import verify\n") == [
        "dnnc.vocabulary:1 imports dnnc.verify (a later stage)"]
    assert violations("dnnc.ir.fake", "from ..backends.c import plan\n") == [
        "dnnc.ir.fake:1 imports dnnc.backends.c (a later stage)"]
    assert violations("dnnc.backends.rtl.fake", "from dnnc.backends.hls.emit import write_hls\n") == [
        "dnnc.backends.rtl.fake:1 imports dnnc.backends.hls.emit (another backend family)"]
    ok = "from dnnc import __version__\nfrom dnnc.vocabulary import BIPOLAR\nfrom dnnc.ir.model import Linear\n"
    assert violations("dnnc.dataflow.fake", ok + "from dnnc.backends import backend_for\n") == [
        "dnnc.dataflow.fake:4 imports dnnc.backends (a later stage)"]
    assert violations("dnnc.backends.rtl.fake", ok + "from dnnc.dataflow import design\n") == []
