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

import math
import os
from pathlib import Path

import torch

from dnnc.data.datasets import NORM
from dnnc.errors import DnncError
from dnnc.fsutil import atomic_output_file
from dnnc.train.arch import MAX_KERNEL, MAX_LAYERS, check_size, parse_arch
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
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("format"), str) or ckpt["format"] != FORMAT:
        raise DnncError(f"{path}: not a dnnc checkpoint (no '{FORMAT}' marker)")
    version = ckpt.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version != VERSION:
        raise DnncError(f"{path}: unsupported checkpoint version {_show(ckpt.get('version'))}")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise DnncError(f"{path}: checkpoint lacks {', '.join(missing)}")
    check_structure(ckpt, str(path))
    return ckpt


def _show(v) -> str:
    """A value from the file, short and on one line, for an error message."""
    if isinstance(v, torch.Tensor):
        return f"a {v.dtype} tensor of shape {tuple(v.shape)}"
    text = " ".join(repr(v).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _tensor(v, where: str, ndim: int | None = None) -> torch.Tensor:
    if not isinstance(v, torch.Tensor) or not v.is_floating_point() or (ndim is not None and v.dim() != ndim):
        want = f"a {ndim}-D float tensor" if ndim is not None else "a float tensor"
        got = f"{tuple(v.shape)} {v.dtype}" if isinstance(v, torch.Tensor) else type(v).__name__
        raise DnncError(f"{where} must be {want}, got {got}")
    if not bool(torch.isfinite(v).all()):
        raise DnncError(f"{where} is not finite (NaN or infinite values)")
    return v


def _int(v, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise DnncError(f"{where} must be an integer in {lo}..{hi}, got {_show(v)}")
    return v


def check_structure(ckpt: dict, where: str) -> None:
    """Types, shapes and finiteness of everything the compiler reads, before any of it is used: a
    checkpoint is a file from anywhere, and a NaN logit would otherwise collapse silently to a weight."""
    if not isinstance(ckpt["arch"], str) or not isinstance(ckpt["weights"], str) or \
            not isinstance(ckpt["activation"], str):
        raise DnncError(f"{where}: arch, weights and activation must be strings")
    shape = ckpt["input_shape"]
    if not isinstance(shape, (list, tuple)) or len(shape) != 3:
        raise DnncError(f"{where}: input_shape must be [C, H, W], got {_show(shape)}")
    for d in shape:
        _int(d, f"{where}: input_shape", 1, 1 << 16)
    _int(ckpt["classes"], f"{where}: classes", 1, 1 << 16)
    norm = ckpt["input_norm"]
    if not isinstance(norm, dict):
        raise DnncError(f"{where}: input_norm must be a table")
    for key in ("input_mul", "input_add", "input_div"):
        _int(norm.get(key), f"{where}: input_norm.{key}", -(1 << 16), 1 << 16)
    if norm["input_div"] == 0:
        raise DnncError(f"{where}: input_norm.input_div must not be 0")
    layers = ckpt["layers"]
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise DnncError(f"{where}: layers must be a list of 1..{MAX_LAYERS} entries")
    for i, e in enumerate(layers):
        at = f"{where}: layer {i}"
        if not isinstance(e, dict) or e.get("kind") not in ("conv", "dense"):
            raise DnncError(f"{at}: must be a table with kind 'conv' or 'dense'")
        _int(e.get("kernel") or 0, f"{at}: kernel", 0, MAX_KERNEL)
        _int(e.get("pool") or 0, f"{at}: pool", 0, 2)
        key = "logits" if "logits" in e else "weight"
        w = _tensor(e.get(key), f"{at}: {key}")
        if w.dim() not in (2, 3, 4, 5):
            raise DnncError(f"{at}: {key} of shape {tuple(w.shape)} is not a dense or conv weight")
        out = int(w.shape[1] if key == "logits" else w.shape[0])
        if i < len(layers) - 1:
            for bn in ("gamma", "beta", "mean", "inv_std"):
                if len(_tensor(e.get(bn), f"{at}: batch norm {bn}", ndim=1)) != out:
                    raise DnncError(f"{at}: batch norm {bn} has {len(e[bn])} channels, the layer {out}")
    if len(_tensor(ckpt["bias"], f"{where}: bias", ndim=1)) != out:
        raise DnncError(f"{where}: bias has {len(ckpt['bias'])} entries, the output layer {out}")
    if isinstance(ckpt["out_scale"], bool) or not isinstance(ckpt["out_scale"], (int, float)) or \
            not math.isfinite(ckpt["out_scale"]):
        raise DnncError(f"{where}: out_scale must be a finite number")


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
        arch = parse_arch(ckpt["arch"])
        check_size(arch, tuple(ckpt["input_shape"]))  # the file's arch must not size tensors unchecked
        model = Net(arch, tuple(ckpt["input_shape"]), ckpt["weights"], ckpt["activation"])
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
    except (KeyError, IndexError, RuntimeError, TypeError, ValueError) as exc:
        why = " ".join(str(exc).split())[:200]
        raise DnncError(f"checkpoint does not match its architecture {_show(ckpt.get('arch'))} ({why})") from None
    return model.to(device)
