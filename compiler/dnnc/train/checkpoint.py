"""Checkpoints: a plain dict of tensors and primitives, saved atomically, loaded with weights_only=True.

Layout (FORMAT, version 1):
  format, version, arch (normalized string), input_shape [C, H, W], classes, weights (real|binary|
  ternary|quaternary|quinary), values (the real weight values, index order of the logits), activation
  (tanh|sign), input_norm {input_mul, input_add, input_div}, dataset, dropout [rate before each layer],
  layers: [{kind, kernel, pool, logits (D, *shape) | weight (*shape), gamma, beta, mean, inv_std}]
  (hidden layers carry the batch norm; mean/inv_std are the running statistics of the prediction path),
  bias, out_scale, history [per-epoch dicts], best {epoch, val_error}, seed, options.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from dnnc.data.datasets import NORM
from dnnc.errors import DnncError
from dnnc.fsutil import atomic_output_file
from dnnc.train.arch import parse_arch
from dnnc.train.model import Net

FORMAT = "dnnc-distribution-checkpoint"
VERSION = 1
REQUIRED = ("arch", "input_shape", "classes", "weights", "activation", "input_norm", "layers", "bias",
            "out_scale")


def save_checkpoint(ckpt: dict, path: str | os.PathLike) -> None:
    """Write atomically: the file appears complete or not at all."""
    with atomic_output_file(path) as tmp:
        torch.save(ckpt, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load without executing code from the file; a corrupt or foreign file raises DnncError."""
    path = Path(path)
    if not path.is_file():
        raise DnncError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every decoding failure means "not our checkpoint"
        raise DnncError(f"{path}: not a readable dnnc checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise DnncError(f"{path}: not a dnnc checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version") != VERSION:
        raise DnncError(f"{path}: unsupported checkpoint version {ckpt.get('version')!r}")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise DnncError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return ckpt


def to_checkpoint(model: Net, **meta) -> dict:
    """The checkpoint dict of a model (tensors copied to CPU float32) plus metadata (history, ...)."""
    layers = []
    for i, spec in enumerate(model.arch.layers):
        entry = {"kind": spec.kind, "kernel": spec.kernel, "pool": spec.pool}
        entry["logits" if model.discrete else "weight"] = model.params[i].detach().cpu().clone()
        if i < len(model.arch.layers) - 1:
            mean, inv = model.running(i)
            entry.update(gamma=model.gamma[i].detach().cpu().clone(), beta=model.beta[i].detach().cpu().clone(),
                         mean=mean.cpu().clone(), inv_std=inv.cpu().clone())
        layers.append(entry)
    ckpt = {
        "format": FORMAT, "version": VERSION, "arch": model.arch.text,
        "input_shape": list(model.input_shape), "classes": model.shapes[-1][0],
        "weights": model.weight_set, "activation": model.activation,
        "values": model.vals.cpu().double().tolist() if model.discrete else None,
        "input_norm": dict(NORM), "dropout": list(model.dropout), "layers": layers,
        "bias": model.bias.detach().cpu().clone(), "out_scale": model.out_scale,
    }
    ckpt.update(meta)
    return ckpt


def from_checkpoint(ckpt: dict, device: str = "cpu") -> Net:
    """Rebuild the model of a checkpoint (for evaluation, continued training or initialization)."""
    try:
        model = Net(parse_arch(ckpt["arch"]), tuple(ckpt["input_shape"]), ckpt["weights"], ckpt["activation"])
        with torch.no_grad():
            for i, entry in enumerate(ckpt["layers"]):
                model.params[i].copy_(entry["logits" if model.discrete else "weight"])
                if i < len(ckpt["layers"]) - 1:
                    mean, inv = model.running(i)
                    model.gamma[i].copy_(entry["gamma"])
                    model.beta[i].copy_(entry["beta"])
                    mean.copy_(entry["mean"])
                    inv.copy_(entry["inv_std"])
            model.bias.copy_(ckpt["bias"])
    except (KeyError, IndexError, RuntimeError, TypeError) as exc:
        raise DnncError(f"checkpoint does not match its architecture {ckpt.get('arch')!r} ({exc})") from None
    return model.to(device)
