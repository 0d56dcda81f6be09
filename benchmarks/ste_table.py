"""STE baseline rows for the paper table: Brevitas-trained binary/ternary sign networks on the bundled data.

Each row trains one STE baseline (`dnnc.train.ste`: BNN-style STE, Hubara et al. 2016; stochastic
binarization, Lin et al. 2015), exports it through Brevitas' QONNX export, loads that file through dnnc
(QONNX import + passes) and reports the test error of the deployed integer network (IR interpreter on the
2000 bundled test digits) beside the error of the Brevitas model itself (float32 PyTorch). Rows of the
distribution-trained models can be added from a JSON list (--distribution-json, e.g. paper_table.json).

  nice python benchmarks/ste_table.py --arch mnist-pi --epochs 10 --out benchmarks/ste_table.json
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


def run_row(arch: str, method: str, weights: str, epochs: int, seed: int, train_limit: int | None) -> dict:
    from dnnc.data.bundled import mnist10k
    from dnnc.frontend import load_model
    from dnnc.interchange.brevitas_export import export_ste
    from dnnc.ir import interpreter
    from dnnc.train.ste import test_error, train_ste

    t0 = time.perf_counter()
    res = train_ste(arch, weights, method, epochs=epochs, seed=seed, train_limit=train_limit, progress=True)
    seconds = time.perf_counter() - t0
    x, y = mnist10k("test")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ste.onnx"
        export_ste(res["model"], res["input_shape"], path)
        loaded = load_model(path)
    pred = interpreter.run(loaded.ir, x).cls
    return {"method": method, "weights": weights, "arch": res["arch"], "epochs": epochs, "seed": seed,
            "train_samples": 7000 if train_limit is None else train_limit,
            "val_error": res["best"]["val_error"], "best_epoch": res["best"]["epoch"],
            "test_error_brevitas": test_error(res["model"]),
            "test_error_deployed": float(np.mean(pred != y)), "train_seconds": round(seconds, 1)}


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
    lines = ["| method | weights | arch | epochs | test error (deployed dnnc IR) | test error (Brevitas float) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        brev = f"{100 * r['test_error_brevitas']:.2f} %" if "test_error_brevitas" in r else "-"
        lines.append(f"| {r['method']} | {r['weights']} | {r['arch']} | {r.get('epochs', '-')} | "
                     f"{100 * r['test_error_deployed']:.2f} % | {brev} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="mnist-pi")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--rows", default=",".join(f"{m}:{w}" for m, w in ROWS), help="method:weights,...")
    ap.add_argument("--distribution-json", type=Path, default=None,
                    help="paper_table.json of benchmarks/paper_table.py (or a JSON list of rows) to show beside")
    ap.add_argument("--out", type=Path, default=None, help="Write the rows as JSON here.")
    args = ap.parse_args(argv)
    rows = distribution_rows(json.loads(args.distribution_json.read_text())) if args.distribution_json else []
    for spec in args.rows.split(","):
        method, weights = spec.split(":")
        row = run_row(args.arch, method, weights, args.epochs, args.seed, args.train_limit)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
        if args.out:
            args.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
