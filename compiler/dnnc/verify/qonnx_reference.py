"""Compare an imported QONNX model with qonnx's own executor, explaining every disagreement.

qonnx executes BatchNormalization and friends in float32; dnnc decides each sign in integers with the
real-number value of the float chain (`qonnx_affine`). The two can differ only where the pre-activation
is within float32 rounding of the threshold. `compare` finds, for each disagreeing sample, the first sign
layer that differs and checks that every differing element is such a tie (|a*acc + b| tiny relative to
its terms); those samples are counted as ties, anything else as unexplained. Samples whose signs all
agree must give bit-identical outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from dnnc.errors import DnncError
from dnnc.interchange.onnx_file import read_onnx
from dnnc.interchange.qonnx_import import import_qonnx, is_qonnx
from dnnc.ir import interpreter
from dnnc.ir.model import IRModel, Threshold
from dnnc.ir.outputs import Outputs

TIE_REL = 1e-5  # float32 BN/Mul/Add chains are accurate to a few ulp (~1e-7 relative) of their terms


@dataclass
class Comparison:
    samples: int
    mismatches: int  # samples whose reference output differs from dnnc's in any bit
    ties: int  # of those, explained as exact ties at a sign threshold
    unexplained: int

    def summary_line(self) -> str:
        return (f"qonnx executor: {self.samples} samples, {self.mismatches} mismatches "
                f"({self.ties} exact ties, {self.unexplained} unexplained)")


def _wrapper(proto: onnx.ModelProto):
    try:
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.transformation.infer_shapes import InferShapes
    except ImportError as exc:  # pragma: no cover - qonnx is a dependency
        raise DnncError("the qonnx package is needed to execute QONNX files (pip install qonnx)") from exc
    if proto.functions:
        from onnx import inliner

        proto = inliner.inline_local_functions(proto)
    return ModelWrapper(proto).transform(InferShapes())


def run_qonnx(proto: onnx.ModelProto, raw: np.ndarray, input_scale: float = 1.0,
              tensors: tuple[str, ...] = ()) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """qonnx.core.onnx_exec on each sample (raw * input_scale): (main output, {tensor: values})."""
    from qonnx.core.onnx_exec import execute_onnx

    mw = _wrapper(proto)
    inp, outs = mw.graph.input[0].name, [o.name for o in mw.graph.output]
    out_name = "logits" if "logits" in outs else outs[0]
    shape = [d.dim_value for d in mw.graph.input[0].type.tensor_type.shape.dim]
    main, extra = [], {t: [] for t in tensors}
    for i in range(len(raw)):
        x = (raw[i:i + 1].astype(np.float64) * input_scale).astype(np.float32).reshape([1, *shape[1:]])
        ctx = execute_onnx(mw, {inp: x}, return_full_exec_context=bool(tensors))
        main.append(np.asarray(ctx[out_name]))
        for t in tensors:
            extra[t].append(np.asarray(ctx[t]))
    return np.concatenate(main), {t: np.concatenate(v) for t, v in extra.items()}


def compare(proto: onnx.ModelProto, ir: IRModel, raw: np.ndarray, got: Outputs | None = None) -> Comparison:
    """Run the QONNX file in qonnx and `ir` (as imported, before passes) in the IR interpreter.

    `got`: outputs of another executor (a compiled target) to compare instead of the interpreter's; the
    interpreter's trace still explains the ties.
    """
    info = ir.meta.get("qonnx", {})
    thr_info: dict = info.get("thresholds", {})
    ref, hidden = run_qonnx(proto, raw, float(info.get("input_scale", 1.0)),
                            tuple(v["tensor"] for v in thr_info.values()))
    values = interpreter.trace(ir, raw)
    out = interpreter.run(ir, raw) if got is None else got
    if ref.ndim == 1 or ref.dtype.kind in "iu":
        ours = out.cls.reshape(ref.shape)
        differ = ref.astype(np.int64) != ours
    else:
        differ = np.any(ref.reshape(len(raw), -1).astype(np.float32).view(np.uint32)
                        != out.logits.view(np.uint32), axis=1)
    explained = np.zeros(len(raw), bool)
    undecided = differ.copy()
    for idx, layer in enumerate(ir.layers):
        if not isinstance(layer, Threshold) or layer.name not in thr_info:
            continue
        t = thr_info[layer.name]
        theirs = np.where(hidden[t["tensor"]].reshape(values[idx].shape) >= 0, 1, -1)
        diff = theirs != values[idx]
        first = undecided & diff.reshape(len(raw), -1).any(axis=1)
        if first.any():
            acc = values[idx - 1].astype(np.float64)
            shape = (1, -1) + (1,) * (acc.ndim - 2)
            term = np.asarray(t["a"]).reshape(shape) * acc
            b = np.asarray(t["b"]).reshape(shape)
            tie = np.abs(term + b) <= TIE_REL * (np.abs(term) + np.abs(b))
            ok = np.all((~diff | tie).reshape(len(raw), -1), axis=1)
            explained |= first & ok
            undecided &= ~first
    ties = int(explained.sum())
    return Comparison(len(raw), int(differ.sum()), ties, int(differ.sum()) - ties)


def verify_file(path, loaded, target: str, samples: int, seed: int) -> Comparison:
    """`dnnc verify --reference qonnx`: TARGET's outputs vs qonnx's executor on the verify inputs."""
    from dnnc.verify import execute
    from dnnc.verify.inputs import make_inputs

    proto = read_onnx(path)
    if not is_qonnx(proto):
        raise DnncError(f"{path}: --reference qonnx needs a QONNX file (custom-domain nodes)")
    raw = make_inputs(loaded, samples, seed)
    got, _ = execute(loaded, target, raw)
    return compare(proto, import_qonnx(proto, loaded.ir.name), raw, got)
