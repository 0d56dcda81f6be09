"""`dnnc train`: train a network with the paper's recipe and write model.pt plus its history JSON (or, for
the STE baselines, a QONNX file plus its history JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dnnc.commands.options import SEED
from dnnc.errors import DnncError
from dnnc.fsutil import atomic_output_file
from dnnc.vocabulary import WEIGHT_SETS


def history_path(output: Path) -> Path:
    """model.pt -> model.history.json (written beside the checkpoint)."""
    return output.with_name(output.stem + ".history.json")


def train_ste_command(output: Path, arch: str, weights: str, method: str, epochs: int | None, seed: int,
                      dataset: str, train_limit: int | None, batch_size: int) -> dict:
    """`dnnc train --method ste|ste-stochastic`: train, export QONNX to OUTPUT (.onnx), history beside it."""
    from dnnc.interchange.brevitas_export import export_ste
    from dnnc.train.ste import test_error, train_ste

    output = Path(output)
    if output.suffix != ".onnx":
        raise DnncError(f"{output}: --method {method} writes a QONNX file; use an .onnx output name")
    res = train_ste(arch=arch, weights=weights, method=method, epochs=10 if epochs is None else epochs, seed=seed,
                    batch_size=batch_size, train_limit=train_limit, dataset=dataset, progress=True)
    hist = {"arch": res["arch"], "weights": weights, "activation": "sign", "dataset": res["dataset"],
            "best": res["best"], "options": res["options"], "history": res["history"],
            "test_error": test_error(res["model"], dataset)}
    with atomic_output_file(history_path(output)) as tmp:
        tmp.write_text(json.dumps(hist, indent=1) + "\n")
        with atomic_output_file(output) as tmp_model:
            export_ste(res["model"], res["input_shape"], tmp_model)
    return hist


@click.command("train")
@click.option("--arch", required=True, help="Preset (mnist-pi, mnist-cnn, cifar-vgg, svhn-vgg, tiny-fc, "
              "tiny-cnn) or the paper's notation, e.g. '32C5-P2-64C5-P2-FC512-FC10'.")
@click.option("--weights", required=True, type=click.Choice(["real", *WEIGHT_SETS]))
@click.option("--activation", type=click.Choice(["tanh", "sign"]), default=None,
              help="Default: sign for discrete weights, tanh for real weights.")
@click.option("--init", "init", default="pretrain", show_default=True,
              help="pretrain (train the real tanh net first), random, or a checkpoint PATH.")
@click.option("--dataset", default="mnist10k", show_default=True, help="mnist10k | mnist:DIR | cifar10:DIR | svhn:DIR")
@click.option("--epochs", type=click.IntRange(min=0), default=None,
              help="Epochs per stage (lrt: in total over its layer-wise phases) [default: 40].")
@click.option("--pretrain-epochs", type=click.IntRange(min=0), default=None, help="Real-net epochs [default: 100].")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--two-stage", is_flag=True, help="Train the discrete tanh net first, then the sign net from it.")
@click.option("--train-limit", type=click.IntRange(min=1), default=None, help="Use only the first N training images.")
@click.option("--batch-size", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--method", type=click.Choice(["distribution", "lrt", "few-mult", "ste", "ste-stochastic"]),
              default="distribution", show_default=True,
              help="lrt: Berger et al. 2023; few-mult: Lin et al. 2015 (both write model.pt); "
                   "ste / ste-stochastic: Brevitas STE baselines, written as QONNX (.onnx).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def train(arch, weights, activation, init, dataset, epochs, pretrain_epochs, seed, device, two_stage,
          train_limit, batch_size, method, output: Path) -> None:
    """Train ARCH with WEIGHTS and write the distribution checkpoint to OUTPUT."""
    if method in ("ste", "ste-stochastic"):  # STE baselines (dnnc.train.ste), sign activations only
        hist = train_ste_command(output, arch, weights, method, epochs, seed, dataset, train_limit, batch_size)
        click.echo(f"wrote {output} (validation error {100 * hist['best']['val_error']:.2f} %, test error "
                   f"{100 * hist['test_error']:.2f} %)", err=True)
        return
    from dnnc.train.api import DEFAULT_EPOCHS, DEFAULT_PRETRAIN_EPOCHS, train_model
    from dnnc.train.checkpoint import save_checkpoint

    if method != "distribution" and weights not in ("binary", "ternary"):
        raise DnncError(f"--method {method} trains binary or ternary weights, not {weights!r}")
    activation = activation or ("tanh" if weights == "real" else "sign")
    if method != "distribution" and (activation != "sign" or two_stage):
        raise DnncError(f"--method {method} trains sign activations in one stage (no --activation tanh, --two-stage)")
    if method != "distribution" and device != "cpu":
        raise DnncError(f"--method {method} trains on the CPU only (no --device {device})")
    if method == "lrt":
        from dnnc.train.lrt import train_lrt

        ckpt = train_lrt(arch=arch, weights=weights, init=init, dataset=dataset,
                         epochs=DEFAULT_EPOCHS if epochs is None else epochs,
                         pretrain_epochs=DEFAULT_PRETRAIN_EPOCHS if pretrain_epochs is None else pretrain_epochs,
                         seed=seed, train_limit=train_limit, batch_size=batch_size, progress=True)
    elif method == "few-mult":
        from dnnc.train.few_mult import train_few_mult

        if init != "pretrain":
            raise DnncError("--method few-mult trains from scratch (as the paper); --init does not apply")
        ckpt = train_few_mult(arch=arch, weights=weights, dataset=dataset,
                              epochs=DEFAULT_EPOCHS if epochs is None else epochs, seed=seed,
                              train_limit=train_limit, batch_size=batch_size, progress=True)
    else:
        ckpt = train_model(arch=arch, weights=weights, activation=activation, init=init, dataset=dataset,
                           epochs=DEFAULT_EPOCHS if epochs is None else epochs,
                           pretrain_epochs=DEFAULT_PRETRAIN_EPOCHS if pretrain_epochs is None else pretrain_epochs,
                           seed=seed, device=device, two_stage=two_stage, train_limit=train_limit,
                           batch_size=batch_size, progress=True)
    hist = {"arch": ckpt["arch"], "weights": weights, "activation": activation, "dataset": ckpt["dataset"],
            "best": ckpt["best"], "options": ckpt["options"], "history": ckpt["history"]}
    with atomic_output_file(history_path(output)) as tmp:
        tmp.write_text(json.dumps(hist, indent=1) + "\n")
        save_checkpoint(ckpt, output)
    click.echo(f"wrote {output} (best epoch {ckpt['best']['epoch']}, validation error "
               f"{100 * ckpt['best']['val_error']:.2f} %, {ckpt['options']['seconds']:.0f} s)", err=True)
    sys.stderr.flush()
