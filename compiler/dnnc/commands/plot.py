"""`dnnc plot CKPT -o DIR`: PNGs of a checkpoint's training curves and per-layer weight histograms."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("plot")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="New folder to write the PNGs into (written atomically).")
@click.option("--force", is_flag=True, help="Replace a non-empty output folder.")
def plot(checkpoint: Path, output: Path, force: bool) -> None:
    """Draw CHECKPOINT's loss and validation error per epoch and stage, and its weights per layer."""
    from dnnc.fsutil import atomic_output_dir
    from dnnc.train.checkpoint import load_checkpoint
    from dnnc.train.plots import plot_checkpoint

    ckpt = load_checkpoint(checkpoint)
    with atomic_output_dir(output, force=force, inputs=(checkpoint,)) as tmp:
        names = plot_checkpoint(ckpt, tmp)
    click.echo(f"wrote {len(names)} PNGs into {output}: {', '.join(names)}", err=True)
