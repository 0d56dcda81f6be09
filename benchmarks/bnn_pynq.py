"""Brevitas' own bnn_pynq networks (TFC, SFC, LFC, CNV at W1A1; `--nets` also takes the k-bit ones, e.g.
tfc_1w2a, tfc_2w2a, sfc_2w2a, cnv_2w2a) exported by Brevitas, then verified by dnnc.

Why: these are the files a FINN user hands over. They are built here with `model_with_cfg(name,
pretrained=False)` (no download), their batch-norm statistics calibrated by running data through in train
mode (the bundled MNIST digits as x = p / 255 for the FC nets, uniform random images for CNV), per-layer
random gamma/beta, and in every BN layer three channels given gamma < 0 and one gamma = 0, then exported with
`brevitas.export.export_qonnx` (opset 20, weights in an external-data file beside the .onnx).

    python benchmarks/bnn_pynq.py --out DIR [--nets tfc_1w1a,cnv_1w1a] [--verify ir,host,cortex-m4,fpga-hls -n N]
                                  [--hls] [--bench cortex-m4]

--hls compiles each net for fpga-hls at FINN's published folding (`FOLDINGS`) and prints dnnc's dataflow
estimates beside BNN-PYNQ's published PYNQ-Z1 figures; --bench runs `dnnc bench` (instructions, flash, RAM).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

NETS = ("tfc_1w1a", "sfc_1w1a", "lfc_1w1a", "cnv_1w1a")

# FINN's published foldings, MVAU i -> (PE, SIMD). TFC and CNV: finn-examples
# build/bnn-pynq/folding_config/{tfc,cnv}-w1a1_folding_config.json. LFC: BNN-PYNQ's LFC-W1A1 overlay config.h
# (L0 SIMD 64 PE 32 on 784 inputs padded to 832, L1 32/64, L2 64/32, L3 SIMD 8 PE 16 on 10 outputs padded to
# 64); dnnc does not pad, so L0 takes SIMD 56 (a divisor of 784: 14 cycles per row instead of 13) and L3 PE 10.
# SFC: no published W1A1 folding was found; dnnc's own balanced folding is used (None).
FOLDINGS: dict[str, list[tuple[int, int]] | None] = {
    "tfc_1w1a": [(16, 49), (8, 8), (8, 8), (10, 8)],
    "sfc_1w1a": None,
    "lfc_1w1a": [(32, 56), (64, 32), (32, 64), (10, 8)],
    "cnv_1w1a": [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)],
}
# BNN-PYNQ on PYNQ-Z1 (xc7z020, Vivado), as published (performance-anchors.md)
PUBLISHED = {"lfc_1w1a": {"LUT": 28360, "fps": 356633}, "cnv_1w1a": {"LUT": 26072, "fps": 9150}}


def hls_estimate(name: str, path: Path, out: Path) -> dict:
    """`dnnc compile --target fpga-hls --folding` at FINN's folding: dnnc's dataflow estimates (FINN-R)."""
    cmd = [sys.executable, "-m", "dnnc.cli", "compile", str(path), "-t", "fpga-hls", "-o", str(out)]
    fold = FOLDINGS.get(name)
    if fold is not None:
        cfg = {f"L{i}_mvau": {"PE": pe, "SIMD": simd} for i, (pe, simd) in enumerate(fold)}
        (out.parent / f"{name}_fold.json").write_text(json.dumps(cfg, indent=1))
        cmd += ["--folding", str(out.parent / f"{name}_fold.json")]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode:
        return {"net": name, "error": r.stderr.strip()}
    d = json.loads((out / "dataflow.json").read_text())
    sm = d["summary"]
    return {"net": name, "folding": "FINN published" if fold else "dnnc balance", "clock_ns": d["clock_ns"],
            "bottleneck": sm["bottleneck"], "max_cycles": sm["max_cycles"], "fps": round(sm["fps"]),
            "LUT": sm["LUT"], "BRAM_18K": sm["BRAM_18K"], "DSP": sm["DSP"],
            "published": PUBLISHED.get(name)}


def mcu_bench(path: Path, target: str) -> dict:
    r = subprocess.run([sys.executable, "-m", "dnnc.cli", "bench", str(path), "-t", target, "--json"],
                       capture_output=True, text=True, check=False)
    return json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr.strip()}


def export(name: str, path: Path, seed: int = 0) -> Path:
    """Build, calibrate and export one bnn_pynq network; returns the .onnx path."""
    import numpy as np
    import torch
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(seed)
    model, _ = model_with_cfg(name, pretrained=False)
    cnv = name.startswith("cnv")
    shape = (3, 32, 32) if cnv else (1, 28, 28)
    if cnv:
        data = torch.rand(256, *shape)
    else:
        from dnnc.data.bundled import mnist10k

        data = torch.from_numpy(mnist10k("train")[0][:512].astype(np.float32) / 255.0)
    model.train()
    with torch.no_grad():
        for i in range(0, len(data), 64):
            model(data[i:i + 64])
        g = torch.Generator().manual_seed(seed)
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
                m.weight[0:3] = -m.weight[0:3]  # gamma < 0: direction -1 channels
                m.weight[3] = 0.0  # gamma = 0: a constant channel
    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    export_qonnx(model, torch.rand(1, *shape), str(path))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--nets", default=",".join(NETS))
    ap.add_argument("--verify", default="", help="comma-separated targets to run `dnnc verify` on")
    ap.add_argument("-n", "--samples", type=int, default=1000)
    ap.add_argument("--hls", action="store_true", help="fpga-hls estimates at FINN's published foldings")
    ap.add_argument("--bench", default="", help="comma-separated bare-metal targets for `dnnc bench`")
    args = ap.parse_args()
    rows = []
    for name in args.nets.split(","):
        path = args.out / f"{name}.onnx"
        if not path.is_file():
            export(name, path)
        for target in filter(None, args.verify.split(",")):
            cmd = [sys.executable, "-m", "dnnc.cli", "verify", str(path), "-t", target, "-n", str(args.samples),
                   "--json"]
            r = subprocess.run(cmd, capture_output=True, text=True, check=False)
            rep = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {"error": r.stderr.strip()}
            rows.append({"net": name, "target": target, **{k: rep.get(k) for k in
                                                            ("samples", "mismatches", "ties_hit", "seconds", "error")}})
            print(json.dumps(rows[-1]), flush=True)
        if args.hls:
            print(json.dumps(hls_estimate(name, path, args.out / f"{name}_hls")), flush=True)
        for target in filter(None, args.bench.split(",")):
            print(json.dumps({"net": name, "target": target, **mcu_bench(path, target)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
