"""The coverage-guided fuzz target for the ONNX/QONNX/checkpoint readers (tests/fuzz_readers.py, atheris +
libFuzzer): a short run in the default suite, a long one marked slow. Below them, one regression test per
thing the fuzzer found, written out as the mutation it made, so each stays fixed whatever the fuzzer's
byte-to-mutation mapping becomes."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from dnnc.errors import DnncError
from dnnc.frontend import load_model
from hostile import (
    COMPILER_DIR,
    checkpoint_dict,
    deployment_proto,
    initializer,
    node,
    one_line_error,
    qonnx_proto,
    set_initializer,
)
from onnx import helper, numpy_helper

FUZZ = Path(__file__).resolve().parent / "fuzz_readers.py"


def fuzz(tmp_path: Path, seconds: int) -> str:
    """Run the fuzz target for `seconds`; the run fails on the first non-DnncError outcome."""
    pytest.importorskip("atheris")
    corpus, art = tmp_path / "corpus", tmp_path / "artifacts"
    art.mkdir()
    last = tmp_path / "last-input"
    env = {**os.environ, "TMPDIR": str(tmp_path), "DNNC_FUZZ_LAST": str(last),
           "PYTHONPATH": os.pathsep.join([str(COMPILER_DIR), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, str(FUZZ), str(corpus), f"-max_total_time={seconds}", "-timeout=30",
                        "-rss_limit_mb=4096", f"-artifact_prefix={art}/", "-print_final_stats=1"],
                       capture_output=True, text=True, env=env, timeout=seconds + 300, check=False)
    tail = "\n".join(r.stderr.splitlines()[-40:])
    if r.returncode < 0:  # killed by a signal libFuzzer did not catch (a native crash)
        tail += f"\nlast input (base64): {base64.b64encode(last.read_bytes()).decode()}"
    assert r.returncode == 0 and not list(art.iterdir()), f"the fuzzer found something:\n{tail}"
    runs = re.search(r"Done (\d+) runs", r.stderr)
    assert runs and int(runs.group(1)) >= 50, tail  # it really ran (seeds included)
    return r.stderr


def test_fuzz_readers_briefly(tmp_path):
    fuzz(tmp_path, 15)


@pytest.mark.slow
def test_fuzz_readers_five_minutes(tmp_path):
    fuzz(tmp_path, 300)


# ---- regressions: what the fuzzer found ---------------------------------------------------------------
def _load(tmp_path: Path, proto: onnx.ModelProto | None = None, ckpt: dict | None = None, raw: bytes | None = None):
    if ckpt is not None:
        from dnnc.train.checkpoint import save_checkpoint

        path = tmp_path / "m.pt"
        save_checkpoint(ckpt, path)
    else:
        path = tmp_path / "m.onnx"
        path.write_bytes(raw if raw is not None else proto.SerializeToString())
    return load_model(path)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(exc.value), str(exc.value)
    return str(exc.value)


def test_found_checkpoint_bn_of_the_wrong_length(tmp_path):
    ck = checkpoint_dict()
    ck["layers"][0]["beta"] = ck["layers"][0]["beta"][:3]  # numpy broadcast error in export, was a traceback
    with pytest.raises(DnncError, match="batch norm beta has 3 channels") as e:
        _load(tmp_path, ckpt=ck)
    _one_line(e)


def test_found_invalid_utf8_in_a_string_field(tmp_path):
    data = deployment_proto().SerializeToString().replace(b"GreaterOrEqual", b"\xffreaterOrEqual", 1)
    with pytest.raises(DnncError, match="not valid UTF-8") as e:  # was UnicodeDecodeError in onnx's C++
        _load(tmp_path, raw=data)
    _one_line(e)


def test_found_local_function_called_with_too_many_inputs(tmp_path):
    proto = qonnx_proto()
    f = helper.make_function("local", "F", ["x"], ["y"], [helper.make_node("Identity", ["x"], ["y"])],
                             [helper.make_opsetid("", 17)])
    proto.functions.append(f)
    proto.opset_import.append(helper.make_opsetid("local", 1))
    n = node(proto, "Flatten") if any(n.op_type == "Flatten" for n in proto.graph.node) else proto.graph.node[0]
    n.op_type, n.domain = "F", "local"
    n.input.append(n.input[0])  # two actuals, one formal: onnx's inliner asserted (RuntimeError)
    with pytest.raises(DnncError, match="calls local function 'F' with 2 inputs") as e:
        _load(tmp_path, proto)
    _one_line(e)


def test_found_fixed_batch_dim(tmp_path):
    proto = deployment_proto()
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    dim.dim_value = 32768  # accepted, then onnxruntime refused every verify batch
    with pytest.raises(DnncError, match="batch dimension fixed to 32768") as e:
        _load(tmp_path, proto)
    _one_line(e)


def test_found_constant_without_a_value(tmp_path):
    proto = qonnx_proto()
    mt = node(proto, "MultiThreshold")
    g = proto.graph
    g.initializer.remove(initializer(proto, mt.input[1]))
    g.node.insert(0, helper.make_node("Constant", [], [mt.input[1]]))  # StopIteration in the evaluator
    with pytest.raises(DnncError, match="exactly one value attribute") as e:
        _load(tmp_path, proto)
    _one_line(e)


def test_found_qonnx_conv_weight_not_fitting_its_input(tmp_path):
    proto = qonnx_proto("conv")
    dim = proto.graph.input[0].type.tensor_type.shape.dim[1]
    dim.dim_value = 3  # 3 input channels, weights for 1: imported, then an InvalidIR traceback
    with pytest.raises(DnncError, match="does not fit input") as e:
        _load(tmp_path, proto)
    _one_line(e)


@pytest.mark.parametrize("stride,kernel", [(0, 3), (1, 99)])
def test_found_conv_geometry_from_the_file(tmp_path, stride, kernel):
    proto = deployment_proto("conv")
    conv = node(proto, "Conv")
    for a in conv.attribute:
        if a.name == "strides":
            a.ints[:] = [stride, stride]
    if kernel != 3:
        w = initializer(proto, conv.input[1])
        set_initializer(proto, w.name, np.ones((6, 1, kernel, kernel), np.float32))
    with pytest.raises(DnncError) as e:  # stride 0 divided by zero; a kernel wider than the input
        _load(tmp_path, proto)
    assert "stride" in _one_line(e) or "does not fit" in str(e.value)


def test_found_multi_line_message_from_a_tensor_repr(tmp_path):
    import torch

    ck = checkpoint_dict()
    ck["input_shape"] = torch.full((3, 2), 2.0**40)
    with pytest.raises(DnncError, match="input_shape") as e:
        _load(tmp_path, ckpt=ck)
    _one_line(e)


def test_found_per_channel_constant_that_onnxruntime_broadcasts_differently(tmp_path):
    proto = deployment_proto()
    add = node(proto, "Add", 2)  # sign1's Add: its bias (33,) given as (1, 33, 1)
    b = initializer(proto, add.input[1])
    b.dims[:] = [1, *b.dims, 1]
    with pytest.raises(DnncError, match="does not match 33 channels") as e:
        _load(tmp_path, proto)
    _one_line(e)


def test_found_tensor_as_checkpoint_version(tmp_path):
    import torch

    ck = checkpoint_dict()
    ck["version"] = torch.ones(2)  # "Boolean value of Tensor ... is ambiguous"
    with pytest.raises(DnncError, match="unsupported checkpoint version") as e:
        _load(tmp_path, ckpt=ck)
    _one_line(e)


@pytest.mark.parametrize("bits", [1e9, 2.0**40, float("inf"), float("nan"), 65.0])
def test_found_huge_quant_bitwidth(tmp_path, bits):
    """A weight Quant with bitwidth 10^9: computing 2**(bits - 1) for its range ran past libFuzzer's
    30 s timeout (and 3 GB); the bitwidth is bounded first."""
    import time

    from qonnx_graphs import mlp

    proto = mlp(np.random.default_rng(0), weight_quant="quant", bits=2)
    q = node(proto, "Quant")
    set_initializer(proto, q.input[3], np.float32(bits))
    t0 = time.monotonic()
    with pytest.raises(DnncError, match="bitwidth must be one integer in 1..64") as e:
        _load(tmp_path, proto)
    _one_line(e)
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("dup", ["function", "opset"])
def test_found_duplicate_function_or_opset_domain(tmp_path, dup):
    """Two definitions of local function F0, the first recursive: dnnc's recursion check read the second,
    onnx's shape inference the first, and recursed until it segfaulted."""
    proto = deployment_proto()
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    rec = helper.make_function("local", "F0", ["x"], ["y"], [helper.make_node("F0", ["x"], ["y"], domain="local")],
                               opsets)
    ok = helper.make_function("local", "F0", ["x"], ["y"], [helper.make_node("Identity", ["x"], ["y"])], opsets)
    proto.functions.extend([rec, ok] if dup == "function" else [ok])
    proto.opset_import.append(helper.make_opsetid("local", 1))
    if dup == "opset":
        proto.opset_import.append(helper.make_opsetid("local", 2))
    fl = node(proto, "Flatten")
    fl.op_type, fl.domain = "F0", "local"
    del fl.attribute[:]
    with pytest.raises(DnncError, match="defined twice" if dup == "function" else "imported twice") as e:
        _load(tmp_path, proto)
    _one_line(e)


@pytest.mark.parametrize("dtype", ["INT99999999999", "UINT0", "FIXED<100000,8>", "SCALEDINT<99999999>"])
def test_found_absurd_finn_datatype_on_any_tensor(tmp_path, dtype):
    """A finn_datatype of INT99999999999 on a tensor dnnc never reads: qonnx's executor (the reference)
    computed 2**(width - 1) for it and ran past libFuzzer's timeout."""
    import time

    from qonnx_graphs import annotate

    proto = qonnx_proto()
    annotate(proto.graph, node(proto, "MultiThreshold").output[0], dtype)
    t0 = time.monotonic()
    with pytest.raises(DnncError, match="wider than 64 bits") as e:
        _load(tmp_path, proto)
    _one_line(e)
    assert time.monotonic() - t0 < 10


def test_found_division_by_zero_after_a_linear_layer(tmp_path):
    """Mul by the per-channel direction turned into Div: channels with direction 0 divide by zero (inf or
    NaN in float), which the chain took as 0 and compiled to wrong thresholds: 4 of 4 verify samples
    mismatched the file."""
    proto = qonnx_proto("conv")
    mul = next(n for n in proto.graph.node if n.op_type == "Mul" and n.input[1].startswith("sign1"))
    mul.op_type = "Div"
    with pytest.raises(DnncError, match="division by zero") as e:
        _load(tmp_path, proto)
    _one_line(e)


def test_qonnx_reference_failures_print_no_onnxruntime_log_lines(tmp_path):
    """BN parameters of shape (1, C) import (one value per channel) but onnxruntime refuses them inside
    qonnx's executor, the file's reference: one line, without the colored error lines qonnx's per-node
    sessions used to log."""
    from hostile import run_cli
    from qonnx_graphs import mlp

    proto = mlp(np.random.default_rng(0), weight_quant="quant", bits=2)
    bn = node(proto, "BatchNormalization")
    t = initializer(proto, bn.input[1])
    t.dims[:] = [1, *t.dims]
    path = tmp_path / "q.onnx"
    onnx.save(proto, path)
    r = run_cli("verify", path, "-n", "4", timeout=120)
    assert r.returncode == 2, r.stderr
    line = one_line_error(r.stderr, "qonnx cannot execute the file")
    assert "onnxruntime:" not in r.stderr.replace(line, "")


@pytest.mark.parametrize("scale", [2.0**-149, 2.0**-61, 2.0**61])
def test_found_power_of_two_scale_beyond_float32_products(tmp_path, scale):
    """Every BipolarQuant scale of the zoo layout set to 2^-149 (a power of two, but a denormal): the file's
    float32 products underflow to 0 while dnnc's integers do not; acc mismatched on 4 of 4 samples."""
    from test_published import zoo_tfc

    proto = zoo_tfc(np.random.default_rng(0), hidden=16)
    set_initializer(proto, "one", np.float32(scale))
    with pytest.raises(DnncError, match="power of two in 2\\^-60..2\\^60") as e:
        _load(tmp_path, proto)
    _one_line(e)


@pytest.mark.parametrize("op", ["Quant", "BipolarQuant"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_found_non_finite_weight_under_a_quantizer(tmp_path, op, value):
    """A NaN weight under a Quant: the file computes NaN there; astype(int64) made it a code (a silent
    miscompile that verify caught on 2 of 4 samples)."""
    from qonnx_graphs import mlp

    proto = mlp(np.random.default_rng(0), weight_quant="quant" if op == "Quant" else "bipolar", bits=2)
    q = node(proto, op)
    w = numpy_helper.to_array(initializer(proto, q.input[0])).copy()
    w.flat[10] = value
    set_initializer(proto, q.input[0], w)
    with pytest.raises(DnncError, match="NaN or infinite") as e:
        _load(tmp_path, proto)
    _one_line(e)


def test_found_topk_axis_minus_one_on_a_unit_axis(tmp_path):
    """The head's Div rewired to BatchNormalization's output, which still has BatchNorm1d's trailing unit
    axis: the file's TopK(axis=-1) then picks along that axis (always index 0), dnnc took the 16 logits'
    argmax; the class differed on 4 of 4 samples."""
    from test_published import finn_tfc

    proto = finn_tfc(np.random.default_rng(0), hidden=16)
    div = next(n for n in proto.graph.node if n.op_type == "Div" and n.input[0] == "tn_sub")
    div.input[0] = "bn1"
    with pytest.raises(DnncError, match="on the class axis") as e:
        _load(tmp_path, proto)
    _one_line(e)


def test_found_custom_op_attribute_of_the_wrong_type(tmp_path):
    """The input MultiThreshold's out_bias stored as an INT (32768): qonnx's executor ignores a mistyped
    attribute and uses its default 0, dnnc read 32768; every sample disagreed with the file."""
    from test_published import finn_tfc

    proto = finn_tfc(np.random.default_rng(0), hidden=16)
    mt = node(proto, "MultiThreshold")
    keep = [a for a in mt.attribute if a.name != "out_bias"]
    del mt.attribute[:]
    mt.attribute.extend([*keep, helper.make_attribute("out_bias", 32768)])
    with pytest.raises(DnncError, match="attribute out_bias is a INT, qonnx reads a FLOAT") as e:
        _load(tmp_path, proto)
    _one_line(e)


def test_found_annotated_weight_values_outside_their_datatype(tmp_path):
    """(Found as) a BIPOLAR-annotated weight holding -3.8e-6 under a BipolarQuant: qonnx's executor rounds the
    annotated initializer first (to -0.0, which BipolarQuant takes to +1), dnnc quantized -3.8e-6 to -1; 3 of
    4 samples disagreed with the file. The file contradicts itself: refused, naming the tensor."""
    proto = qonnx_proto()
    annotated = {a.tensor_name for a in proto.graph.quantization_annotation}
    name = next(t.name for t in proto.graph.initializer if t.name in annotated and t.name.endswith("_W"))
    w = numpy_helper.to_array(initializer(proto, name)).copy()
    w.flat[0] = -3.8146973e-06
    set_initializer(proto, name, w)
    with pytest.raises(DnncError, match=f"initializer '{name}': value -3.8147e-06 is not a (TERNARY|BIPOLAR) value") as e:
        _load(tmp_path, proto)
    _one_line(e)
