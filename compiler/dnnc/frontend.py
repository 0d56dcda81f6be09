"""The compiler's front door: a .pt checkpoint or a deployment .onnx -> (reference ONNX, lowered IR).

A .pt is collapsed to a DiscreteNet (dnnc.train.collapse) and exported in memory, so every command sees
the same pair: `onnx` (the deployment ONNX, the reference for verification) and `ir` (after all passes).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import onnx

from dnnc.errors import DnncError
from dnnc.interchange.export import net_to_ir
from dnnc.interchange.onnx_reader import load_onnx_file, onnx_to_ir
from dnnc.interchange.onnx_writer import ir_to_onnx
from dnnc.ir.model import IRModel
from dnnc.netspec import DiscreteNet
from dnnc.passes.pipeline import run_pipeline
from dnnc.passes.range_analysis import RangeAnalysis


@dataclass
class LoadedModel:
    onnx: onnx.ModelProto  # the deployment ONNX: the reference
    ir: IRModel  # after all passes
    source: Path
    net: DiscreteNet | None = None  # the collapsed discrete network when loaded from a .pt
    # the imported QONNX file itself: the reference `dnnc verify` compares with (qonnx's executor, or
    # onnxruntime when every op is standard); `onnx` is then dnnc's rebuilt deployment ONNX
    file: onnx.ModelProto | None = None


def model_name(path: Path) -> str:
    """A C-identifier-safe model name from the file name (e.g. 'tiny-fc.pt' -> 'tiny_fc')."""
    name = re.sub(r"\W", "_", path.stem) or "model"
    return name if not name[0].isdigit() else f"m_{name}"


def load_net(path: str | os.PathLike, collapse: str = "most-probable", seed: int = 0) -> DiscreteNet:
    """Collapse a training checkpoint to its discrete network."""
    try:
        from dnnc.train.checkpoint import load_checkpoint
        from dnnc.train.collapse import collapse as do_collapse
    except DnncError as exc:  # PyTorch is not installed
        raise DnncError(f"{path}: {exc}") from None

    try:
        return do_collapse(load_checkpoint(path), collapse, seed)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RuntimeError) as exc:  # e.g. NaN BN
        raise DnncError(f"{path}: {' '.join(str(exc).split())[:300]}") from None


def export_onnx(net: DiscreteNet, name: str = "model") -> onnx.ModelProto:
    """The deployment ONNX of a DiscreteNet, with accumulator datatypes from range analysis (composed here,
    above both stages, so interchange never runs a pass)."""
    ir = RangeAnalysis()(net_to_ir(net, name))
    return ir_to_onnx(ir, doc=f"dnnc deployment ONNX ({net.arch or 'discrete network'})")


def from_net(net: DiscreteNet, name: str = "model", source: str | os.PathLike = "<memory>") -> LoadedModel:
    proto = export_onnx(net, name)
    return LoadedModel(onnx=proto, ir=run_pipeline(onnx_to_ir(proto, name)), source=Path(source), net=net)


def load_model(path: str | os.PathLike, collapse: str = "most-probable", seed: int = 0,
               input_map: str | None = None) -> LoadedModel:
    """Load a .pt checkpoint (collapse + export in memory) or a deployment .onnx; DnncError for bad input.

    input_map: how raw bytes p map to a float input (e.g. "p/255"): adds the byte entry point, its table
    proven equal to the file's own quantizer on all 256 values (`with_input_map`)."""
    loaded = _load(Path(path), collapse, seed)
    return loaded if input_map is None else with_input_map(loaded, input_map)


def with_input_map(loaded: LoadedModel, text: str) -> LoadedModel:
    """State the byte mapping on a float-input model: byte_codes = the float path on map(p), p = 0..255,
    then checked against the file's quantizer run by the reference executor on the same 256 values."""
    from dnnc.ir.input_map import byte_codes, parse_input_map

    imap = parse_input_map(text)
    ir = loaded.ir
    if not ir.float_input:
        raise DnncError(f"--input-map: {loaded.source.name} takes raw uint8 input already (no float input "
                        "quantizer to map bytes to)")
    if ir.input_map is not None and ir.input_map != imap.text:
        raise DnncError(f"--input-map: {loaded.source.name} states its own byte mapping x = {ir.input_map} "
                        "(a UINT8-annotated input)")
    ir.input_map, ir.byte_codes = imap.text, byte_codes(ir.input_thresholds, imap)
    ir.verify(lowered=True)
    if loaded.file is None:
        raise DnncError(f"--input-map: {loaded.source.name} has no imported file to prove the byte table on")
    from dnnc.verify.qonnx_reference import prove_byte_codes

    prove_byte_codes(loaded.file, ir, imap.all_bytes())
    return loaded


def _load(path: Path, collapse: str, seed: int) -> LoadedModel:
    if not path.is_file():
        raise DnncError(f"{path}: no such file")
    name = model_name(path)
    if path.suffix == ".pt":
        return from_net(load_net(path, collapse, seed), name, path)
    if path.suffix != ".onnx":
        raise DnncError(f"{path}: expected a .pt checkpoint or an .onnx file")
    proto = load_onnx_file(path)
    from dnnc.interchange.qonnx_import import is_qonnx, load_qonnx  # QONNX files (custom domains)

    if is_qonnx(proto):
        ref, ir = load_qonnx(proto, name)
        return LoadedModel(onnx=ref, ir=run_pipeline(ir), source=path, file=proto)
    return LoadedModel(onnx=proto, ir=run_pipeline(onnx_to_ir(proto, name)), source=path)
