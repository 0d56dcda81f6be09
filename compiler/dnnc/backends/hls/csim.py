"""C-simulation: build the emitted HLS C++ and its testbench with a plain C++ compiler, stream frames.

No vendor tool: the testbench uses dnnc's own hls::stream (runtime/hls/dnnc_hls_stream.h). The
compiler and flags come from the target's [csim] table; -ffp-contract=off keeps the float32 affine
bit-exact.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from dnnc.errors import DnncError
from dnnc.fsutil import child_env, scratch_dir
from dnnc.ir.outputs import Outputs


def build(hls_dir: Path, name: str, target: dict, sanitize: bool = False) -> Path:
    """Compile tb_<name> in hls_dir; compiler diagnostics (warnings included) raise DnncError."""
    csim = target["csim"]
    flags = [*csim["flags"], *(csim["sanitize"] if sanitize else [])]
    exe = hls_dir / f"tb_{name}"
    cmd = [csim["cxx"], *flags, "-DDNNC_OWN_STREAM", "-o", str(exe),
           f"tb_{name}.cpp", f"{name}_top.cpp"]
    proc = subprocess.run(cmd, cwd=hls_dir, check=False, capture_output=True, text=True, env=child_env(hls_dir))
    if proc.returncode != 0 or proc.stderr.strip():
        raise DnncError(f"C-simulation build failed ({' '.join(cmd)}): {proc.stderr.strip()[:2000]}")
    return exe


def execute(exe: Path, raw: np.ndarray, classes: int) -> Outputs:
    """Run the testbench on raw uint8 frames (N, C, H, W) and parse its binary records."""
    raw = np.ascontiguousarray(raw) if raw.dtype == np.float32 else np.ascontiguousarray(raw, dtype=np.uint8)
    n = raw.shape[0]
    with scratch_dir("dnnc-csim-io-") as tmp:
        fin, fout = tmp / "in.bin", tmp / "out.bin"
        fin.write_bytes(raw.tobytes())
        proc = subprocess.run([str(exe), str(fin), str(fout), str(n)], check=False, capture_output=True, text=True,
                              env=child_env(tmp))
        if proc.returncode != 0 or proc.stderr.strip():
            raise DnncError(f"C-simulation failed (exit {proc.returncode}): {proc.stderr.strip()[:2000]}")
        rec = np.dtype([("acc", "<i4", (classes,)), ("logits", "<u4", (classes,)), ("cls", "<u4")])
        data = np.frombuffer(fout.read_bytes(), dtype=rec)
    if data.shape[0] != n:
        raise DnncError(f"C-simulation wrote {data.shape[0]} results for {n} frames")
    return Outputs(acc=data["acc"].astype(np.int32), logits=data["logits"].view(np.float32).copy(),
                   cls=data["cls"].astype(np.int64))
