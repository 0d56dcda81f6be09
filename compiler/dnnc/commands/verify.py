"""`dnnc verify MODEL --target T`: every output of target T vs onnxruntime on the deployment ONNX, exactly."""

from __future__ import annotations

import sys

import click

from dnnc.commands.options import MAX_SAMPLES, SEED
from dnnc.frontend import load_model
from dnnc.targets import TARGET_HELP, load_target
from dnnc.verify import run_verify


@click.command("verify")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="ir", show_default=True,
              help='"ir" (the IR interpreter), or ' + TARGET_HELP[0].lower() + TARGET_HELP[1:])
@click.option("--samples", "-n", default=1000, show_default=True, type=click.IntRange(1, MAX_SAMPLES),
              help="Number of inputs: real test digits, then random, then threshold-edge inputs.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed for random and edge inputs.")
@click.option("--collapse", type=click.Choice(["most-probable", "sample"]), default="most-probable",
              show_default=True, help="How a .pt checkpoint is collapsed to discrete weights.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the summary line.")
@click.option("--reference", type=click.Choice(["onnxruntime", "qonnx"]), default="onnxruntime", show_default=True,
              help="qonnx (QONNX files): compare with qonnx's executor; float ties are counted, not failures.")
def verify(model: str, target: str, samples: int, seed: int, collapse: str, as_json: bool, reference: str) -> None:
    """Compare TARGET's outputs (acc, logits, class) with onnxruntime bit for bit; exit 1 on any mismatch."""
    if target != "ir":
        load_target(target)  # a bad target file fails before the model and the reference are loaded
    loaded = load_model(model, collapse=collapse, seed=seed)
    if reference == "qonnx":
        import json

        from dnnc.verify.qonnx_reference import verify_file

        res = verify_file(model, loaded, target, samples, seed)
        click.echo(json.dumps({"target": target, "reference": "qonnx", **res.__dict__}) if as_json
                   else f"verify target={target} reference={res.summary_line()}")
        sys.exit(0 if res.unexplained == 0 else 1)
    report = run_verify(loaded, target, samples, seed)
    click.echo(report.to_json() if as_json else report.summary_line())
    sys.exit(0 if report.ok else 1)
