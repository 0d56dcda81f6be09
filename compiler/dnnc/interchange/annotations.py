"""finn_datatype annotations on ONNX tensors: how a datatype name (dnnc.vocabulary) is written and read."""

from __future__ import annotations

import onnx

ANNOTATION_KEY = "finn_datatype"
WEIGHT_SET_KEY = "dnnc_weight_values"  # extra key: the exact allowed codes, e.g. "-3,-1,1,3"


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
