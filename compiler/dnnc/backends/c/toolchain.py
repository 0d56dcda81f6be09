"""What a target's C compiler offers, asked of the compiler itself (its predefined macros for the target's flags)."""

from __future__ import annotations

import functools
import shutil
import subprocess

# What runtime/dnnc_lanes.h needs for its vector kernels (predefined macros of the target's compiler and flags)
LANES_MACROS = ("__AVX512F__", "__AVX512BW__", "__AVX512VNNI__", "__AVX512VPOPCNTDQ__", "__GFNI__")


@functools.cache
def _predefined_macros(cc: str, flags: tuple[str, ...]) -> frozenset[str]:
    try:
        out = subprocess.run([cc, *flags, "-dM", "-E", "-x", "c", "-"], input="", capture_output=True, text=True,
                             timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.split()[1] for line in out.splitlines() if line.startswith("#define "))


def vector_lanes(target: dict) -> int:
    """Outputs per vector of the output-lane layout: the target's `lanes`, or for "auto" 16 when its compiler and
    cpu_flags enable the AVX-512 kernels of runtime/dnnc_lanes.h, else 0 (the plain layout, vectorized by the
    compiler, is faster without them)."""
    lanes = target["lanes"]  # "auto", 0 or 16: checked when the target file was loaded
    if lanes != "auto":
        return lanes
    cc = shutil.which(target["cc"])
    macros = _predefined_macros(cc, tuple(target["cpu_flags"])) if cc else frozenset()
    return 16 if all(m in macros for m in LANES_MACROS) else 0
