"""finn_datatype names (qonnx's DataType strings) for dnnc's tensors, and the annotation helpers."""

from __future__ import annotations

import onnx

ANNOTATION_KEY = "finn_datatype"
WEIGHT_SET_KEY = "dnnc_weight_values"  # extra key: the exact allowed codes, e.g. "-3,-1,1,3"


def int_dtype(lo: int, hi: int) -> str:
    """Smallest finn INTn (signed) or UINTn holding [lo, hi]; BIPOLAR / TERNARY for those exact sets."""
    if lo >= 0:
        n = max(1, int(hi).bit_length())
        return f"UINT{n}"
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return f"INT{n}"


def weight_dtype(values: tuple[int, ...]) -> str:
    """BIPOLAR for {-1,1}, TERNARY for {-1,0,1}, else the smallest INTn (there is no QUATERNARY)."""
    vals = tuple(sorted(values))
    if vals == (-1, 1):
        return "BIPOLAR"
    if vals == (-1, 0, 1):
        return "TERNARY"
    return int_dtype(min(vals), max(vals))


def dtype_range(name: str) -> tuple[int, int] | None:
    """Integer range of a finn datatype name, or None if it is not an integer type."""
    if name == "BIPOLAR":
        return (-1, 1)
    if name == "TERNARY":
        return (-1, 1)
    if name in ("BINARY",):
        return (0, 1)
    if name.startswith("UINT") and name[4:].isdigit():
        return (0, (1 << int(name[4:])) - 1)
    if name.startswith("INT") and name[3:].isdigit():
        n = int(name[3:])
        return (-(1 << (n - 1)), (1 << (n - 1)) - 1)
    return None


def annotate(graph: onnx.GraphProto, tensor: str, dtype: str, extra: dict[str, str] | None = None) -> None:
    ann = onnx.TensorAnnotation(tensor_name=tensor)
    ann.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key=ANNOTATION_KEY, value=dtype))
    for key, value in (extra or {}).items():
        ann.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key=key, value=value))
    graph.quantization_annotation.append(ann)


def read_annotations(graph: onnx.GraphProto) -> dict[str, dict[str, str]]:
    """tensor name -> {key: value} for every quantization annotation in the graph."""
    out: dict[str, dict[str, str]] = {}
    for ann in graph.quantization_annotation:
        out.setdefault(ann.tensor_name, {}).update({e.key: e.value for e in ann.quant_parameter_tensor_names})
    return out
