"""The FINN-style dataflow model shared by the FPGA backends (HLS C++ today, RTL next).

An IR model lowers to streaming stages in FINN's node types (`lower`: one layer grouping for every
backend), is folded to a throughput target (`folding`), estimated with FINN's formulas (`estimates`) and
described as dataflow.json / dataflow.onnx (`description`). A backend only turns the folded stage list
(`design`) into its own text and runs it.
"""

from __future__ import annotations

from dnnc.dataflow.design import Design, design

__all__ = ["Design", "design"]
