"""`dnnc export model.pt -o model.onnx`: the deployment ONNX (standard ops, finn_datatype annotations)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dnnc.commands.options import SEED
from dnnc.errors import DnncError
from dnnc.frontend import export_onnx, load_net, model_name
from dnnc.fsutil import check_output_file
from dnnc.interchange.export import save_onnx


@click.command("export")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .onnx file to write.")
@click.option("--collapse", type=click.Choice(["most-probable", "sample"]), default="most-probable",
              show_default=True, help="Most probable weights, or weights sampled from the distribution.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed for --collapse sample.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object describing the written file.")
@click.option("--format", "fmt", type=click.Choice(["onnx", "qonnx"]), default="onnx", show_default=True,
              help="onnx: the deployment ONNX; qonnx: QONNX (MultiThreshold/Quant) for qonnx and FINN.")
def export(model: str, output: str, collapse: str, seed: int, as_json: bool, fmt: str) -> None:
    """Collapse a checkpoint to its discrete network and write the deployment ONNX (atomically)."""
    src = Path(model)
    if not src.is_file():
        raise DnncError(f"{src}: no such file")
    check_output_file(output, inputs=(src,))  # before the model is loaded
    if fmt == "qonnx":  # any loadable model (.pt, .onnx, QONNX) -> QONNX
        from dnnc.frontend import load_model
        from dnnc.interchange.qonnx_export import ir_to_qonnx

        proto = ir_to_qonnx(load_model(src, collapse, seed).ir)
        save_onnx(proto, output, inputs=(src,))
        info = {"output": str(output), "format": "qonnx", "nodes": len(proto.graph.node), "ir_version": proto.ir_version}
        click.echo(json.dumps(info) if as_json else f"wrote {output} (QONNX, {info['nodes']} nodes)")
        return
    if src.suffix != ".pt":
        raise DnncError(f"{src}: expected a .pt checkpoint")
    net = load_net(src, collapse, seed)
    proto = export_onnx(net, model_name(src))
    save_onnx(proto, output, inputs=(src,))
    info = {"output": str(output), "nodes": len(proto.graph.node), "opset": proto.opset_import[0].version,
            "ir_version": proto.ir_version, "collapse": collapse, "seed": seed}
    click.echo(json.dumps(info) if as_json else f"wrote {output} ({info['nodes']} nodes, opset {info['opset']}, "
               f"IR {info['ir_version']}, collapse {collapse})")
