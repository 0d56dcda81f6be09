"""`dnnc inspect MODEL`: the lowered IR's layers, datatypes, proven ranges, threshold counts, memory."""

from __future__ import annotations

import json

import click
import onnx

from dnnc.commands.options import SEED
from dnnc.errors import DnncError
from dnnc.frontend import LoadedModel, load_model
from dnnc.ir.summary import describe, format_text


def write_stages(loaded: LoadedModel, outdir: str, inputs: tuple[str, ...] = ()) -> list[str]:
    """The graph before and after every pass as ONNX files (onnxruntime runs each; Netron shows it)."""
    from dnnc.fsutil import atomic_output_dir
    from dnnc.interchange.onnx_reader import onnx_to_ir
    from dnnc.interchange.onnx_writer import ir_to_onnx
    from dnnc.passes.pipeline import stages

    names = []
    pre = onnx_to_ir(loaded.onnx, loaded.ir.name)
    with atomic_output_dir(outdir, inputs=inputs, option="--stages") as tmp:
        for i, (stage, model) in enumerate(stages(pre)):
            name = f"{i:02d}-{stage}.onnx"
            onnx.save(ir_to_onnx(model, doc=f"dnnc stage {i}: after {stage}"), str(tmp / name))
            names.append(name)
    return names


def write_chart(loaded: LoadedModel, cfg: dict, path: str, inputs: tuple[str, ...]) -> list[dict]:
    """The C plan's per-stage costs as a PNG at `path` (atomic); returns the rows."""
    from dnnc.backends.c.chart import write_cost_chart
    from dnnc.backends.c.plan import make_plan
    from dnnc.fsutil import atomic_output_file

    plan = make_plan(loaded.ir, cfg)
    with atomic_output_file(path, inputs=inputs, option="--cost-chart") as tmp:
        return write_cost_chart(plan, cfg["name"], tmp)


@click.command("inspect")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--collapse", type=click.Choice(["most-probable", "sample"]), default="most-probable",
              show_default=True, help="How a .pt checkpoint is collapsed to discrete weights.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed for --collapse sample.")
@click.option("--stages", "stages_dir", type=click.Path(file_okay=False),
              help="Also write the graph after every compiler pass as ONNX files into this new directory.")
@click.option("--cost-chart", "cost_chart", type=click.Path(dir_okay=False),
              help="Also write a PNG of the per-layer cost (MACs, flash, RAM) of the C plan for --target.")
@click.option("-t", "--target", default="cortex-m4", show_default=True,
              help="C target (name or .toml file) whose plan --cost-chart draws.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect(model: str, collapse: str, seed: int, stages_dir: str | None, cost_chart: str | None, target: str,
            as_json: bool) -> None:
    """Describe MODEL (.pt or .onnx) after all compiler passes."""
    if cost_chart:
        from dnnc.targets import load_target

        cfg = load_target(target)  # a bad target fails before the model is loaded
        if cfg["backend"] != "c":
            raise DnncError(f"--cost-chart draws the C backend's plan; target '{target}' is {cfg['backend']}")
    loaded = load_model(model, collapse=collapse, seed=seed)
    desc = describe(loaded.ir)
    desc["source"] = str(loaded.source)
    if stages_dir:
        desc["stages"] = write_stages(loaded, stages_dir, (model,))
    if cost_chart:
        desc["cost"] = write_chart(loaded, cfg, cost_chart, (model,))
    text = format_text(desc)
    if stages_dir:
        text += f"\nstages: {len(desc['stages'])} ONNX files in {stages_dir}"
    if cost_chart:
        text += f"\ncost chart: {cost_chart} ({len(desc['cost'])} stages of the {target} plan)"
    click.echo(json.dumps(desc) if as_json else text)
