"""The reference executor: onnxruntime on an ONNX graph, fusions off, one thread (no FMA surprises)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from dnnc.errors import DnncError
from dnnc.ir.outputs import Outputs


def session(proto: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types; the model is the user's
        msg = " ".join(str(exc).split())[:300]
        raise DnncError(f"onnxruntime cannot load the model (the reference): {msg}") from None


def run_onnx(proto: onnx.ModelProto | ort.InferenceSession, raw: np.ndarray, batch: int = 512) -> Outputs:
    """Outputs ("acc", "logits", "class") of the graph on raw uint8 inputs (N, C, H, W)."""
    sess = proto if isinstance(proto, ort.InferenceSession) else session(proto)
    parts = [sess.run(["acc", "logits", "class"], {"input": raw[i:i + batch]}) for i in range(0, len(raw), batch)]
    if not parts:
        parts = [sess.run(["acc", "logits", "class"], {"input": raw})]
    return Outputs(acc=np.concatenate([p[0] for p in parts]).astype(np.int32),
                   logits=np.concatenate([p[1] for p in parts]).astype(np.float32),
                   cls=np.concatenate([p[2] for p in parts]).astype(np.int64))
