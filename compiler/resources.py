"""Locate runtime/, templates/ and targets/ both in a checkout and in an installed wheel."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

_PACKAGES = {"runtime": "dnnc._runtime", "templates": "dnnc._templates", "targets": "dnnc._targets"}


def resource_dir(kind: str) -> Path:
    """Directory of a shipped resource tree: 'runtime', 'templates' or 'targets'."""
    if kind not in _PACKAGES:
        raise KeyError(kind)
    try:
        path = Path(str(importlib.resources.files(_PACKAGES[kind])))
        if path.is_dir():
            return path
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / kind
