"""Collapse a distribution checkpoint into a DiscreteNet (dnnc.netspec), and run DiscreteNets in torch.

mode 'most-probable': argmax of the logits per weight (ties to the first value), batch norm as trained
(its statistics were re-estimated on exactly this net after every epoch).
mode 'sample': one categorical draw per weight from a seeded generator; the batch-norm statistics are
then re-estimated on that sampled net (one pass over the shuffled training data, EMA alpha = 0.1,
starting from the checkpoint's statistics), because the trained ones belong to the MAP net.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from dnnc.data.datasets import Dataset, load_dataset
from dnnc.errors import DnncError
from dnnc.netspec import BatchNorm, DiscreteNet, LinearLayer
from dnnc.train.model import BN_ALPHA
from dnnc.train.weights import most_probable_index, sample_index
from dnnc.vocabulary import WEIGHT_SETS, same_pad

MODES = ("most-probable", "sample")


def collapse(ckpt: dict, mode: str = "most-probable", seed: int = 0,
             dataset: str | Dataset | None = None, batch_size: int = 100) -> DiscreteNet:
    """The discrete network of a discrete-weight sign checkpoint (see module docstring)."""
    if mode not in MODES:
        raise DnncError(f"unknown collapse mode {mode!r} ({', '.join(MODES)})")
    if ckpt["weights"] not in WEIGHT_SETS or ckpt["activation"] != "sign":
        raise DnncError(f"only discrete-weight sign networks collapse to a DiscreteNet; this checkpoint is "
                        f"{ckpt['weights']} + {ckpt['activation']}")
    codes = np.asarray(WEIGHT_SETS[ckpt["weights"]][0], np.int8)
    rng = np.random.default_rng(seed)
    hidden: list[LinearLayer] = []
    entries = ckpt["layers"]
    for i, e in enumerate(entries):
        if "logits" not in e:
            raise DnncError(f"layer {i}: no weight logits (a real-weight entry in a {ckpt['weights']} checkpoint)")
        logits = e["logits"].double().numpy()
        want = 5 if e["kind"] == "conv" else 3
        if logits.ndim != want or logits.shape[0] != len(codes) or 0 in logits.shape:
            raise DnncError(f"layer {i}: {e['kind']} logits of shape {logits.shape}; expected {want} dims with "
                            f"{len(codes)} {ckpt['weights']} values first")
        idx = most_probable_index(logits) if mode == "most-probable" else sample_index(logits, rng)
        w = codes[idx]
        kernel = int(e.get("kernel") or 0)
        layer = LinearLayer(e["kind"], w, ckpt["weights"], padding=same_pad(kernel) if e["kind"] == "conv" else 0,
                            pool=int(e.get("pool") or 0))
        if i < len(entries) - 1:
            layer.bn = BatchNorm(*(e[k].double().numpy().copy() for k in ("gamma", "beta", "mean", "inv_std")))
            hidden.append(layer)
        else:
            layer.bias = ckpt["bias"].double().numpy().copy()
            layer.out_scale = 1.0 / math.sqrt(w.shape[1] + 1)
            output = layer
    norm = ckpt["input_norm"]
    net = DiscreteNet(tuple(ckpt["input_shape"]), hidden, output, int(norm["input_mul"]),
                      int(norm["input_add"]), int(norm["input_div"]), ckpt["arch"],
                      {"weights": ckpt["weights"], "collapse": mode, "seed": seed,
                       "dataset": ckpt.get("dataset", "")})
    if mode == "sample":
        data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset or ckpt.get("dataset", "mnist10k"))
        x, _ = data.split("train")
        limit = (ckpt.get("options") or {}).get("train_limit")
        x = x[:limit] if limit else x
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(x), generator=gen).numpy()
        for lo in range(0, len(x), batch_size):
            forward_torch(net, x[order[lo:lo + batch_size]], update_bn=True)
    net.validate()
    return net


def forward_torch(net: DiscreteNet, raw: np.ndarray, update_bn: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The discrete net in torch float64: (logits, class). Same semantics as netspec.forward_float64.

    update_bn: fold each layer's batch statistics into net's running BN (EMA alpha = 0.1) before
    applying it, layer by layer (the prediction-path BN re-estimation).
    """
    x = (net.input_mul * torch.from_numpy(np.asarray(raw)).double() + net.input_add) / net.input_div
    x = x.reshape((len(raw), *net.input_shape))
    with torch.no_grad():
        for layer in net.hidden:
            w = torch.from_numpy(layer.weight.astype(np.float64))
            if layer.kind == "conv":
                a = F.conv2d(x, w, stride=layer.stride, padding=layer.padding)
            else:
                a = x.flatten(1) @ w.t()
            a = a * layer.weight_scale
            if layer.pool:
                a = F.max_pool2d(a, layer.pool)
            bn = layer.bn
            if update_bn:
                dims = [0] + list(range(2, a.ndim))
                n = a.numel() // a.shape[1]
                m_b = a.mean(dims)
                shape = (1, -1) + (1,) * (a.ndim - 2)
                v_b = (a - m_b.reshape(shape)).square().sum(dims) / max(n - 1, 1)
                inv_b = torch.rsqrt(v_b + 1e-8)
                bn.mean = (1 - BN_ALPHA) * bn.mean + BN_ALPHA * m_b.numpy()
                bn.inv_std = (1 - BN_ALPHA) * bn.inv_std + BN_ALPHA * inv_b.numpy()
            shape = (1, -1) + (1,) * (a.ndim - 2)
            scale = torch.from_numpy(bn.gamma * bn.inv_std).reshape(shape)
            shift = torch.from_numpy(bn.beta - bn.gamma * bn.inv_std * bn.mean).reshape(shape)
            x = torch.where(a * scale + shift >= 0, 1.0, -1.0).double()
        out = net.output
        acc = x.flatten(1) @ torch.from_numpy(out.weight.astype(np.float64)).t()
        logits = (out.weight_scale * acc + torch.from_numpy(out.bias.astype(np.float64))) * out.out_scale
    logits_np = logits.numpy()
    return logits_np, np.argmax(logits_np, axis=1)
