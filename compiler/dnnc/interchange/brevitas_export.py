"""A Brevitas model (the STE baselines of `dnnc.train.ste`) -> a QONNX file that `dnnc compile` reads.

Brevitas' own QONNX export (dynamo=False: the classic TorchScript path); the input is then annotated
UINT8 (raw pixels), as any third-party QONNX file dnnc imports must be.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import onnx

from dnnc.interchange.annotations import annotate
from dnnc.vocabulary import UINT8

if TYPE_CHECKING:
    import torch


def export_ste(model: torch.nn.Module, input_shape: tuple[int, ...], path: str | os.PathLike) -> onnx.ModelProto:
    """Brevitas' own QONNX export (classic path), input annotated UINT8 (raw pixels), saved to `path`."""
    import torch  # training extra: imported only when a Brevitas model is exported
    from brevitas.export import export_qonnx

    model.eval()
    tmp = Path(path).with_suffix(".brevitas.onnx")
    try:
        export_qonnx(model, torch.zeros(1, *input_shape), export_path=str(tmp), dynamo=False)
        proto = onnx.load(str(tmp))
    finally:
        tmp.unlink(missing_ok=True)
    annotate(proto.graph, proto.graph.input[0].name, UINT8)
    onnx.save(proto, str(path))
    return proto
