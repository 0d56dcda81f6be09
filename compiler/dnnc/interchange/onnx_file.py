"""The one reader of ONNX files: a file that passes here is structurally sound, whoever wrote it.

Why a reader of its own: `onnx.load` trusts the file. It follows external data through symlinks to any
file, lets a tensor's dims disagree with its data (numpy then fails deep inside an importer, or
allocates what the dims claim), accepts ops that do not exist in the declared opset (onnxruntime
refuses them later, in `verify`), and hands recursive local functions to onnx's inliner, which crashes
the process. Every check here runs before any tensor is converted, and every failure is one DnncError
line naming the file and the node or tensor:

- size: the file at most 2 GiB (protobuf's limit), every tensor at most MAX_TENSOR_BYTES;
- versions: ir_version and the default-domain opset within what the installed onnx knows; every
  default-domain node exists at that opset and has only attributes its schema defines;
- structure: every tensor produced once (SSA), no cycle (a node feeding itself), no graph-valued or
  sparse attributes, local functions not recursive and nested at most MAX_FUNCTION_DEPTH deep;
- tensors: dims non-negative, data exactly as long as the dims say;
- external data: only regular files inside the model's own folder after resolving every symlink, offset
  and length within the file; the bytes are read into the tensor and the reference dropped, so no later
  step reads any file again.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from dnnc.errors import DnncError
from dnnc.fsutil import read_regular

MAX_FILE_BYTES = 2**31 - 1  # protobuf cannot parse more
MAX_TENSOR_BYTES = 2**31  # one tensor: far beyond any network dnnc deploys
MAX_NODES = 1_000_000
MAX_FUNCTION_DEPTH = 16
DEFAULT_DOMAINS = ("", "ai.onnx")

# bits per element of each data type (packed 4-bit types: 4); STRING has no fixed size
_BITS = {
    TensorProto.FLOAT: 32, TensorProto.UINT8: 8, TensorProto.INT8: 8, TensorProto.UINT16: 16,
    TensorProto.INT16: 16, TensorProto.INT32: 32, TensorProto.INT64: 64, TensorProto.BOOL: 8,
    TensorProto.FLOAT16: 16, TensorProto.DOUBLE: 64, TensorProto.UINT32: 32, TensorProto.UINT64: 64,
    TensorProto.COMPLEX64: 64, TensorProto.COMPLEX128: 128, TensorProto.BFLOAT16: 16,
}
for _name, _bits in (("FLOAT8E4M3FN", 8), ("FLOAT8E4M3FNUZ", 8), ("FLOAT8E5M2", 8), ("FLOAT8E5M2FNUZ", 8),
                     ("FLOAT8E8M0", 8), ("UINT4", 4), ("INT4", 4), ("FLOAT4E2M1", 4)):
    if hasattr(TensorProto, _name):
        _BITS[getattr(TensorProto, _name)] = _bits


def _typed_count(t: TensorProto, n: int) -> tuple[str, int]:
    """(typed field holding the values, entries it must have) for a tensor of n elements."""
    dt = t.data_type
    if dt == TensorProto.STRING:
        return "string_data", n
    if dt in (TensorProto.FLOAT, TensorProto.COMPLEX64):
        return "float_data", n * (2 if dt == TensorProto.COMPLEX64 else 1)
    if dt in (TensorProto.DOUBLE, TensorProto.COMPLEX128):
        return "double_data", n * (2 if dt == TensorProto.COMPLEX128 else 1)
    if dt == TensorProto.INT64:
        return "int64_data", n
    if dt in (TensorProto.UINT32, TensorProto.UINT64):
        return "uint64_data", n
    return "int32_data", (n + 1) // 2 if _BITS[dt] == 4 else n


def tensor_bytes(t: TensorProto, n: int) -> int:
    """Bytes of the raw data of n elements of t's type."""
    return (n * _BITS[t.data_type] + 7) // 8


class _Checker:
    def __init__(self, where: str, base_dir: Path | None):
        self.where = where
        self.base = base_dir.resolve() if base_dir is not None else None
        self.external_bytes = 0

    def fail(self, msg: str) -> DnncError:
        return DnncError(f"{self.where}: {msg}")

    # ---- tensors -------------------------------------------------------------------------------
    def tensor(self, t: TensorProto, what: str) -> None:
        if t.data_type not in _BITS and t.data_type != TensorProto.STRING:
            raise self.fail(f"{what}: unknown or undefined data type {t.data_type}")
        if any(d < 0 for d in t.dims):
            raise self.fail(f"{what}: negative dimension in {list(t.dims)}")
        n = math.prod(t.dims)
        if t.data_type != TensorProto.STRING and tensor_bytes(t, n) > MAX_TENSOR_BYTES:
            raise self.fail(f"{what}: dims {list(t.dims)} claim {tensor_bytes(t, n)} bytes, more than "
                            f"{MAX_TENSOR_BYTES} (a tensor this large is not a network dnnc deploys)")
        if t.HasField("segment"):
            raise self.fail(f"{what}: segmented tensors are not supported")
        if t.data_location == TensorProto.EXTERNAL:
            self.external(t, n, what)
            return
        if t.external_data:
            raise self.fail(f"{what}: external_data entries on a tensor whose data is stored inline")
        field, want = _typed_count(t, n)
        if t.raw_data:
            if t.data_type == TensorProto.STRING:
                raise self.fail(f"{what}: a string tensor cannot have raw data")
            if len(t.raw_data) != tensor_bytes(t, n):
                raise self.fail(f"{what}: dims {list(t.dims)} need {tensor_bytes(t, n)} bytes of data, "
                                f"the file has {len(t.raw_data)}")
            return
        got = len(getattr(t, field))
        if got != want:
            raise self.fail(f"{what}: dims {list(t.dims)} need {want} values, the file has {got}")

    def external(self, t: TensorProto, n: int, what: str) -> None:
        """Read the tensor's external bytes into raw_data, refusing anything outside the model's folder."""
        if t.data_type == TensorProto.STRING:
            raise self.fail(f"{what}: a string tensor cannot have external data")
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        if self.base is None:
            raise self.fail(f"{what}: external data needs the model's file (its folder holds the data)")
        if not loc or Path(loc).is_absolute() or "\0" in loc:
            raise self.fail(f"{what}: external data location {loc!r} must be a file name relative to the "
                            "model's folder")
        try:
            real = (self.base / loc).resolve(strict=True)
        except (OSError, RuntimeError):
            raise self.fail(f"{what}: external data file {loc!r} not found beside the model") from None
        if not real.is_relative_to(self.base):
            raise self.fail(f"{what}: external data {loc!r} resolves to {real}, outside the model's folder "
                            f"{self.base}; refused")
        try:
            offset = int(info.get("offset", "0"))
            length = int(info["length"]) if "length" in info else None
        except ValueError:
            raise self.fail(f"{what}: external data offset/length must be integers") from None
        need = tensor_bytes(t, n)
        if offset < 0 or (length is not None and length != need):
            raise self.fail(f"{what}: external data offset {offset} / length {length} do not match the "
                            f"{need} bytes its dims {list(t.dims)} need")
        self.external_bytes += need
        if self.external_bytes > MAX_TENSOR_BYTES:
            raise self.fail(f"external data beyond {MAX_TENSOR_BYTES} bytes in total")
        data = read_regular(real, what=f"{self.where}: {what}: external data {loc!r}", offset=offset, size=need)
        del t.external_data[:]
        t.data_location = TensorProto.DEFAULT
        t.raw_data = data

    # ---- nodes and graphs ----------------------------------------------------------------------
    def attributes(self, node: onnx.NodeProto, label: str) -> None:
        for a in node.attribute:
            if a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) or a.HasField("g") or a.graphs:
                raise self.fail(f"{label}: graph-valued attribute '{a.name}' (If/Loop/Scan bodies) is not "
                                "supported")
            if a.type in (AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS) or \
                    a.HasField("sparse_tensor") or a.sparse_tensors:
                raise self.fail(f"{label}: sparse tensor attribute '{a.name}' is not supported")
            if a.HasField("t"):
                self.tensor(a.t, f"{label} attribute '{a.name}'")
            for i, t in enumerate(a.tensors):
                self.tensor(t, f"{label} attribute '{a.name}'[{i}]")

    def nodes(self, nodes, opset: int | None, known: set[str], scope: str) -> None:
        """Schemas at the opset, SSA, no cycle; `known`: names defined before any node (inputs, consts)."""
        if len(nodes) > MAX_NODES:
            raise self.fail(f"{scope}: {len(nodes)} nodes, more than {MAX_NODES}")
        producer: dict[str, int] = {}
        for i, node in enumerate(nodes):
            label = f"node '{node.name or (node.output[0] if node.output else i)}' ({node.op_type})"
            if not node.output or not node.output[0]:
                raise self.fail(f"{label}: a node without an output")
            if node.domain in DEFAULT_DOMAINS:
                self.schema(node, opset, label)
            self.attributes(node, label)
            if node.domain in DEFAULT_DOMAINS and node.op_type == "Constant":
                try:
                    constant_value(node)
                except DnncError as exc:
                    raise self.fail(str(exc)) from None
            for out in node.output:
                if not out:
                    continue
                if out in node.input:
                    raise self.fail(f"{label}: output '{out}' is also its input (the graph has a cycle)")
                if out in producer or out in known:
                    raise self.fail(f"{label}: tensor '{out}' is defined twice (the graph must be in SSA form)")
                producer[out] = i
        deps = [{producer[t] for t in n.input if t in producer} for n in nodes]
        order = _topological(deps)
        if order is not None:
            node = nodes[order]
            raise self.fail(f"node '{node.name or node.output[0]}' ({node.op_type}) depends on its own output "
                            "(the graph has a cycle)")

    def schema(self, node: onnx.NodeProto, opset: int | None, label: str) -> None:
        if opset is None:
            raise self.fail(f"{label}: the model imports no opset of the default ONNX domain")
        try:
            sch = onnx.defs.get_schema(node.op_type, opset, "")
        except onnx.defs.SchemaError:
            raise self.fail(f"{label}: {node.op_type} does not exist in ONNX opset {opset}") from None
        if sch.deprecated:
            raise self.fail(f"{label}: {node.op_type} is deprecated in ONNX opset {opset}")
        if not (sch.min_input <= len(node.input) <= sch.max_input and
                sch.min_output <= len(node.output) <= sch.max_output):
            raise self.fail(f"{label}: {len(node.input)} inputs and {len(node.output)} outputs; {node.op_type} "
                            f"takes {sch.min_input}..{sch.max_input} and gives {sch.min_output}..{sch.max_output}")
        for a in node.attribute:
            if a.name not in sch.attributes:
                raise self.fail(f"{label}: attribute '{a.name}' is not defined for {node.op_type} in ONNX "
                                f"opset {opset}")


def _topological(deps: list[set[int]]) -> int | None:
    """None if the dependency graph is acyclic, else the index of a node on a cycle."""
    users: list[list[int]] = [[] for _ in deps]
    indeg = [len(d) for d in deps]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    ready = [i for i, k in enumerate(indeg) if k == 0]
    seen = 0
    while ready:
        i = ready.pop()
        seen += 1
        for u in users[i]:
            indeg[u] -= 1
            if indeg[u] == 0:
                ready.append(u)
    if seen == len(deps):
        return None
    return next(i for i, k in enumerate(indeg) if k > 0)


def constant_value(node: onnx.NodeProto) -> np.ndarray:
    """The value of a Constant node in any of its numeric forms (value, value_float(s), value_int(s))."""
    attrs = {a.name: a for a in node.attribute}
    if len(attrs) != 1:
        raise DnncError(f"node '{node.name or node.output[0]}' (Constant): needs exactly one value attribute, "
                        f"got {sorted(attrs) or 'none'}")
    name, a = next(iter(attrs.items()))
    want = {"value": AttributeProto.TENSOR, "value_float": AttributeProto.FLOAT, "value_floats": AttributeProto.FLOATS,
            "value_int": AttributeProto.INT, "value_ints": AttributeProto.INTS}.get(name)
    if want is not None and a.type != want:
        raise DnncError(f"node '{node.name or node.output[0]}' (Constant): attribute {name} has the wrong type")
    if name == "value":
        return numpy_helper.to_array(a.t)
    if name in ("value_float", "value_floats"):
        return np.asarray(a.f if name == "value_float" else list(a.floats), np.float32)
    if name in ("value_int", "value_ints"):
        return np.asarray(a.i if name == "value_int" else list(a.ints), np.int64)
    raise DnncError(f"node '{node.name or node.output[0]}' (Constant): a {name} constant is not a number")


def _default_opset(imports) -> int | None:
    versions = [o.version for o in imports if o.domain in DEFAULT_DOMAINS]
    return versions[0] if versions else None


def _canonical_domains(proto: onnx.ModelProto) -> None:
    """'ai.onnx' is the default domain's other name; onnx's shape inference knows only ''. One spelling."""
    for o in [*proto.opset_import, *(o for f in proto.functions for o in f.opset_import)]:
        if o.domain == "ai.onnx":
            o.domain = ""
    for n in [*proto.graph.node, *(n for f in proto.functions for n in f.node)]:
        if n.domain == "ai.onnx":
            n.domain = ""


def check_model(proto: onnx.ModelProto, where: str, base_dir: Path | None = None) -> onnx.ModelProto:
    """Validate a parsed model in place (external data read in from `base_dir`); DnncError if unsound."""
    c = _Checker(where, base_dir)
    _canonical_domains(proto)
    if not 3 <= proto.ir_version <= onnx.IR_VERSION:
        raise c.fail(f"ir_version {proto.ir_version} is outside 3..{onnx.IR_VERSION} (what onnx "
                     f"{onnx.__version__} reads)")
    domains = [o.domain for o in proto.opset_import]
    if len(set(domains)) != len(domains):
        twice = next(d for d in domains if domains.count(d) > 1)
        raise c.fail(f"opset domain '{twice or 'ai.onnx'}' is imported twice")
    opset = _default_opset(proto.opset_import)
    if opset is not None and not 1 <= opset <= onnx.defs.onnx_opset_version():
        raise c.fail(f"ONNX opset {opset} is outside 1..{onnx.defs.onnx_opset_version()} (what onnx "
                     f"{onnx.__version__} knows)")
    g = proto.graph
    if g.sparse_initializer:
        raise c.fail("sparse initializers are not supported")
    known: set[str] = set()
    for init in g.initializer:
        c.tensor(init, f"initializer '{init.name}'")
        known.add(init.name)
    for vi in g.input:
        dims = vi.type.tensor_type.shape.dim
        if any(d.HasField("dim_value") and d.dim_value < 0 for d in dims):
            raise c.fail(f"input '{vi.name}': negative dimension")
        known.add(vi.name)
    _check_datatypes(c, g)
    c.nodes(g.node, opset, known, "graph")
    _check_functions(c, proto, opset)
    return proto


_WIDTHS = re.compile(r"(?:U?INT|SCALEDINT<)(\d+)>?|FIXED<(\d+),(\d+)>")


def _check_datatypes(c: _Checker, g: onnx.GraphProto) -> None:
    """finn_datatype annotations name widths of 1..64 bits: qonnx's executor (the reference for QONNX
    files) computes 2**(width - 1) for any tensor so annotated, and INT99999999999 never finishes."""
    for ann in g.quantization_annotation:
        for kv in ann.quant_parameter_tensor_names:
            m = _WIDTHS.fullmatch(kv.value) if kv.key == "finn_datatype" else None
            if m and not all(1 <= int(w) <= 64 for w in m.groups() if w is not None):
                raise c.fail(f"tensor '{ann.tensor_name}': finn_datatype {kv.value[:40]} is wider than 64 bits")


def _check_functions(c: _Checker, proto: onnx.ModelProto, model_opset: int | None) -> None:
    """Each local function checked like the graph; calls between them form no cycle and nest at most
    MAX_FUNCTION_DEPTH deep (onnx's inliner recurses without a limit: a self-call crashes it)."""
    funcs = {(f.domain, f.name): f for f in proto.functions}
    if len(funcs) != len(proto.functions):  # onnx's tools would use another definition than this check
        names = [(f.domain, f.name) for f in proto.functions]
        dup = next(k for k in names if names.count(k) > 1)
        raise c.fail(f"local function '{dup[1]}' (domain '{dup[0]}') is defined twice")
    for f in proto.functions:
        opset = _default_opset(f.opset_import) or model_opset
        c.nodes(f.node, opset, set(f.input), f"function '{f.name}'")

    for n in [*proto.graph.node, *(n for f in proto.functions for n in f.node)]:
        f = funcs.get((n.domain, n.op_type))
        if f is not None and (len(n.input) > len(f.input) or len(n.output) > len(f.output)):
            raise c.fail(f"node '{n.name or n.output[0]}' calls local function '{f.name}' with "
                         f"{len(n.input)} inputs and {len(n.output)} outputs; it takes {len(f.input)} "
                         f"and gives {len(f.output)}")

    def calls(f: onnx.FunctionProto) -> Iterator[tuple[str, str]]:
        return ((n.domain, n.op_type) for n in f.node if (n.domain, n.op_type) in funcs)

    depth: dict[tuple[str, str], int] = {}

    def visit(key: tuple[str, str], stack: tuple) -> int:
        if key in stack:
            raise c.fail(f"local function '{key[1]}' calls itself (recursion cannot be inlined)")
        if key not in depth:
            if len(stack) > MAX_FUNCTION_DEPTH:
                raise c.fail(f"local functions nest more than {MAX_FUNCTION_DEPTH} deep")
            depth[key] = 1 + max((visit(k, (*stack, key)) for k in calls(funcs[key])), default=0)
        return depth[key]

    for key in funcs:
        visit(key, ())


def _repeated(field) -> bool:
    """protobuf 5+ has `is_repeated`; older versions only `label`."""
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return field.label == field.LABEL_REPEATED


def _check_strings(proto: onnx.ModelProto, where: str) -> None:
    """Every string field must be valid UTF-8: protobuf hands invalid ones over as bytes, which no later
    step expects (and onnx's C++ schema lookup raises UnicodeDecodeError on)."""
    todo: list = [proto]
    while todo:
        msg = todo.pop()
        for field, value in msg.ListFields():
            if field.type == field.TYPE_STRING:
                values = value if _repeated(field) else [value]
                if any(not isinstance(v, str) for v in values):
                    raise DnncError(f"{where}: field '{field.name}' is not valid UTF-8 text")
            elif field.type == field.TYPE_MESSAGE:
                todo.extend(value if _repeated(field) else [value])


def parse_onnx(data: bytes, where: str, base_dir: Path | None = None) -> onnx.ModelProto:
    """Parse and validate ONNX bytes (external data from `base_dir`, the model's folder)."""
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types
        raise DnncError(f"{where}: not an ONNX file ({type(exc).__name__})") from None
    if not proto.graph.node:
        raise DnncError(f"{where}: not an ONNX model (empty graph)")
    _check_strings(proto, where)
    return check_model(proto, where, base_dir)


def read_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """Read and validate an ONNX file; external data only from the folder the file really lives in."""
    path = Path(path)
    data = read_regular(path, str(path), limit=MAX_FILE_BYTES)
    return parse_onnx(data, str(path), path.resolve().parent)
