"""The generated C library as a user builds it: the runtime headers it ships are exactly those its model.c
includes, and (below) its build at every optimization level, names that cannot collide, its Makefile and CMake."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from dnnc.backends import c as cbackend
from dnnc.backends.c import emit
from dnnc.frontend import from_net
from dnnc.targets import load_target
from models import conv_model, output_only_model

needs_arm_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                   reason="arm-none-eabi-gcc not installed (tools/setup.sh)")


def _target(name: str, **overrides) -> dict:
    target = load_target(name)
    target.update(overrides)
    return target


def _compile(net, name: str, target: dict, out: Path) -> Path:
    out.mkdir(parents=True)
    cbackend.compile(from_net(net, name).ir, target, out)
    return out


def _included_runtime_headers(target: dict, lib: Path) -> set[str]:
    """runtime/ headers the target's compiler opens for model.c (its dependency list, -MM)."""
    cmd = [target["cc"], *target["cpu_flags"], *target["cflags"], *emit.defines(target), "-MM",
           f"-I{lib}", f"-I{lib / 'runtime'}", str(lib / "model.c")]
    deps = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.replace("\\\n", " ").split()[1:]
    return {Path(d).name for d in deps if Path(d).parent.name == "runtime"}


TARGETS = {
    "cortex-m4": pytest.param(("cortex-m4", {}), marks=needs_arm_gcc),
    "host-lanes": ("host", {"lanes": 16}),
    "host-plain": ("host", {"lanes": 0}),
}


@pytest.mark.parametrize("case", list(TARGETS.values()), ids=list(TARGETS))
@pytest.mark.parametrize("make_net", [conv_model, output_only_model], ids=["conv", "output-only"])
def test_ships_exactly_the_runtime_headers_model_c_includes(tmp_path, case, make_net):
    name, overrides = case
    target = _target(name, **overrides)
    lib = _compile(make_net("binary" if make_net is conv_model else "quaternary"), "m", target, tmp_path / "lib")
    shipped = {p.name for p in (lib / "runtime").iterdir()}
    assert shipped == _included_runtime_headers(target, lib)
    assert ("dnnc_bitact_v7em.h" in shipped) == (name == "cortex-m4")
    assert ("dnnc_lanes.h" in shipped) == bool(overrides.get("lanes"))
