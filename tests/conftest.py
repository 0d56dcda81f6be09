"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import pytest
from dnnc.frontend import export_onnx
from dnnc.interchange.export import save_onnx
from models import conv_model, dense_model


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """A folder with small.onnx (an edge dense net, ternary) and smallconv.onnx (an edge conv net, binary)."""
    d = tmp_path_factory.mktemp("small")
    save_onnx(export_onnx(dense_model("ternary"), "small"), d / "small.onnx")
    save_onnx(export_onnx(conv_model("binary"), "smallconv"), d / "smallconv.onnx")
    return d
