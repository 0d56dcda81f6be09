"""Coverage-guided fuzz target (atheris + libFuzzer) for dnnc's model readers: deployment ONNX, QONNX and
training checkpoints, through the front door every command uses (`dnnc.frontend.load_model`).

    python tests/fuzz_readers.py CORPUS_DIR [libFuzzer flags, e.g. -max_total_time=300 -timeout=30]

The first byte of an input picks the mode, the rest drives it:
  0  the bytes are an .onnx file                   2  the bytes are a .pt file
  1  1-4 structured mutations of a seed ONNX       3  1-4 structured mutations of a seed checkpoint
     (deployment or QONNX, dense or conv; Quant       (values, types, shapes, NaN/inf, missing keys)
     weights and BN; zoo and FINN TFC layouts): ops,
     attributes, edges, dims, data, types, opset,
     annotations, external data, local functions
DNNC_FUZZ_LAST=FILE keeps the input under test there (a segfault in a native library is not always
caught by libFuzzer). Each input must end in one of two ways: the model loads, passes `verify` against onnxruntime with zero
mismatches and compiles to C; or dnnc raises a DnncError whose message is one line. Anything else (any
other exception, an InvalidIR, a multi-line message, a crash, a hang past -timeout) is reported by
libFuzzer as a finding, with the input saved under -artifact_prefix.

External data: the model folder holds a valid data file, a symlink to a file outside it, a FIFO and a
subfolder; a secret file sits beside the folder. An empty CORPUS_DIR is seeded on start.
"""

from __future__ import annotations

import contextlib
import copy
import faulthandler
import io
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

with atheris.instrument_imports(include=["dnnc"]):
    import numpy as np
    import onnx
    from dnnc.backends import backend_for
    from dnnc.errors import DnncError
    from dnnc.frontend import load_model
    from dnnc.fsutil import scratch_dir
    from dnnc.targets import load_target
    from dnnc.verify import run_verify
    from onnx import TensorProto, helper, numpy_helper

import hostile

INTS = [0, 1, -1, 2, 3, 5, 7, 8, 255, 256, 2**15, 2**31 - 1, 2**31, 2**40, 2**62, 2**63 - 1, -(2**63)]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, 127.0, 128.0, 200.0, 1e9, 2.0**40, 1e30, 3.4e38, math.inf,
          -math.inf, math.nan, 1e-45]
OPS = ["Identity", "Flatten", "MatMul", "Conv", "Mul", "Add", "Sub", "Div", "MaxPool", "GreaterOrEqual",
       "Where", "Cast", "ArgMax", "Relu", "Reshape", "Transpose", "Constant", "Gemm", "BatchNormalization",
       "Sign", "Quant", "BipolarQuant", "MultiThreshold", "Dropout", "Loop", "Unsqueeze", "Squeeze"]
DOMAINS = ["", "ai.onnx", "qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "weird"]
ATTRS = ["axis", "keepdims", "select_last_index", "kernel_shape", "strides", "pads", "to", "group",
         "dilations", "auto_pad", "out_scale", "out_bias", "out_dtype", "signed", "narrow", "rounding_mode",
         "perm", "epsilon", "transA", "transB", "alpha", "beta", "value", "value_float", "value_ints",
         "data_layout", "ceil_mode", "storage_order", "axes"]
DTYPES = ["BIPOLAR", "TERNARY", "INT2", "INT3", "INT8", "INT32", "INT64", "UINT8", "FLOAT32", "INT0",
          "INT99999999999", "UINT128", "garbage", ""]
WEIGHT_SETS = ["-1,1", "-1,0,1", "1,2,200", "-128,127", "a,b", "", "99999999999999999999999"]
LOCATIONS = ["w.bin", "link.bin", "../secret.bin", "/etc/hostname", "fifo.bin", "sub", "missing.bin",
             "sub/../w.bin", "sub/../../secret.bin"]


def work_dir() -> Path:
    """The model folder: w.bin (valid data), link.bin -> ../secret.bin, fifo.bin, sub/; secret outside."""
    root = Path(tempfile.mkdtemp(prefix="dnnc-fuzz-"))
    folder = root / "model"
    (folder / "sub").mkdir(parents=True)
    (root / "secret.bin").write_bytes(np.ones(4096, np.float32).tobytes())
    (folder / "w.bin").write_bytes(np.ones(4096, np.float32).tobytes())
    (folder / "link.bin").symlink_to(root / "secret.bin")
    os.mkfifo(folder / "fifo.bin")
    return folder


WORK = work_dir()
ONNX_SEEDS = [hostile.deployment_proto("dense"), hostile.deployment_proto("conv", "binary"),
              hostile.qonnx_proto("dense"), hostile.qonnx_proto("conv"), *hostile.published_protos()]
CKPT_SEED = hostile.checkpoint_dict("FC8-FC10")
HOST = load_target("host")


class Finding(AssertionError):
    """Not a one-line DnncError: what the fuzzer must never see."""


def _names(proto: onnx.ModelProto) -> list[str]:
    g = proto.graph
    return sorted({*(i.name for i in g.initializer), *(i.name for i in g.input), *(o.name for o in g.output),
                   *(t for n in g.node for t in (*n.input, *n.output))}) + ["", "nope"]


def _attr_value(fdp: atheris.FuzzedDataProvider):
    kind = fdp.ConsumeIntInRange(0, 4)
    if kind == 0:
        return fdp.PickValueInList(INTS)
    if kind == 1:
        return [fdp.PickValueInList(INTS) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if kind == 2:
        return fdp.PickValueInList(FLOATS)
    if kind == 3:
        return fdp.PickValueInList(DTYPES + ["NOTSET", "SAME_UPPER", "ROUND", "NCHW", "NHWC"])
    return numpy_helper.from_array(np.asarray([fdp.PickValueInList(FLOATS)] * fdp.ConsumeIntInRange(1, 3),
                                              np.float32))


def _mutate_tensor(fdp, t: onnx.TensorProto) -> None:
    what = fdp.ConsumeIntInRange(0, 5)
    if what == 0 and t.dims:
        t.dims[fdp.ConsumeIntInRange(0, len(t.dims) - 1)] = fdp.PickValueInList(INTS)
    elif what == 1:
        t.dims.append(fdp.PickValueInList(INTS[:8]))
    elif what == 2:
        t.data_type = fdp.PickValueInList(list(TensorProto.DataType.values()) + [99])
    elif what == 3 and t.raw_data:
        t.raw_data = t.raw_data[: fdp.ConsumeIntInRange(0, len(t.raw_data))]
    elif what == 4:
        hostile.point_external(t, fdp.PickValueInList(LOCATIONS), fdp.PickValueInList(INTS),
                               fdp.PickValueInList([0, 0, 4, 2**40, -1]))
    else:
        a = numpy_helper.to_array(t).copy()
        if a.size:
            a.flat[fdp.ConsumeIntInRange(0, a.size - 1)] = fdp.PickValueInList(FLOATS)
            t.CopyFrom(numpy_helper.from_array(a, t.name))


def _mutate_onnx(fdp, proto: onnx.ModelProto) -> None:
    g = proto.graph
    what = fdp.ConsumeIntInRange(0, 15)
    nodes = list(g.node)
    n = nodes[fdp.ConsumeIntInRange(0, len(nodes) - 1)] if nodes else None
    if what == 0 and n is not None:
        n.op_type = fdp.PickValueInList(OPS)
    elif what == 1 and n is not None:
        n.domain = fdp.PickValueInList(DOMAINS)
    elif what == 2 and n is not None and n.input:
        n.input[fdp.ConsumeIntInRange(0, len(n.input) - 1)] = fdp.PickValueInList(_names(proto))
    elif what == 3 and n is not None:
        n.output[fdp.ConsumeIntInRange(0, len(n.output) - 1)] = fdp.PickValueInList(_names(proto))
    elif what == 4 and n is not None:
        g.node.remove(n)
    elif what == 5 and n is not None:
        g.node.append(copy.deepcopy(n))
    elif what == 6 and n is not None:
        name = fdp.PickValueInList(ATTRS)
        keep = [a for a in n.attribute if a.name != name]
        del n.attribute[:]
        n.attribute.extend(keep)
        n.attribute.append(helper.make_attribute(name, _attr_value(fdp)))
    elif what == 7 and n is not None and n.attribute:
        del n.attribute[fdp.ConsumeIntInRange(0, len(n.attribute) - 1)]
    elif what in (8, 9) and g.initializer:
        _mutate_tensor(fdp, g.initializer[fdp.ConsumeIntInRange(0, len(g.initializer) - 1)])
    elif what == 10 and g.input:
        tt = g.input[0].type.tensor_type
        if fdp.ConsumeBool() and tt.shape.dim:
            tt.shape.dim[fdp.ConsumeIntInRange(0, len(tt.shape.dim) - 1)].dim_value = fdp.PickValueInList(INTS)
        else:
            tt.elem_type = fdp.PickValueInList([1, 2, 3, 6, 7, 10, 11])
    elif what == 11:
        proto.opset_import[0].version = fdp.PickValueInList([1, 7, 11, 12, 13, 17, 18, 21, 24, 25, 99])
        proto.ir_version = fdp.PickValueInList([proto.ir_version, 0, 3, 7, 8, 11, 12, 99])
    elif what == 12 and g.quantization_annotation:
        ann = g.quantization_annotation[fdp.ConsumeIntInRange(0, len(g.quantization_annotation) - 1)]
        for kv in ann.quant_parameter_tensor_names:
            kv.value = fdp.PickValueInList(WEIGHT_SETS if kv.key == "dnnc_weight_values" else DTYPES)
    elif what == 13 and g.initializer:
        t = g.initializer[fdp.ConsumeIntInRange(0, len(g.initializer) - 1)]
        value = numpy_helper.to_array(t)
        g.initializer.remove(t)
        attr = fdp.PickValueInList(["value", "value_float", "value_ints", "sparse_value"])
        if attr == "value":
            kw = {"value": numpy_helper.from_array(value, t.name)}
        elif attr == "value_float":
            kw = {"value_float": float(value.ravel()[0]) if value.size else 0.0}
        elif attr == "value_ints":
            kw = {"value_ints": [int(v) for v in np.nan_to_num(value.ravel()[:8])]}
        else:
            kw = {"sparse_value": helper.make_sparse_tensor(numpy_helper.from_array(value.ravel()[:1]),
                                                            numpy_helper.from_array(np.zeros(1, np.int64)),
                                                            [max(1, value.size)])}
        g.node.insert(0, helper.make_node("Constant", [], [t.name], **kw))
    elif what == 14 and n is not None:
        depth = fdp.ConsumeIntInRange(0, 3)
        calls = [f"F{i + 1}" if i < depth else fdp.PickValueInList(["F0", "Identity"]) for i in range(depth + 1)]
        for i, callee in enumerate(calls):
            dom = "local" if callee.startswith("F") else ""
            proto.functions.append(helper.make_function(
                "local", f"F{i}", ["x"], ["y"], [helper.make_node(callee, ["x"], ["y"], domain=dom)],
                [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]))
        if not any(o.domain == "local" for o in proto.opset_import):
            proto.opset_import.append(helper.make_opsetid("local", 1))
        n.op_type, n.domain = "F0", "local"
        del n.attribute[:]
    elif what == 15 and len(nodes) > 1:
        i, j = fdp.ConsumeIntInRange(0, len(nodes) - 1), fdp.ConsumeIntInRange(0, len(nodes) - 1)
        a, b = copy.deepcopy(nodes[i]), copy.deepcopy(nodes[j])
        g.node[i].CopyFrom(b)
        g.node[j].CopyFrom(a)


HOSTILE_VALUES = [None, 0, -1, 2**40, "x", [], {}, math.nan, [1, 2], (1, 28, 28)]


def _hostile_value(fdp):
    import torch

    kind = fdp.ConsumeIntInRange(0, 3)
    if kind == 0:
        return fdp.PickValueInList(HOSTILE_VALUES)
    if kind == 1:
        return torch.full((fdp.ConsumeIntInRange(0, 3), 2), fdp.PickValueInList(FLOATS))
    if kind == 2:
        return torch.zeros(fdp.ConsumeIntInRange(0, 4), dtype=fdp.PickValueInList([torch.int64, torch.float64]))
    return fdp.PickValueInList(["FC8-FC10", "FC99999999999-FC10", "4C3-P2-FC10", "binary", "sign", "tanh"])


def _mutate_ckpt(fdp, ck: dict) -> None:
    import torch

    what = fdp.ConsumeIntInRange(0, 5)
    keys = sorted(ck)
    layers = ck.get("layers")
    ok = isinstance(layers, list) and len(layers) > 0 and all(isinstance(e, dict) for e in layers)
    layer = layers[fdp.ConsumeIntInRange(0, len(layers) - 1)] if ok else None
    if what == 0:
        ck[fdp.PickValueInList(keys)] = _hostile_value(fdp)
    elif what == 1:
        ck.pop(fdp.PickValueInList(keys), None)
    elif what == 2 and layer is not None:
        layer[fdp.PickValueInList(sorted(layer) + ["weight"])] = _hostile_value(fdp)
    elif what == 3 and layer is not None:
        key = fdp.PickValueInList(["logits", "gamma", "beta", "mean", "inv_std"])
        t = layer.get(key)
        if isinstance(t, torch.Tensor) and t.numel() and t.is_floating_point():
            flat = t.reshape(-1).clone()
            flat[fdp.ConsumeIntInRange(0, t.numel() - 1)] = fdp.PickValueInList(FLOATS)
            layer[key] = flat.reshape(t.shape)
    elif what == 4 and layer is not None and isinstance(layer.get("logits"), torch.Tensor):
        t = layer["logits"]
        layer["logits"] = fdp.PickValueInList([t[:1], t[:, :1], t.unsqueeze(0), t.transpose(0, 1), t[:0]])
    elif what == 5:
        ck["weights"] = fdp.PickValueInList(["binary", "ternary", "quaternary", "quinary", "real", "x"])


def _check(path: Path) -> None:
    """Load, verify and compile; a DnncError must be one line, anything else is a finding."""
    try:
        loaded = load_model(path)
    except DnncError as exc:
        if "\n" in str(exc) or not str(exc):
            raise Finding(f"multi-line or empty DnncError: {exc!r}") from exc
        return
    try:
        report = run_verify(loaded, "ir", samples=4, seed=0)
        if report.mismatches:
            raise Finding(f"accepted model disagrees with onnxruntime: {report.summary_line()}")
        with scratch_dir("dnnc-fuzz-c-") as out:
            backend_for(HOST).compile(loaded.ir, HOST, out)
    except DnncError as exc:  # e.g. onnxruntime refusing what dnnc accepted, or a backend limit
        if "\n" in str(exc):
            raise Finding(f"multi-line DnncError: {exc!r}") from exc


LAST = os.environ.get("DNNC_FUZZ_LAST")  # the input under test, kept for a native crash libFuzzer misses


def test_one_input(data: bytes) -> None:
    if not data:
        return
    if LAST:
        Path(LAST).write_bytes(data)
    mode, rest = data[0] % 4, data[1:]
    fdp = atheris.FuzzedDataProvider(rest)
    if mode == 0:
        path, payload = WORK / "x.onnx", rest
    elif mode == 2:
        path, payload = WORK / "x.pt", rest
    elif mode == 1:
        proto = copy.deepcopy(fdp.PickValueInList(ONNX_SEEDS))
        for _ in range(fdp.ConsumeIntInRange(1, 4)):
            with contextlib.suppress(Exception):  # a mutation protobuf refuses (a value out of range) is skipped
                _mutate_onnx(fdp, proto)
        path, payload = WORK / "x.onnx", proto.SerializeToString()
    else:
        import torch

        ck = copy.deepcopy(CKPT_SEED)
        for _ in range(fdp.ConsumeIntInRange(1, 4)):
            with contextlib.suppress(Exception):  # a mutation that cannot apply is skipped
                _mutate_ckpt(fdp, ck)
        buf = io.BytesIO()
        torch.save(ck, buf)
        path, payload = WORK / "x.pt", buf.getvalue()
    path.write_bytes(payload)
    _check(path)


def write_seeds(corpus: Path) -> None:
    """One seed per mode: the valid files themselves (modes 0, 2) and a little entropy (modes 1, 3)."""
    import torch

    rng = np.random.default_rng(0)
    for i, proto in enumerate(ONNX_SEEDS):
        (corpus / f"onnx{i}").write_bytes(b"\x00" + proto.SerializeToString())
    buf = io.BytesIO()
    torch.save(CKPT_SEED, buf)
    (corpus / "pt").write_bytes(b"\x02" + buf.getvalue())
    for mode in (1, 3):
        for i in range(8):
            (corpus / f"m{mode}-{i}").write_bytes(bytes([mode]) + rng.integers(0, 256, 24, np.uint8).tobytes())


def main() -> None:
    warnings.simplefilter("ignore")  # library warnings are not findings
    faulthandler.enable()  # torch and onnxruntime take SIGSEGV from libFuzzer: at least show where
    corpus = next((Path(a) for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None and not corpus.is_file():  # a file is one input to reproduce, not a corpus
        corpus.mkdir(parents=True, exist_ok=True)
        if not any(corpus.iterdir()):
            write_seeds(corpus)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
