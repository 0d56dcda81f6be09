"""Dataset loaders on small synthetic files in the real formats, and their errors."""

from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
from dnnc.data.bundled import mnist10k
from dnnc.data.datasets import load_dataset, normalize
from dnnc.errors import DnncError


def _idx(path, arr: np.ndarray, gz=False):
    head = b"\0\0\x08" + bytes([arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data = head + arr.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def test_bundled_split_sizes_and_normalization():
    ds = load_dataset("mnist10k")
    assert [len(ds.split(s)[0]) for s in ("train", "val", "test")] == [7000, 1000, 2000]
    assert np.array_equal(ds.split("test")[0], mnist10k("test")[0])
    assert normalize(np.array([0, 255], np.uint8)).tolist() == [-1.0, 1.0]


def test_mnist_idx_directory(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60, 28, 28))
    _idx(tmp_path / "train-images-idx3-ubyte", x)
    _idx(tmp_path / "train-labels-idx1-ubyte", np.arange(60) % 10, gz=True)
    _idx(tmp_path / "t10k-images-idx3-ubyte", x[:12])
    _idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(12) % 10)
    ds = load_dataset(f"mnist:{tmp_path}")
    tr, va, te = (ds.split(s) for s in ("train", "val", "test"))
    assert tr[0].shape == (50, 1, 28, 28) and va[0].shape == (10, 1, 28, 28) and te[0].shape == (12, 1, 28, 28)
    assert np.array_equal(va[0][:, 0], x[50:]) and va[1].tolist() == list(range(10))
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(DnncError, match="t10k-labels-idx1-ubyte"):
        load_dataset(f"mnist:{tmp_path}")


def test_cifar10_batches(tmp_path):
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, (20, 3072)).astype(np.uint8), b"labels": list(rng.integers(0, 10, 20))}
        with open(tmp_path / name, "wb") as fh:
            pickle.dump(d, fh)
    ds = load_dataset(f"cifar10:{tmp_path}")
    assert ds.input_shape == (3, 32, 32) and ds.split("train")[0].shape == (90, 3, 32, 32)
    assert ds.split("val")[0].shape == (10, 3, 32, 32) and ds.split("test")[1].dtype == np.int64


def test_cifar10_rejects_code_in_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(tmp_path / name, "wb") as fh:
            pickle.dump({b"data": Evil(), b"labels": []}, fh)
    with pytest.raises(DnncError, match="data_batch_1"):
        load_dataset(f"cifar10:{tmp_path}")


def test_svhn_mat(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(1, 11), 450)[:, None]  # label 10 = digit 0
    scipy_io.savemat(tmp_path / "train_32x32.mat", {"X": rng.integers(0, 256, (32, 32, 3, 4500)).astype(np.uint8), "y": y})
    scipy_io.savemat(tmp_path / "test_32x32.mat", {"X": np.zeros((32, 32, 3, 5), np.uint8), "y": np.full((5, 1), 10)})
    ds = load_dataset(f"svhn:{tmp_path}")
    assert ds.split("val")[0].shape == (4000, 3, 32, 32) and ds.split("train")[0].shape == (500, 3, 32, 32)
    assert ds.split("test")[1].tolist() == [0] * 5 and sorted(set(ds.split("val")[1].tolist())) == list(range(10))


@pytest.mark.parametrize("spec,needle", [("imagenet", "imagenet"), ("cifar10:/no/such/dir", "/no/such/dir"),
                                         ("svhn:", "svhn:")])
def test_bad_dataset_specs(spec, needle):
    with pytest.raises(DnncError, match=needle):
        load_dataset(spec)


def test_missing_files_named(tmp_path):
    with pytest.raises(DnncError, match="data_batch_1"):
        load_dataset(f"cifar10:{tmp_path}")
    with pytest.raises(DnncError, match="train_32x32.mat"):
        load_dataset(f"svhn:{tmp_path}")
