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
    """`dnnc verify --reference qonnx-ties`: TARGET's outputs vs qonnx's executor on the verify inputs."""
    from dnnc.verify import execute
    from dnnc.verify.inputs import make_inputs

    proto = read_onnx(path)
    if not is_qonnx(proto):
        raise DnncError(f"{path}: --reference qonnx-ties needs a QONNX file (custom-domain nodes)")
    raw = make_inputs(loaded, samples, seed)
    got, _ = execute(loaded, target, raw)
    return compare(proto, import_qonnx(proto, loaded.ir.name), raw, got)


def run_file(proto: onnx.ModelProto, ir: IRModel, x: np.ndarray) -> Outputs:
    """The imported file itself, run by qonnx's executor one sample at a time, as dnnc's three outputs.

    x: the artifact's inputs (float32, or uint8 codes of a UINT8-annotated input, fed as float32 as the
    file's FLOAT container holds them). acc = the last linear layer's float output divided by its
    power-of-two scale (exact), logits = the tensor the head reads (or the graph output), class = the
    file's ArgMax/TopK output when it has one, else the lowest index of the maximum logit (onnxruntime's rule).
    A standard-op .onnx never comes here: dnnc reads it directly and runs it in onnxruntime.
    """
    info = ir.meta.get("qonnx", {})
    x = np.asarray(x).astype(np.float32)
    names = [info["acc_tensor"], info["output"], *([info["class_tensor"]] if "class_tensor" in info else [])]
    vals = _run_qonnx(proto, x, names)
    scale = np.asarray(info["acc_scale"], np.float64)
    k = ir.num_classes
    a = vals[0].astype(np.float64).reshape(len(x), -1)
    if "acc_bias" in info:  # Gemm/Conv with a bias: acc = the integer the biased float32 value rounds from
        bias = np.asarray(info["acc_bias"], np.float64).reshape(1, -1)
        a = np.round((a - bias) / scale)
        back = (a * scale).astype(np.float32) + bias.astype(np.float32)
        if np.any(np.abs(back.astype(np.float64) - vals[0].astype(np.float64).reshape(len(x), -1))
                  > np.spacing(np.abs(back)).astype(np.float64) * 2):
            raise DnncError(f"reference tensor '{info['acc_tensor']}' is not a biased integer multiple of its scale")
    else:
        a = a / scale
    if not np.all(a == np.round(a)):
        raise DnncError(f"reference tensor '{info['acc_tensor']}' is not an integer times its scale")
    logits = vals[1].astype(np.float32).reshape(len(x), k)
    cls = vals[2].reshape(len(x), -1)[:, 0] if len(vals) > 2 else np.argmax(logits, axis=1)
    return Outputs(acc=a.astype(np.int32).reshape(-1, k), logits=logits, cls=np.asarray(cls, np.int64))


def _run_qonnx(proto: onnx.ModelProto, x: np.ndarray, names: list[str]) -> list[np.ndarray]:
    """qonnx's executor on each sample; its failure on a file dnnc imported is the user's one line."""
    import onnxruntime

    onnxruntime.set_default_logger_severity(4)  # qonnx's per-node sessions would log their errors to stderr
    try:
        return _execute(proto, x, names)
    except DnncError:
        raise
    except Exception as exc:  # noqa: BLE001 - qonnx/onnx raise many types; the file is the user's
        msg = " ".join(str(exc).split())[:300]
        raise DnncError(f"qonnx cannot execute the file (the reference): {type(exc).__name__}: {msg}") from None


def _execute(proto: onnx.ModelProto, x: np.ndarray, names: list[str]) -> list[np.ndarray]:
    from qonnx.core.onnx_exec import execute_onnx

    mw = _wrapper(proto)
    inp = mw.graph.input[0].name
    shape = [d.dim_value for d in mw.graph.input[0].type.tensor_type.shape.dim]
    out: list[list[np.ndarray]] = [[] for _ in names]
    for i in range(len(x)):
        ctx = execute_onnx(mw, {inp: x[i:i + 1].reshape([1, *shape[1:]])}, return_full_exec_context=True)
        for j, n in enumerate(names):
            out[j].append(np.asarray(ctx[n]))
    return [np.concatenate([v.reshape(1, -1) for v in o]) for o in out]


def file_input_codes(proto: onnx.ModelProto, ir: IRModel, x: np.ndarray) -> np.ndarray:
    """The raw codes the file's own input quantizer gives the float32 values x (any count), run by qonnx's
    executor: its output tensor holds s * (m * code + a). Why: the byte table is proven on the file, not on
    dnnc's reading of it."""
    info = ir.meta.get("qonnx", {}).get("input", {})
    if "tensor" not in info:
        raise DnncError("the imported graph records no input quantizer to check the byte table against")
    size = int(np.prod(ir.input_shape))
    x = np.asarray(x, np.float32).ravel()
    n = -(-x.size // size)
    frames = np.zeros(n * size, np.float32)
    frames[:x.size] = x
    v = _run_qonnx(proto, frames.reshape(n, *ir.input_shape), [info["tensor"]])[0].astype(np.float64).ravel()
    codes = (v[:x.size] / info["s"] - info["a"]) / info["m"]
    if not np.all(codes == np.round(codes)) or codes.min(initial=0) < 0 or codes.max(initial=0) > 255:
        raise DnncError(f"input quantizer tensor '{info['tensor']}' does not hold integer codes 0..255")
    return codes.astype(np.int64)


def prove_byte_codes(proto: onnx.ModelProto, ir: IRModel, values: np.ndarray) -> None:
    """DnncError unless ir.byte_codes equals the file's quantizer on `values` = map(p) for all 256 bytes."""
    theirs = file_input_codes(proto, ir, values)
    bad = np.flatnonzero(theirs != ir.byte_codes.astype(np.int64))
    if bad.size:
        p = int(bad[0])
        raise DnncError(f"--input-map '{ir.input_map}': the byte table differs from the file's own quantizer at "
                        f"{bad.size} of 256 byte values (first p = {p}: table {int(ir.byte_codes[p])}, "
                        f"file {int(theirs[p])})")
