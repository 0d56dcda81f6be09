"""`dnnc train`: train a network with the paper's recipe and write model.pt plus its history JSON (or, for
the STE baselines, a QONNX file plus its history JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dnnc.commands.options import SEED
from dnnc.errors import DnncError
from dnnc.fsutil import atomic_output_file, check_output_file
from dnnc.vocabulary import WEIGHT_SETS


def history_path(output: Path) -> Path:
    """model.pt -> model.history.json (written beside the checkpoint)."""
    return output.with_name(output.stem + ".history.json")


def snapshot_path(output: Path) -> Path:
    """m.onnx -> m.resume.pt: an STE run's per-epoch snapshot, beside its QONNX output until it completes."""
    return output.with_name(output.stem + ".resume.pt")


def train_ste_command(output: Path, arch: str, weights: str, method: str, epochs: int | None, seed: int,
                      dataset: str, train_limit: int | None, batch_size: int, act_bits: int = 1,
                      dropout: float = 0.0, resume: Path | None = None) -> dict:
    """`dnnc train --method ste|ste-stochastic`: train, export QONNX to OUTPUT (.onnx), history beside it,
    a snapshot beside it after every epoch until done; resume: the .onnx output of an interrupted run,
    continued from its snapshot."""
    from dnnc.interchange.brevitas_export import export_ste
    from dnnc.train import distributed as D
    from dnnc.train.checkpoint import save_checkpoint
    from dnnc.train.ste import load_snapshot, test_error, train_ste

    output = Path(output)
    if output.suffix != ".onnx":
        raise DnncError(f"{output}: --method {method} writes a QONNX file; use an .onnx output name")
    snap = snapshot_path(output)
    check_output_file(snap)

    def snapshot(state: dict) -> None:
        save_checkpoint(state, snap)

    if resume is not None:
        state = load_snapshot(snapshot_path(Path(resume)))
        dataset = state["args"]["dataset"]
        res = train_ste(**state["args"], progress=True, snapshot_to=snapshot, resume=state)
    else:
        res = train_ste(arch=arch, weights=weights, method=method, epochs=10 if epochs is None else epochs,
                        seed=seed, batch_size=batch_size, train_limit=train_limit, dataset=dataset, progress=True,
                        act_bits=act_bits, dropout=dropout, snapshot_to=snapshot)
    if not D.current().main:  # rank 0 alone evaluates and writes
        return {}
    opts = res["options"]
    activation = "sign" if opts["act_bits"] == 1 else f"signed narrow {opts['act_bits']}-bit"
    hist = {"arch": res["arch"], "weights": opts["weights"], "activation": activation, "dataset": res["dataset"],
            "best": res["best"], "options": opts, "history": res["history"],
            "test_error": test_error(res["model"], dataset)}
    with atomic_output_file(history_path(output)) as tmp:
        tmp.write_text(json.dumps(hist, indent=1) + "\n")
        with atomic_output_file(output) as tmp_model:
            export_ste(res["model"], res["input_shape"], tmp_model)
    snap.unlink(missing_ok=True)  # the run is complete
    return hist


TRAINING_OPTIONS = ("arch", "weights", "activation", "init", "dataset", "epochs", "pretrain_epochs", "seed",
                    "device", "two_stage", "train_limit", "batch_size", "method", "act_bits", "weight_bits", "dropout")


@click.command("train")
@click.option("--arch", help="Preset (mnist-pi, mnist-cnn, cifar-vgg, svhn-vgg, tiny-fc, "
              "tiny-cnn) or the paper's notation, e.g. '32C5-P2-64C5-P2-FC512-FC10'. Required unless --resume.")
@click.option("--weights", type=click.Choice(["real", *WEIGHT_SETS]), help="Required unless --resume.")
@click.option("--activation", type=click.Choice(["tanh", "sign"]), default=None,
              help="Default: sign for discrete weights, tanh for real weights.")
@click.option("--init", "init", default="pretrain", show_default=True,
              help="pretrain (train the real tanh net first), random, or a checkpoint PATH.")
@click.option("--dataset", default="mnist10k", show_default=True, help="mnist10k | mnist:DIR | cifar10:DIR | svhn:DIR")
@click.option("--epochs", type=click.IntRange(min=0), default=None, help="Epochs per stage [default: 40].")
@click.option("--pretrain-epochs", type=click.IntRange(min=0), default=None, help="Real-net epochs [default: 100].")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--two-stage", is_flag=True, help="Train the discrete tanh net first, then the sign net from it.")
@click.option("--train-limit", type=click.IntRange(min=1), default=None, help="Use only the first N training images.")
@click.option("--batch-size", type=click.IntRange(min=2), default=100, show_default=True,
              help="The global batch: under torchrun each of N processes takes batch/N of it.")
@click.option("--method", type=click.Choice(["distribution", "lrt", "few-mult", "ste", "ste-stochastic"]),
              default="distribution", show_default=True,
              help="lrt: Berger et al. 2023; few-mult: Lin et al. 2015 (both write model.pt); "
                   "ste / ste-stochastic: Brevitas STE baselines, written as QONNX (.onnx).")
@click.option("--act-bits", type=click.IntRange(1, 4), default=1, show_default=True,
              help="--method ste: activation bits (2+: bnn_pynq's signed narrow quantizer, 2 = {-1, 0, 1}).")
@click.option("--weight-bits", type=click.IntRange(1, 2), default=None,
              help="--method ste: weight bits instead of --weights (1 = binary, 2 = signed narrow = ternary).")
@click.option("--dropout", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.0, show_default=True,
              help="--method ste: dropout rate on the input and after every activation (bnn_pynq uses 0.2).")
@click.option("--resume", "resume", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Continue the interrupted run whose checkpoint this is (its own options; -o defaults to it); "
              "an STE run: its .onnx output (the snapshot m.resume.pt is beside m.onnx).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Checkpoint to write (also after every epoch, resumable). Required unless --resume.")
@click.pass_context
def train(ctx, arch, weights, activation, init, dataset, epochs, pretrain_epochs, seed, device, two_stage,
          train_limit, batch_size, method, act_bits, weight_bits, dropout, resume, output: Path) -> None:
    """Train ARCH with WEIGHTS and write the distribution checkpoint to OUTPUT.

    Under `torchrun --nproc-per-node N --no-python dnnc train ...` the N processes train one model
    together (DistributedDataParallel; gloo on CPU, NCCL on CUDA); rank 0 alone writes the files.
    """
    from dnnc.train import distributed as D

    if resume is not None:
        given = [f"--{o.replace('_', '-')}" for o in TRAINING_OPTIONS
                 if ctx.get_parameter_source(o) is not click.core.ParameterSource.DEFAULT]
        if given:
            raise DnncError(f"--resume continues the run with its own options; drop {', '.join(given)}")
        output = output or resume
        if resume.suffix == ".onnx":  # an STE run: its snapshot is beside the QONNX output
            method = "ste"
        elif resume.name.endswith(".resume.pt"):
            raise DnncError(f"{resume}: the snapshot of an STE run; resume with its output, "
                            f"--resume {resume.name[:-len('.resume.pt')]}.onnx")
    else:
        if weight_bits is not None:
            from dnnc.train.ste import WEIGHT_BITS

            if weights not in (None, WEIGHT_BITS[weight_bits]):
                raise DnncError(f"--weight-bits {weight_bits} means --weights {WEIGHT_BITS[weight_bits]}, "
                                f"not {weights}")
            weights = WEIGHT_BITS[weight_bits]
        if method in ("distribution", "lrt", "few-mult") and (act_bits != 1 or weight_bits is not None or dropout):
            raise DnncError("--act-bits, --weight-bits and --dropout are options of --method ste (the "
                            "distribution method trains sign activations, takes --weights and the arch's dropout)")
        missing = [n for n, v in (("--arch", arch), ("--weights", weights), ("-o", output)) if v is None]
        if missing:
            raise click.UsageError(f"missing option {', '.join(missing)}")
    for path in (output, history_path(output)):  # before hours of training, not after
        check_output_file(path)  # -o may be the --init checkpoint: training on from it replaces it
    try:
        if method in ("lrt", "few-mult") and resume is None:
            _train_other_method(output, method, arch, weights, activation, init, dataset, epochs, pretrain_epochs,
                                seed, device, two_stage, train_limit, batch_size)
            return
        if method != "distribution":  # STE baselines (dnnc.train.ste)
            hist = train_ste_command(output, arch, weights, method, epochs, seed, dataset, train_limit,
                                     batch_size, act_bits, dropout, resume=resume)
            if hist:
                click.echo(f"wrote {output} (validation error {100 * hist['best']['val_error']:.2f} %, "
                           f"test error {100 * hist['test_error']:.2f} %)", err=True)
            return
        activation = activation or ("tanh" if weights == "real" else "sign")
        _train_distribution(output, resume, {
            "arch": arch, "weights": weights, "activation": activation, "init": init, "dataset": dataset,
            "epochs": epochs, "pretrain_epochs": pretrain_epochs, "seed": seed, "device": device,
            "two_stage": two_stage, "train_limit": train_limit, "batch_size": batch_size})
    finally:
        D.stop(sync=sys.exc_info()[0] is None)


def _train_other_method(output: Path, method: str, arch, weights, activation, init, dataset, epochs,
                        pretrain_epochs, seed, device, two_stage, train_limit, batch_size) -> None:
    """`--method lrt|few-mult`: the distribution checkpoint contract, snapshots and torchrun as it."""
    from dnnc.train import distributed as D
    from dnnc.train.api import DEFAULT_EPOCHS, DEFAULT_PRETRAIN_EPOCHS
    from dnnc.train.checkpoint import save_checkpoint

    if weights not in ("binary", "ternary"):
        raise DnncError(f"--method {method} trains binary or ternary weights, not {weights!r}")
    if (activation or "sign") != "sign" or two_stage:
        raise DnncError(f"--method {method} trains sign activations in one stage (no --activation tanh, --two-stage)")
    if device != "cpu":
        raise DnncError(f"--method {method} trains on the CPU only (no --device {device})")
    epochs = DEFAULT_EPOCHS if epochs is None else epochs

    def snapshot(ckpt: dict) -> None:
        save_checkpoint(ckpt, output)

    if method == "lrt":
        from dnnc.train.lrt import train_lrt

        ckpt = train_lrt(arch=arch, weights=weights, init=init, dataset=dataset, epochs=epochs,
                         pretrain_epochs=DEFAULT_PRETRAIN_EPOCHS if pretrain_epochs is None else pretrain_epochs,
                         seed=seed, train_limit=train_limit, batch_size=batch_size, progress=True,
                         snapshot_to=snapshot)
    else:
        from dnnc.train.few_mult import train_few_mult

        if init != "pretrain":
            raise DnncError("--method few-mult trains from scratch (as the paper); --init does not apply")
        ckpt = train_few_mult(arch=arch, weights=weights, dataset=dataset, epochs=epochs, seed=seed,
                              train_limit=train_limit, batch_size=batch_size, progress=True, snapshot_to=snapshot)
    if D.current().main:
        _write(output, ckpt)


def _train_distribution(output: Path, resume: Path | None, args: dict) -> None:
    from dnnc.train import distributed as D
    from dnnc.train.api import DEFAULT_EPOCHS, DEFAULT_PRETRAIN_EPOCHS, train_model
    from dnnc.train.checkpoint import save_checkpoint
    from dnnc.train.resume_run import resume_model

    def snapshot(ckpt: dict) -> None:
        save_checkpoint(ckpt, output)

    if resume is not None:
        ckpt = resume_model(resume, progress=True, snapshot_to=snapshot)
    else:
        args["epochs"] = DEFAULT_EPOCHS if args["epochs"] is None else args["epochs"]
        if args["pretrain_epochs"] is None:
            args["pretrain_epochs"] = DEFAULT_PRETRAIN_EPOCHS
        ckpt = train_model(**args, progress=True, snapshot_to=snapshot)
    if not D.current().main:
        return
    _write(output, ckpt)


def _write(output: Path, ckpt: dict) -> None:
    """The checkpoint and its history beside it, both or neither."""
    from dnnc.train.checkpoint import save_checkpoint

    hist = {"arch": ckpt["arch"], "weights": ckpt["weights"], "activation": ckpt["activation"],
            "dataset": ckpt["dataset"], "best": ckpt["best"], "options": ckpt["options"],
            "history": ckpt["history"]}
    with atomic_output_file(history_path(output)) as tmp:
        tmp.write_text(json.dumps(hist, indent=1) + "\n")
        save_checkpoint(ckpt, output)
    click.echo(f"wrote {output} (best epoch {ckpt['best']['epoch']}, validation error "
               f"{100 * ckpt['best']['val_error']:.2f} %, {ckpt['options']['seconds']:.0f} s)", err=True)
    sys.stderr.flush()
