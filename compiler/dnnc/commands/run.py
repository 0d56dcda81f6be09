"""`dnnc run MODEL --target T --input X.npy`: the compiled artifact on the user's own inputs (test vectors).

Why: a firmware engineer checks a deployment with the vectors that came with the model (FINN's examples ship
input.npy / expected_output.npy); this runs exactly what `dnnc verify` checks (interpreter, host C, emulated
MCU, HLS C-simulation) on those inputs and prints or saves acc, logits and class.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import click
import numpy as np

from dnnc.errors import DnncError
from dnnc.frontend import load_model
from dnnc.fsutil import check_output_file, read_regular
from dnnc.targets import TARGET_HELP, load_target


def read_inputs(path: Path, model) -> np.ndarray:
    """The user's inputs as the model takes them: float32 for a float-input graph, else (or with an input
    map) uint8, shaped
    (N, C, H, W); a single sample without the batch axis, or any shape with the same element count per
    sample (e.g. FINN's (1, 784) for a 1x28x28 input), is accepted."""
    data = read_regular(path, str(path), limit=MAX_INPUT_BYTES)  # a FIFO would block np.load forever
    try:
        x = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DnncError(f"{path}: not a .npy array ({' '.join(str(exc).split())})") from None
    if not isinstance(x, np.ndarray):  # an .npz archive loads as a mapping of arrays
        raise DnncError(f"{path}: an .npz archive; give one .npy array")
    shape = tuple(model.input_shape)
    size = int(np.prod(shape))
    if x.size % size or x.size == 0:
        raise DnncError(f"{path}: {x.shape} does not hold whole inputs of shape {shape}")
    want = model.input_dtype  # bytes when an input map is stated
    if x.dtype.kind not in "fiub":
        raise DnncError(f"{path}: dtype {x.dtype} is not numeric")
    if want == np.uint8 and (x.dtype.kind == "f" or x.min(initial=0) < 0 or x.max(initial=0) > 255) \
            and not np.array_equal(x, np.clip(np.round(x), 0, 255)):
        raise DnncError(f"{path}: the model takes uint8 inputs; values are not integers in [0, 255]")
    if want == np.float32 and x.dtype != np.float32 and x.dtype.kind == "f" and \
            not np.array_equal(x.astype(np.float32).astype(x.dtype), x):
        raise DnncError(f"{path}: {x.dtype} values are not exactly representable in float32 (the graph input type)")
    return np.ascontiguousarray(x.reshape(-1, *shape).astype(want))


MAX_INPUT_BYTES = 1 << 30  # the inputs are held in memory with their outputs


@click.command("run")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="ir", show_default=True,
              help='"ir" (the IR interpreter), or ' + TARGET_HELP[0].lower() + TARGET_HELP[1:])
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="A .npy of inputs in the graph input's layout (float32 for a float input, uint8 otherwise).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per input.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Save acc, logits and class to this .npz.")
@click.option("--input-map", default=None, metavar="MAP",
              help="Float-input graphs: how raw bytes p map to the input, e.g. 'p/255' or '(p-128)/128'; adds "
                   "the uint8 entry point <name>_infer_u8, its table proven on all 256 values.")
def run(model: str, target: str, input_path: str, as_json: bool, output: str | None, input_map: str | None) -> None:
    """Run the compiled MODEL on TARGET for the inputs in X.npy; print or save acc, logits and class."""
    from dnnc.verify import execute

    if target != "ir":
        load_target(target)
    if output:  # before the work; the results must not replace the model or the inputs
        check_output_file(output, inputs=(model, input_path))
    loaded = load_model(model, input_map=input_map)
    x = read_inputs(Path(input_path), loaded.ir)
    out, _ = execute(loaded, target, x)
    if output:
        from dnnc.fsutil import atomic_output_file

        with atomic_output_file(output, inputs=(model, input_path)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, acc=out.acc, logits=out.logits, **{"class": out.cls})
    for i in range(len(x)):
        if as_json:
            click.echo(json.dumps({"index": i, "class": int(out.cls[i]), "acc": out.acc[i].tolist(),
                                   "logits": [float(v) for v in out.logits[i]]}))
        elif not output:
            click.echo(f"{i}: class {int(out.cls[i])}  acc {' '.join(map(str, out.acc[i].tolist()))}  "
                       f"logits {' '.join(f'{v:.9g}' for v in out.logits[i])}")
    if output and not as_json:
        click.echo(f"wrote {output}: {len(x)} inputs (acc, logits, class) on target {target}")
