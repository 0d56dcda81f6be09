"""Backends, one sub-package per target family, looked up by the `backend` key of a target's TOML.

A backend module provides (see each module's docstring for details):
  compile(model: IRModel, target: dict, outdir: Path) -> None     writes the artifact into outdir
  run(model: IRModel, target: dict, inputs: np.ndarray) -> Outputs builds + executes on raw inputs
  bench(model: IRModel, target: dict) -> dict                       measured cost per inference
"""

from __future__ import annotations

import importlib
from types import ModuleType

from dnnc.errors import DnncError

FAMILIES = {"c": "dnnc.backends.c", "hls": "dnnc.backends.hls", "rtl": "dnnc.backends.rtl"}


def backend_for(target: dict) -> ModuleType:
    """The backend module of a loaded target (dnnc.targets validated `backend` against the same families)."""
    family = target["backend"]
    if family not in FAMILIES:
        raise DnncError(f"target '{target['name']}': unknown backend '{family}'")
    return importlib.import_module(FAMILIES[family])
