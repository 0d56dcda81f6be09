"""`dnnc evaluate`: error of the collapsed discrete network (sign(0) = +1) on a dataset split."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dnnc.commands.options import SEED


@click.command("evaluate")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--dataset", default=None, help="Default: the dataset the model was trained on.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--collapse", "mode", type=click.Choice(["most-probable", "sample"]), default="most-probable",
              show_default=True, help="Which discrete network to evaluate.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of --collapse sample.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def evaluate(checkpoint: Path, dataset, split, mode, seed, as_json) -> None:
    """Evaluate CHECKPOINT: the discrete network's error (real/tanh nets: their prediction path)."""
    from dnnc.train.evaluation import evaluate_checkpoint

    res = evaluate_checkpoint(checkpoint, dataset=dataset, split=split, mode=mode, seed=seed)
    if as_json:
        click.echo(json.dumps(res, sort_keys=True))
    else:
        click.echo(f"{res['checkpoint']}: {res['network']} on {res['dataset']} {res['split']}: "
                   f"error {100 * res['error']:.2f} % ({res['errors']} / {res['samples']})")
