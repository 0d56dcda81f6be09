"""Pictures of a training checkpoint (`dnnc plot`): PNGs drawn with matplotlib's Agg canvas, no display.

curves.png: training loss and validation error per epoch, one colour per stage (pre-training, stage one,
the final net), stages laid end to end; the selected epoch of the final stage is marked.
weights-layerN.png: for a distribution checkpoint, the counts of the most probable weight values and the
histogram of their probabilities (how sure the distribution is of the value the collapse takes); for a
real net, the histogram of its weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dnnc.errors import DnncError


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise DnncError("pictures need matplotlib: pip install 'dnnc[plot]'") from None
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def curves(ckpt: dict, path: Path) -> None:
    history = [h for h in ckpt.get("history") or [] if isinstance(h, dict) and "stage" in h]
    if not history:
        raise DnncError("the checkpoint has no training history to draw")
    fig = _figure(9, 6)
    ax_loss, ax_err = fig.subplots(2, 1, sharex=True)
    stages: list[str] = []
    for h in history:
        if h["stage"] not in stages:
            stages.append(h["stage"])
    offset, final = 0, stages[-1]
    for i, stage in enumerate(stages):
        recs = [h for h in history if h["stage"] == stage]
        x = [offset + h["epoch"] for h in recs]
        colour = f"C{i % 10}"
        loss = [(xx, h["loss"]) for xx, h in zip(x, recs, strict=True) if h.get("loss") is not None]
        if loss:
            ax_loss.plot(*zip(*loss, strict=True), color=colour, marker=".", label=stage)
        ax_err.plot(x, [100 * h["val_error"] for h in recs], color=colour, marker=".", label=stage)
        if stage == final:
            best = (ckpt.get("best") or {}).get("epoch")
            sel = [h for h in recs if h["epoch"] == best]
            if sel:
                ax_err.plot(offset + best, 100 * sel[0]["val_error"], marker="*", markersize=16, color="k",
                            linestyle="none", label=f"selected: epoch {best}")
        offset = x[-1] + 1
    ax_loss.set_ylabel("training loss")
    ax_err.set_ylabel("validation error (%)")
    ax_err.set_xlabel("epoch (stages end to end)")
    for ax in (ax_loss, ax_err):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{ckpt.get('arch', '?')} {ckpt.get('weights', '?')}-{ckpt.get('activation', '?')} "
                 f"({ckpt.get('dataset', '?')})")
    fig.savefig(path)


def weight_histograms(ckpt: dict, i: int, path: Path) -> None:
    entry = ckpt["layers"][i]
    fig = _figure(10, 4)
    if "logits" in entry:
        vals = np.asarray(ckpt.get("values") or [], dtype=np.float64)
        probs = torch.softmax(entry["logits"].double(), dim=0)
        top, idx = probs.max(dim=0)
        counts = np.bincount(idx.flatten().numpy(), minlength=len(vals))
        ax_v, ax_p = fig.subplots(1, 2)
        labels = [f"{v:g}" for v in vals] if len(vals) == len(counts) else [str(k) for k in range(len(counts))]
        ax_v.bar(labels, counts, color="C0")
        ax_v.set_xlabel("most probable weight value")
        ax_v.set_ylabel("weights")
        ax_p.hist(top.flatten().numpy(), bins=50, range=(0.0, 1.0), color="C1")
        ax_p.set_xlabel("probability of the most probable value")
        ax_p.set_ylabel("weights")
        ax_p.set_yscale("log")
    else:
        ax = fig.subplots()
        ax.hist(entry["weight"].flatten().numpy(), bins=80, color="C0")
        ax.set_xlabel("real weight")
        ax.set_ylabel("weights")
    shape = tuple((entry.get("logits") if "logits" in entry else entry["weight"]).shape)
    fig.suptitle(f"layer {i} ({entry.get('kind', '?')}, {shape})")
    fig.savefig(path)


def plot_checkpoint(ckpt: dict, outdir: Path) -> list[str]:
    """Write every picture of `ckpt` into the (new, empty) folder `outdir`; their file names."""
    names = ["curves.png"]
    curves(ckpt, outdir / names[0])
    for i in range(len(ckpt["layers"])):
        names.append(f"weights-layer{i}.png")
        weight_histograms(ckpt, i, outdir / names[-1])
    return names
