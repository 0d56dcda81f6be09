"""Simulation of the emitted Verilog: Verilator (`--binary --timing`) for verify and cycle counts, iverilog for a
synthesized netlist. Frames go in as a hex file of pixels in (H, W, C) order; the testbench writes one line
per frame: the accumulators, the class and the cycle its last beat left.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from dnnc.errors import DnncError
from dnnc.fsutil import child_env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DnncError(f"'{name}' not found on PATH (tools/setup.sh installs it)")
    return path


def build_verilator(rtl_dir: Path, name: str, sim: dict) -> Path:
    """Verilate the design and its testbench into one executable; Verilator's errors raise DnncError."""
    exe = f"sim_{name}"
    cmd = [_tool(sim["verilator"]), "--binary", "--timing", *sim["flags"], "--top-module", f"tb_{name}",
           "-o", exe, "--Mdir", "obj", "dnnc_rtl.v", f"{name}.v", f"tb_{name}.v"]
    proc = subprocess.run(cmd, cwd=rtl_dir, check=False, capture_output=True, text=True, env=child_env(rtl_dir))
    if proc.returncode != 0:
        raise DnncError(f"Verilator build failed ({' '.join(cmd)}): {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return rtl_dir / "obj" / exe


def build_iverilog(sim_dir: Path, name: str, sources: list[str], defines: list[str]) -> list[str]:
    """iverilog: compile the sources into sim_dir/<name>.vvp; the command that runs it."""
    out = sim_dir / f"{name}.vvp"
    cmd = [_tool("iverilog"), "-g2012", *[f"-D{d}" for d in defines], "-s", f"tb_{name}", "-o", str(out), *sources]
    proc = subprocess.run(cmd, cwd=sim_dir, check=False, capture_output=True, text=True, env=child_env(sim_dir))
    if proc.returncode != 0:
        raise DnncError(f"iverilog failed ({' '.join(cmd)}): {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return [_tool("vvp"), "-n", str(out)]


def nhwc_hex(raw: np.ndarray) -> str:
    """Frames (N, C, H, W) as one hex pixel a line in stream order (H, W, C)."""
    flat = np.ascontiguousarray(np.asarray(raw, np.uint8).transpose(0, 2, 3, 1)).reshape(-1)
    return "\n".join(f"{int(v):02x}" for v in flat) + "\n"


def execute(cmd: list[str], work: Path, raw: np.ndarray, classes: int, seed: int, stall: int,
            timeout: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a built simulation on raw frames: (acc int32 (N, K), class int64 (N,), cycle of each frame's end)."""
    n = raw.shape[0]
    fin, fout = work / "in.hex", work / "out.txt"
    fin.write_text(nhwc_hex(raw))
    if fout.exists():
        fout.unlink()
    args = [f"+in={fin}", f"+out={fout}", f"+n={n}", f"+seed={seed}", f"+stall={stall}"]
    try:
        proc = subprocess.run([*cmd, *args], cwd=work, check=False, capture_output=True, text=True, timeout=timeout,
                              env=child_env(work))
    except subprocess.TimeoutExpired:
        raise DnncError(f"simulation did not finish {n} frames in {timeout:.0f} s") from None
    if proc.returncode != 0 or not fout.exists():
        raise DnncError(f"simulation failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}")
    rows = [line.split() for line in fout.read_text().splitlines() if line.strip()]
    if len(rows) != n or any(len(r) != classes + 2 for r in rows):
        raise DnncError(f"simulation wrote {len(rows)} results for {n} frames")
    data = np.array(rows, dtype=np.int64)
    return data[:, :classes].astype(np.int32), data[:, classes], data[:, classes + 1]
