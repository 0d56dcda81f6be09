"""Target facts are data: one TOML file per target in targets/ (word size, compiler, flags, budgets)."""

from __future__ import annotations

import tomllib

from dnnc.errors import DnncError
from dnnc.resources import resource_dir


def available_targets() -> list[str]:
    return sorted(p.stem for p in resource_dir("targets").glob("*.toml"))


def load_target(name: str) -> dict:
    """The parsed targets/<name>.toml, with its name under 'name'."""
    path = resource_dir("targets") / f"{name}.toml"
    if not path.is_file():
        raise DnncError(f"unknown target '{name}' (available: {', '.join(available_targets()) or 'none'})")
    with path.open("rb") as fh:
        cfg = tomllib.load(fh)
    cfg["name"] = name
    return cfg
