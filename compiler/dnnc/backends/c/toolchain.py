"""What a target's C compiler offers, asked of the compiler itself (its predefined macros for the target's flags)."""

from __future__ import annotations

import functools
import shutil
import subprocess

# What runtime/dnnc_lanes.h needs for each set of its vector kernels (predefined macros of the target's compiler
# and flags): AVX-512 (+ GFNI), AVX2 (x86-64-v3), NEON (AArch64)
LANES_MACROS = {
    "avx512": ("__AVX512F__", "__AVX512BW__", "__AVX512VNNI__", "__AVX512VPOPCNTDQ__", "__GFNI__"),
    "avx2": ("__AVX2__",),
    "neon": ("__ARM_NEON", "__aarch64__"),
}


@functools.cache
def _predefined_macros(cc: str, flags: tuple[str, ...]) -> frozenset[str]:
    try:
        out = subprocess.run([cc, *flags, "-dM", "-E", "-x", "c", "-"], input="", capture_output=True, text=True,
                             timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.split()[1] for line in out.splitlines() if line.startswith("#define "))


def vector_kernels(target: dict) -> str | None:
    """Which vector kernels of runtime/dnnc_lanes.h the target's compiler and cpu_flags build ("avx512", "avx2",
    "neon"), None for its plain C."""
    cc = shutil.which(target["cc"])
    macros = _predefined_macros(cc, tuple(target["cpu_flags"])) if cc else frozenset()
    return next((isa for isa, need in LANES_MACROS.items() if all(m in macros for m in need)), None)


def vector_lanes(target: dict) -> int:
    """Outputs per vector of the output-lane layout: the target's `lanes`, or for "auto" 16 when its compiler and
    cpu_flags build vector kernels of runtime/dnnc_lanes.h (AVX-512, AVX2 or NEON), else 0 (the plain layout,
    vectorized by the compiler, is faster than the lane layout's plain C)."""
    lanes = target["lanes"]  # "auto", 0 or 16: checked when the target file was loaded
    if lanes != "auto":
        return lanes
    return 16 if vector_kernels(target) else 0
