"""Model files for the hostile-input tests and the fuzz target: small valid seeds and ways to break them.

Everything is built with onnx.helper / numpy_helper or dnnc's own writers from tests/models.py, so a
seed is a file dnnc accepts and each helper changes exactly one thing about it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dnnc
import numpy as np
import onnx
from onnx import numpy_helper

COMPILER_DIR = Path(dnnc.__file__).resolve().parents[1]  # the tree under test, for subprocesses


def deployment_proto(kind: str = "dense", weight_set: str = "ternary") -> onnx.ModelProto:
    """dnnc's deployment ONNX of a tiny edge model (tests/models.py)."""
    from dnnc.frontend import from_net
    from models import conv_model, dense_model

    net = dense_model(weight_set) if kind == "dense" else conv_model(weight_set)
    return from_net(net, kind).onnx


def qonnx_proto(kind: str = "dense") -> onnx.ModelProto:
    """The same model as QONNX (MultiThreshold signs), as `dnnc export --format qonnx` writes it."""
    from dnnc.frontend import from_net
    from dnnc.interchange.qonnx_export import ir_to_qonnx
    from models import conv_model, dense_model

    net = dense_model("ternary") if kind == "dense" else conv_model("binary")
    return ir_to_qonnx(from_net(net, kind).ir)


def published_protos() -> list[onnx.ModelProto]:
    """Small third-party layouts: Quant weights + BN + MultiThreshold (tests/qonnx_graphs.py), the qonnx
    zoo's and FINN's TFC layouts with float inputs (tests/test_published.py), 16 hidden units."""
    from qonnx_graphs import mlp
    from test_published import finn_tfc, zoo_tfc

    rng = np.random.default_rng(0)
    return [mlp(rng, weight_quant="quant", bits=2, sign="multithreshold"), zoo_tfc(rng, hidden=16),
            finn_tfc(rng, hidden=16)]


def checkpoint_dict(arch: str = "FC8-FC10") -> dict:
    """An untrained but complete distribution checkpoint (no training: fast and deterministic)."""
    import torch
    from dnnc.train.arch import parse_arch
    from dnnc.train.checkpoint import to_checkpoint
    from dnnc.train.model import Net

    torch.manual_seed(0)
    net = Net(parse_arch(arch), (1, 28, 28), "ternary", "sign")
    return to_checkpoint(net, dataset="mnist10k", history=[], best={"epoch": 0, "val_error": 1.0}, seed=0,
                         options={})


def initializer(proto: onnx.ModelProto, name: str) -> onnx.TensorProto:
    return next(t for t in proto.graph.initializer if t.name == name)


def node(proto: onnx.ModelProto, op: str, index: int = 0) -> onnx.NodeProto:
    return [n for n in proto.graph.node if n.op_type == op][index]


def set_initializer(proto: onnx.ModelProto, name: str, value) -> None:
    t = initializer(proto, name)
    t.CopyFrom(numpy_helper.from_array(np.asarray(value, np.float32), name))


def weight_name(proto: onnx.ModelProto) -> str:
    return next(t.name for t in proto.graph.initializer if t.name.endswith("_W"))


def to_external(proto: onnx.ModelProto, name: str, folder: Path, location: str) -> bytes:
    """Move initializer `name` into the file folder/location (raw bytes, offset 0); returns the bytes."""
    t = initializer(proto, name)
    data = numpy_helper.to_array(t).tobytes()
    target = folder / location
    if not target.is_symlink():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    point_external(t, location, len(data))
    return data


def point_external(t: onnx.TensorProto, location: str, length: int, offset: int = 0) -> None:
    t.ClearField("raw_data")
    t.ClearField("float_data")
    del t.external_data[:]
    t.data_location = onnx.TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v


def recursive_function_model() -> onnx.ModelProto:
    """A QONNX-looking model whose local function calls itself (onnx's inliner segfaults on it)."""
    from onnx import TensorProto, helper

    f = helper.make_function("local", "F", ["x"], ["y"], [helper.make_node("F", ["x"], ["y"], domain="local")],
                             [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    nodes = [helper.make_node("F", ["x"], ["f"], domain="local"),
             helper.make_node("BipolarQuant", ["f", "s"], ["y"], domain="qonnx.custom_op.general")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                          [numpy_helper.from_array(np.ones(1, np.float32), "s")])
    return helper.make_model(g, functions=[f], opset_imports=[helper.make_opsetid("", 17),
                                                              helper.make_opsetid("local", 1)])


def run_cli(*args, cwd=None, env=None, timeout=120, **kw) -> subprocess.CompletedProcess:
    """`python -m dnnc.cli ARGS` with this tree's dnnc, as a user runs it."""
    e = {**os.environ, **(env or {})}
    e["PYTHONPATH"] = os.pathsep.join([str(COMPILER_DIR), e.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "dnnc.cli", *map(str, args)], cwd=cwd, env=e, capture_output=True,
                          text=True, timeout=timeout, check=False, **kw)


def popen_cli(*args, cwd=None, env=None) -> subprocess.Popen:
    e = {**os.environ, **(env or {})}
    e["PYTHONPATH"] = os.pathsep.join([str(COMPILER_DIR), e.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-m", "dnnc.cli", *map(str, args)], cwd=cwd, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def one_line_error(stderr: str, *fragments: str) -> str:
    """The single error line of a failed command; asserts there is exactly one and no traceback."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{stderr}"
    line = lines[0]
    assert "error:" in line and "Traceback" not in stderr, stderr
    for frag in fragments:
        assert frag in line, f"{frag!r} not in {line!r}"
    return line
