"""Datasets by spec string: mnist10k | mnist:DIR | cifar10:DIR | svhn:DIR, as uint8 NCHW splits.

Inputs stay raw integers here; the network sees x = (2p - 255)/255 in [-1, 1] (the paper's
normalization), recorded in every checkpoint as NORM so the compiler can fold it into thresholds.
Splits follow the paper's scripts (training-method.md b.9): MNIST 50k/10k/10k, CIFAR-10 45k/5k/10k
(validation = last 5k of data_batch_5), SVHN validation = last 400 per class of train (+ last 200 per
class of extra when extra_32x32.mat is present). Missing files raise DnncError naming the path.
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from dnnc.data.bundled import mnist10k
from dnnc.errors import DnncError

NORM = {"input_mul": 2, "input_add": -255, "input_div": 255}


@dataclass
class Dataset:
    name: str  # the spec string
    input_shape: tuple[int, int, int]
    classes: int
    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (uint8 (N, C, H, W), int64 (N,))

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.splits:
            raise DnncError(f"dataset {self.name}: unknown split {name!r} (train, val, test)")
        return self.splits[name]


def normalize(raw: np.ndarray, dtype=np.float32) -> np.ndarray:
    """x = (2p - 255) / 255, the recorded input normalization."""
    return ((NORM["input_mul"] * raw.astype(np.float64) + NORM["input_add"]) / NORM["input_div"]).astype(dtype)


def _need(path: Path) -> Path:
    if path.exists():
        return path
    gz = path.with_name(path.name + ".gz")
    if gz.exists():
        return gz
    raise DnncError(f"{path}: dataset file not found")


MAX_IDX_BYTES = 1 << 31


def _read_idx(path: Path) -> np.ndarray:
    path = _need(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read(MAX_IDX_BYTES + 1)  # bounded: a small .gz can inflate to anything
        if len(data) > MAX_IDX_BYTES:
            raise ValueError(f"more than {MAX_IDX_BYTES} bytes")
        if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 8:
            raise ValueError("bad magic")
        ndim = data[3]
        dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
        arr = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
        return arr.reshape(dims)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: a truncated .gz
        raise DnncError(f"{path}: not a uint8 IDX file ({' '.join(str(exc).split())})") from None


def load_mnist(directory: Path) -> Dataset:
    tr_x = _read_idx(directory / "train-images-idx3-ubyte")
    tr_y = _read_idx(directory / "train-labels-idx1-ubyte")
    te_x = _read_idx(directory / "t10k-images-idx3-ubyte")
    te_y = _read_idx(directory / "t10k-labels-idx1-ubyte")
    if len(tr_x) != len(tr_y) or len(te_x) != len(te_y) or tr_x.ndim != 3:
        raise DnncError(f"{directory}: MNIST image and label files do not match")
    n_val = 10000 if len(tr_x) > 20000 else len(tr_x) // 6
    tr_x, te_x = tr_x[:, None], te_x[:, None]
    splits = {"train": (tr_x[:-n_val], tr_y[:-n_val]), "val": (tr_x[-n_val:], tr_y[-n_val:]),
              "test": (te_x, te_y)}
    return Dataset(f"mnist:{directory}", (1, 28, 28), 10, _labels64(splits))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only: a dataset file cannot run code."""

    ALLOWED: ClassVar[set] = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    path = _need(path)
    try:
        with open(path, "rb") as fh:
            d = _ArrayUnpickler(fh, encoding="bytes").load()
        x = np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(d[b"labels"], np.int64)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a bad file
        raise DnncError(f"{path}: not a CIFAR-10 python batch ({exc})") from None
    return x, y


def load_cifar10(directory: Path) -> Dataset:
    if (directory / "cifar-10-batches-py").is_dir():
        directory = directory / "cifar-10-batches-py"
    parts = [_cifar_batch(directory / f"data_batch_{i}") for i in range(1, 6)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    n_val = len(parts[-1][0]) // 2 if len(x) < 50000 else 5000
    splits = {"train": (x[:-n_val], y[:-n_val]), "val": (x[-n_val:], y[-n_val:]),
              "test": _cifar_batch(directory / "test_batch")}
    return Dataset(f"cifar10:{directory}", (3, 32, 32), 10, _labels64(splits))


def _svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.exists():
        raise DnncError(f"{path}: dataset file not found")
    try:
        from scipy.io import loadmat

        d = loadmat(path)
        x = np.ascontiguousarray(np.asarray(d["X"], np.uint8).transpose(3, 2, 0, 1))
        y = np.asarray(d["y"], np.int64).reshape(-1) % 10  # the files label digit 0 as 10
    except ImportError:
        raise DnncError("reading SVHN .mat files needs scipy (pip install scipy)") from None
    except Exception as exc:  # noqa: BLE001
        raise DnncError(f"{path}: not an SVHN .mat file ({exc})") from None
    return x, y


def _tail_per_class(y: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the last k examples of each class."""
    mask = np.zeros(len(y), bool)
    for c in np.unique(y):
        mask[np.flatnonzero(y == c)[-k:]] = True
    return mask


def load_svhn(directory: Path) -> Dataset:
    tr_x, tr_y = _svhn_mat(directory / "train_32x32.mat")
    te = _svhn_mat(directory / "test_32x32.mat")
    val_mask = _tail_per_class(tr_y, 400)
    xs_tr, ys_tr = [tr_x[~val_mask]], [tr_y[~val_mask]]
    xs_va, ys_va = [tr_x[val_mask]], [tr_y[val_mask]]
    if (directory / "extra_32x32.mat").exists():
        ex_x, ex_y = _svhn_mat(directory / "extra_32x32.mat")
        m = _tail_per_class(ex_y, 200)
        xs_tr.append(ex_x[~m]), ys_tr.append(ex_y[~m]), xs_va.append(ex_x[m]), ys_va.append(ex_y[m])
    splits = {"train": (np.concatenate(xs_tr), np.concatenate(ys_tr)),
              "val": (np.concatenate(xs_va), np.concatenate(ys_va)), "test": te}
    return Dataset(f"svhn:{directory}", (3, 32, 32), 10, _labels64(splits))


def _labels64(splits):
    return {k: (np.ascontiguousarray(x, np.uint8), np.asarray(y, np.int64)) for k, (x, y) in splits.items()}


def load_dataset(spec: str) -> Dataset:
    """Load a dataset by spec string; DnncError for an unknown spec or missing files."""
    if spec == "mnist10k":
        splits = {s: mnist10k(s) for s in ("train", "val", "test")}
        return Dataset("mnist10k", (1, 28, 28), 10, splits)
    kind, sep, directory = spec.partition(":")
    loaders = {"mnist": load_mnist, "cifar10": load_cifar10, "svhn": load_svhn}
    if not sep or kind not in loaders or not directory:
        raise DnncError(f"unknown dataset {spec!r} (mnist10k, mnist:DIR, cifar10:DIR, svhn:DIR)")
    path = Path(directory)
    if not path.is_dir():
        raise DnncError(f"{path}: dataset directory not found")
    return loaders[kind](path)
