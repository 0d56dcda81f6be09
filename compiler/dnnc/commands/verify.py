"""`dnnc verify MODEL --target T`: every output of target T vs the model file itself, exactly."""

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
@click.option("--reference", type=click.Choice(["file", "deployment", "qonnx-ties"]), default="file",
              show_default=True,
              help="file: MODEL itself (QONNX/FINN: qonnx's executor; "
                   ".onnx: onnxruntime; .pt: its deployment ONNX). deployment: dnnc's rebuilt standard-op ONNX "
                   "in onnxruntime (fast). qonnx-ties: qonnx's executor vs the imported IR, float ties counted.")
@click.option("--input-map", default=None, metavar="MAP",
              help="Float-input graphs: how raw bytes p map to the input, e.g. 'p/255' or '(p-128)/128'; adds "
                   "the uint8 entry point <name>_infer_u8, its table proven on all 256 values.")
def verify(model: str, target: str, samples: int, seed: int, collapse: str, as_json: bool, reference: str,
           input_map: str | None) -> None:
    """Compare TARGET's outputs (acc, logits, class) bit for bit with the reference, by default the MODEL
    file itself run by qonnx's executor (QONNX/FINN files) or onnxruntime; exit 1 on any mismatch."""
    if target != "ir":
        load_target(target)  # a bad target file fails before the model and the reference are loaded
    loaded = load_model(model, collapse=collapse, seed=seed, input_map=input_map)
    if reference == "deployment":
        loaded.file = None
    if reference == "qonnx-ties":
        import json

        from dnnc.verify.qonnx_reference import verify_file

        res = verify_file(model, loaded, target, samples, seed)
        click.echo(json.dumps({"target": target, "reference": "qonnx-ties", **res.__dict__}) if as_json
                   else f"verify target={target} reference={res.summary_line()}")
        sys.exit(0 if res.unexplained == 0 else 1)
    report = run_verify(loaded, target, samples, seed)
    click.echo(report.to_json() if as_json else report.summary_line())
    sys.exit(0 if report.ok else 1)
