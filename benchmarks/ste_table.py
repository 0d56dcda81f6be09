"""STE baseline rows for the paper table: Brevitas-trained binary/ternary sign networks on the bundled data.

Each row trains one STE baseline (`dnnc.train.ste`: BNN-style STE, Hubara et al. 2016; stochastic
binarization, Lin et al. 2015), exports it through Brevitas' QONNX export, loads that file through dnnc
(QONNX import + passes) and reports the test error of the deployed integer network (IR interpreter on the
2000 bundled test digits) beside the error of the Brevitas model itself (float32 PyTorch). Rows of the
distribution-trained models can be added from a JSON list (--distribution-json, e.g. paper_table.json).

  nice python benchmarks/ste_table.py --arch mnist-pi --epochs 10 --out benchmarks/ste_table.json

Rows are method:weights[:aK] (K activation bits, bnn_pynq's signed narrow quantizer; default 1 = sign).
Every row also runs the exported file itself in qonnx's executor on the test digits (the reference for a
QONNX file); `--file F.onnx` does only that for a file written by `dnnc train --method ste`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS = (("ste", "binary"), ("ste", "ternary"), ("ste-stochastic", "binary"))


def qonnx_test_error(path: Path) -> float:
    """Test error of the QONNX file itself, executed by qonnx (one sample at a time) on the test digits."""
    import onnx
    from dnnc.data.bundled import mnist10k
    from dnnc.verify.qonnx_reference import run_qonnx

    x, y = mnist10k("test")
    logits, _ = run_qonnx(onnx.load(str(path)), x)
    return float(np.mean(logits.reshape(len(x), -1).argmax(1) != y))


def run_row(arch: str, method: str, weights: str, epochs: int, seed: int, train_limit: int | None,
            act_bits: int = 1) -> dict:
    from dnnc.data.bundled import mnist10k
    from dnnc.errors import DnncError
    from dnnc.frontend import load_model
    from dnnc.interchange.brevitas_export import export_ste
    from dnnc.ir import interpreter
    from dnnc.train.ste import test_error, train_ste

    t0 = time.perf_counter()
    res = train_ste(arch, weights, method, epochs=epochs, seed=seed, train_limit=train_limit, progress=True,
                    act_bits=act_bits)
    seconds = time.perf_counter() - t0
    x, y = mnist10k("test")
    deployed = None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ste.onnx"
        export_ste(res["model"], res["input_shape"], path)
        err_qonnx = qonnx_test_error(path)
        try:
            deployed = float(np.mean(interpreter.run(load_model(path).ir, x).cls != y))
        except DnncError as exc:  # a compiler without k-bit activations refuses the file
            print(f"dnnc import: {exc}", file=sys.stderr)
    return {"method": method, "weights": weights, "act_bits": act_bits, "arch": res["arch"], "epochs": epochs,
            "seed": seed, "train_samples": 7000 if train_limit is None else train_limit,
            "val_error": res["best"]["val_error"], "best_epoch": res["best"]["epoch"],
            "test_error_brevitas": test_error(res["model"]), "test_error_qonnx": err_qonnx,
            "test_error_deployed": deployed, "train_seconds": round(seconds, 1)}


def distribution_rows(data) -> list[dict]:
    """Rows from benchmarks/paper_table.py's paper_table.json (mean over seeds), or a list of rows as is."""
    if isinstance(data, list):
        return data
    arch, epochs = data["args"].get("arch", "?"), data["args"].get("epochs", "-")
    return [{"method": "real (tanh)" if m == "real" else m, "weights": w, "arch": arch,
             "epochs": epochs if m != "real" else data["args"].get("pretrain_epochs", "-"),
             "test_error_deployed": float(np.mean(errs))}
            for (m, w), errs in zip(data["rows"], data["errors"], strict=True) if errs]


def markdown(rows: list[dict]) -> str:
    lines = [("| method | weights | act bits | arch | epochs | test error (deployed dnnc IR) | "
             "test error (file in qonnx) | test error (Brevitas float) |"), "| --- " * 8 + "|"]

    def pct(r: dict, key: str) -> str:
        return f"{100 * r[key]:.2f} %" if r.get(key) is not None else "-"
    for r in rows:
        lines.append(f"| {r['method']} | {r['weights']} | {r.get('act_bits', 1)} | {r['arch']} | "
                     f"{r.get('epochs', '-')} | {pct(r, 'test_error_deployed')} | {pct(r, 'test_error_qonnx')} | "
                     f"{pct(r, 'test_error_brevitas')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="mnist-pi")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--rows", default=",".join(f"{m}:{w}" for m, w in ROWS), help="method:weights[:aK],...")
    ap.add_argument("--file", type=Path, default=None, help="Only run this QONNX file in qonnx: test error.")
    ap.add_argument("--distribution-json", type=Path, default=None,
                    help="paper_table.json of benchmarks/paper_table.py (or a JSON list of rows) to show beside")
    ap.add_argument("--out", type=Path, default=None, help="Write the rows as JSON here.")
    args = ap.parse_args(argv)
    if args.file:
        print(json.dumps({"file": str(args.file), "test_error_qonnx": qonnx_test_error(args.file)}))
        return 0
    rows = distribution_rows(json.loads(args.distribution_json.read_text())) if args.distribution_json else []
    for spec in args.rows.split(","):
        method, weights, *bits = spec.split(":")
        act_bits = int(bits[0].lstrip("a")) if bits else 1
        row = run_row(args.arch, method, weights, args.epochs, args.seed, args.train_limit, act_bits)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
        if args.out:
            args.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
