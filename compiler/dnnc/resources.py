"""Locate runtime/, templates/ and targets/ in an installed wheel or in a checkout.

A wheel carries them as plain files beside the package (dnnc/_runtime, dnnc/_templates, dnnc/_targets;
setup.py copies them in); a checkout (editable install, or compiler/ on PYTHONPATH) has them at its top
level, two folders above this file.
"""

from __future__ import annotations

from pathlib import Path

KINDS = ("runtime", "templates", "targets")
_PACKAGE = Path(__file__).resolve().parent


def resource_dir(kind: str) -> Path:
    """Directory of a shipped resource tree: 'runtime', 'templates' or 'targets'."""
    if kind not in KINDS:
        raise KeyError(kind)
    installed = _PACKAGE / f"_{kind}"
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent.parent / kind
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"dnnc's {kind}/ tree is missing (looked in {installed} and {checkout})")
