"""`dnnc inspect MODEL`: the lowered IR's layers, datatypes, proven ranges, threshold counts, memory."""

from __future__ import annotations

import json

import click
from dnnc.frontend import load_model
from dnnc.ir.summary import describe, format_text


@click.command("inspect")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--collapse", type=click.Choice(["most-probable", "sample"]), default="most-probable",
              show_default=True, help="How a .pt checkpoint is collapsed to discrete weights.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for --collapse sample.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect(model: str, collapse: str, seed: int, as_json: bool) -> None:
    """Describe MODEL (.pt or .onnx) after all compiler passes."""
    loaded = load_model(model, collapse=collapse, seed=seed)
    desc = describe(loaded.ir)
    desc["source"] = str(loaded.source)
    click.echo(json.dumps(desc) if as_json else format_text(desc))
