"""`dnnc compile MODEL --target T -o OUTDIR`: the target's artifact (C library, HLS project, ...) from a .pt or .onnx.

The command is target-agnostic: it dispatches to backend_for(load_target(T)).compile, so a new backend
plugs in through its targets/<t>.toml alone; T may also be the path of the user's own target file.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from dnnc.backends import backend_for
from dnnc.commands.options import POSITIVE_FINITE, SEED
from dnnc.errors import DnncError
from dnnc.frontend import load_model
from dnnc.fsutil import atomic_output_dir, read_regular
from dnnc.targets import TARGET_HELP, load_target

MAX_FOLDING_BYTES = 1 << 20  # a folding file names each stage once: a few kB


@click.command("compile")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", required=True, help=TARGET_HELP)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--force", is_flag=True, help="Replace a non-empty output directory.")
@click.option("--collapse", type=click.Choice(["most-probable", "sample"]), default="most-probable",
              show_default=True, help="How a .pt checkpoint is collapsed to discrete weights.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed for --collapse sample.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing the written directory.")
@click.option("--fps", type=POSITIVE_FINITE, default=None,
              help="FPGA targets: fold for this many frames/s at the clock (default: balance on the slowest stage).")
@click.option("--clock-ns", type=POSITIVE_FINITE, default=None,
              help="FPGA targets: clock period in ns (default: the target's clock_ns).")
@click.option("--folding", "folding_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help='FPGA targets: explicit folding, a JSON file {"<stage>": {"PE": p, "SIMD": s}}.')
@click.option("--input-map", default=None, metavar="MAP",
              help="Float-input graphs: how raw bytes p map to the input, e.g. 'p/255' or '(p-128)/128'; adds "
                   "the uint8 entry point <name>_infer_u8, its table proven on all 256 values.")
def compile_cmd(model: str, target: str, output: str, force: bool, collapse: str, seed: int, as_json: bool,
                fps: float | None, clock_ns: float | None, folding_file: str | None, input_map: str | None) -> None:
    """Compile MODEL for TARGET into OUTDIR (written atomically; same input -> byte-identical files)."""
    cfg = load_target(target)
    backend = backend_for(cfg)
    hls_opts = {"fps": fps, "clock_ns": clock_ns, "folding": folding_file}
    given = [k for k, v in hls_opts.items() if v is not None]
    if given and cfg["backend"] not in ("hls", "rtl"):
        raise DnncError(f"--{given[0].replace('_', '-')} applies to FPGA targets (fpga-hls, fpga-rtl, ice40-up5k) "
                        f"only, not '{target}'")
    if folding_file is not None:
        data = read_regular(folding_file, folding_file, limit=MAX_FOLDING_BYTES)
        try:
            cfg["folding"] = json.loads(data)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
            why = str(exc).splitlines()[0] if isinstance(exc, ValueError) else "nested too deeply"
            raise DnncError(f"{folding_file}: not a JSON folding file ({why})") from None
    cfg.update({k: v for k, v in (("fps", fps), ("clock_ns", clock_ns)) if v is not None})
    inputs = [model, cfg["path"], *([folding_file] if folding_file else [])]
    with atomic_output_dir(output, force=force, inputs=inputs) as tmp:  # the path is checked before loading
        loaded = load_model(model, collapse=collapse, seed=seed, input_map=input_map)
        backend.compile(loaded.ir, cfg, tmp)
        files = sorted(str(p.relative_to(tmp)) for p in Path(tmp).rglob("*") if p.is_file())
    info = {"output": str(output), "target": target, "model": loaded.ir.name, "files": files}
    click.echo(json.dumps(info) if as_json else f"wrote {output} for {target}: {', '.join(files)}")
