"""Evaluation of a checkpoint: the collapsed discrete net (float64, sign(0) = +1), or for real and
tanh nets (which have no DiscreteNet form) their deterministic prediction path."""

from __future__ import annotations

import os

import numpy as np
import torch

from dnnc.data.datasets import load_dataset
from dnnc.train.checkpoint import from_checkpoint, load_checkpoint


def predict_checkpoint(ckpt: dict, raw: np.ndarray, mode: str = "most-probable", seed: int = 0,
                       dataset=None) -> np.ndarray:
    """Class predictions of the checkpoint's deployed network on uint8 images."""
    from dnnc.train.collapse import collapse, forward_torch

    if ckpt["weights"] != "real" and ckpt["activation"] == "sign":
        net = collapse(ckpt, mode=mode, seed=seed, dataset=dataset)
        return np.concatenate([forward_torch(net, raw[lo:lo + 500])[1] for lo in range(0, len(raw), 500)])
    from dnnc.train.loop import to_input

    model = from_checkpoint(ckpt).double().eval()
    with torch.no_grad():
        return np.concatenate([model.predict(to_input(raw[lo:lo + 500]).double()).argmax(1).numpy()
                               for lo in range(0, len(raw), 500)])


def evaluate_checkpoint(path: str | os.PathLike, dataset: str | None = None, split: str = "test",
                        mode: str = "most-probable", seed: int = 0) -> dict:
    ckpt = load_checkpoint(path)
    data = load_dataset(dataset or ckpt.get("dataset", "mnist10k"))
    x, y = data.split(split)
    pred = predict_checkpoint(ckpt, x, mode, seed, data)
    errors = int((pred != y).sum())
    kind = "discrete" if ckpt["activation"] == "sign" else f"{ckpt['weights']}+tanh"
    return {"checkpoint": str(path), "dataset": data.name, "split": split, "network": kind,
            "collapse": mode if kind == "discrete" else None, "errors": errors, "samples": len(y),
            "error": errors / max(len(y), 1), "arch": ckpt["arch"], "weights": ckpt["weights"]}
