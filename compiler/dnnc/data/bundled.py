"""The bundled 10k real MNIST digits (see README.md beside this file), split 7000/1000/2000."""

from __future__ import annotations

import importlib.resources

import numpy as np

SPLITS = {"train": (0, 7000), "val": (7000, 8000), "test": (8000, 10000)}


def mnist10k(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 1, 28, 28), labels int64 (N,)) of one split: 'train', 'val' or 'test'."""
    lo, hi = SPLITS[split]
    with importlib.resources.files("dnnc.data").joinpath("mnist10k.npz").open("rb") as fh:
        data = np.load(fh)
        images, labels = data["images"][lo:hi], data["labels"][lo:hi]
    return images[:, None, :, :].copy(), labels.astype(np.int64)
