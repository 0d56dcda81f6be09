"""Per-layer cost of a C plan (`dnnc inspect --cost-chart`): what the planner knows of each stage, drawn.

Per stage: multiply-accumulates (the work; the emulator counts instructions for a whole inference only,
`dnnc bench`), flash = the constant arrays it reads (weights, thresholds, tables), RAM = the words it
touches in the arena (its input and output buffers and its scratch), 4 bytes each. The arena itself is
shared: the model's RAM is the largest stage's, not the sum.
"""

from __future__ import annotations

from pathlib import Path

from dnnc.backends.c.plan import Plan
from dnnc.errors import DnncError


def stage_costs(plan: Plan) -> list[dict]:
    return [{"stage": s.name, "op": s.op, "src": s.src, "macs": s.macs,
             "flash_bytes": sum(a.nbytes for a in s.arrays),
             "ram_bytes": 4 * (s.in_words + s.out_words + sum(max(1, w) for w in s.scratch.values()))}
            for s in plan.stages]


def write_cost_chart(plan: Plan, target: str, path: Path) -> list[dict]:
    """Three bar charts (MACs, flash, RAM per stage) as one PNG at `path`; returns the rows drawn."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise DnncError("--cost-chart needs matplotlib: pip install 'dnnc[plot]'") from None
    rows = stage_costs(plan)
    fig = Figure(figsize=(max(6.0, 1.2 * len(rows) + 3), 8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 1, sharex=True)
    labels = [f"{r['stage']}\n{r['op']}" for r in rows]
    for ax, key, unit, colour in zip(axes, ("macs", "flash_bytes", "ram_bytes"),
                                     ("multiply-accumulates", "flash (bytes)", "RAM touched (bytes)"),
                                     ("C0", "C1", "C2"), strict=True):
        vals = [r[key] for r in rows]
        bars = ax.bar(labels, vals, color=colour)
        ax.bar_label(bars, labels=[f"{v:,}" for v in vals], fontsize=8)
        ax.set_ylabel(unit)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{plan.name} on {target}: per-layer cost (plan: flash {plan.flash_bytes:,} B, "
                 f"arena {4 * plan.arena_words:,} B)")
    fig.savefig(path)
    return rows
