"""Brevitas' own bnn_pynq networks (TFC, SFC, LFC, CNV at W1A1) exported by Brevitas, then verified by dnnc.

Why: these are the files a FINN user hands over. They are built here with `model_with_cfg(name,
pretrained=False)` (no download), their batch-norm statistics calibrated by running data through in train
mode (the bundled MNIST digits as x = p / 255 for the FC nets, uniform random images for CNV), per-layer
random gamma/beta, and in every BN layer three channels given gamma < 0 and one gamma = 0, then exported with
`brevitas.export.export_qonnx` (opset 20, weights in an external-data file beside the .onnx).

    python benchmarks/bnn_pynq.py --out DIR [--nets tfc_1w1a,cnv_1w1a] [--verify ir,host,cortex-m4,fpga-hls -n N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

NETS = ("tfc_1w1a", "sfc_1w1a", "lfc_1w1a", "cnv_1w1a")


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
