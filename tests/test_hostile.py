"""Hostile input, interruption and output paths (issue 16): each case ends with a correct result or one
line and exit status 2, nothing lost, no temporary output left. Numbers in the test names are the
issue's items; each test also covers neighbours of its case."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.errors import DnncError
from dnnc.frontend import load_model
from hostile import (
    checkpoint_dict,
    deployment_proto,
    initializer,
    node,
    one_line_error,
    point_external,
    popen_cli,
    qonnx_proto,
    recursive_function_model,
    run_cli,
    set_initializer,
    to_external,
    weight_name,
)
from onnx import helper, numpy_helper


def cli(*args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], **kw)


def error_line(res, *fragments) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output)
    return one_line_error(res.stderr, *fragments)


def hidden(folder: Path) -> list[str]:
    """Temporary outputs dnnc could leave: .NAME.dnnc-XXXX and .NAME.old-XXXX."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and (".dnnc-" in p.name or
                                                                                 ".old-" in p.name))


@pytest.fixture(scope="module")
def dense_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.onnx"
    onnx.save(deployment_proto("dense"), path)
    return path


@pytest.fixture
def model(tmp_path, dense_file) -> Path:
    """A fresh copy in this test's folder."""
    path = tmp_path / "m.onnx"
    path.write_bytes(dense_file.read_bytes())
    return path


# ---- 1: -o . / .. --force never deletes the current folder ---------------------------------------------
@pytest.mark.parametrize("out", [".", "..", "./", "sub/..", "../x/.."])
def test_01_output_holding_the_cwd_is_refused_and_nothing_is_deleted(tmp_path, model, monkeypatch, out):
    work = tmp_path / "x"
    work.mkdir()
    (work / "keep.txt").write_text("precious")
    (work / "sub").mkdir()
    monkeypatch.chdir(work)
    res = cli("compile", model, "-t", "host", "-o", out, "--force")
    error_line(res, "refusing to replace the current folder")
    assert (work / "keep.txt").read_text() == "precious" and model.is_file()
    assert hidden(work) == [] and hidden(tmp_path) == []


def test_01_force_replaces_only_the_named_folder_and_keeps_it_complete(tmp_path, model):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    sibling = tmp_path / "sibling.txt"
    sibling.write_text("kept")
    res = cli("compile", model, "-t", "host", "-o", out)
    error_line(res, "not empty", "--force")
    assert (out / "old.txt").is_file()
    res = cli("compile", model, "-t", "host", "-o", out, "--force")
    assert res.exit_code == 0, res.output
    assert not (out / "old.txt").exists() and (out / "model.c").is_file() and sibling.read_text() == "kept"
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("where", ["model-folder", "root"])
def test_01_output_that_holds_an_input_or_is_the_root_is_refused(tmp_path, model, where):
    out = model.parent if where == "model-folder" else Path("/")
    res = cli("compile", model, "-t", "host", "-o", out, "--force")
    error_line(res, "holds the input" if where == "model-folder" else "filesystem root")
    assert model.is_file()


def test_01_export_onto_its_own_input_is_refused(tmp_path):
    from dnnc.train.checkpoint import save_checkpoint

    pt = tmp_path / "m.pt"
    save_checkpoint(checkpoint_dict(), pt)
    before = pt.read_bytes()
    res = cli("export", pt, "-o", pt)
    error_line(res, "is the input")
    assert pt.read_bytes() == before


@pytest.mark.parametrize("which", ["model", "inputs"])
def test_01_run_results_onto_an_input_are_refused(tmp_path, model, which):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 1, 5, 7), np.uint8))
    target = model if which == "model" else x
    before = target.read_bytes()
    error_line(cli("run", model, "--input", x, "-o", target), "is the input")
    assert target.read_bytes() == before


# ---- 2: weight codes are narrowed only after a proven range ---------------------------------------------
@pytest.mark.parametrize("value", [128.0, 200.0, 1e9, 2.0**40, 1e30, -129.0])
def test_02_weights_beyond_int8_are_refused_not_wrapped(tmp_path, model, value):
    proto = onnx.load(model)
    name = weight_name(proto)
    w = numpy_helper.to_array(initializer(proto, name)).copy()
    w.flat[0] = value
    set_initializer(proto, name, w)
    del proto.graph.quantization_annotation[:]  # no declared set: the file's values are the set
    onnx.save(proto, model)
    res = cli("compile", model, "-t", "host", "-o", model.parent / "out")
    error_line(res, "does not fit the int8 codes")
    assert not (model.parent / "out").exists()


def test_02_integer_weights_pass_checks_the_range_before_narrowing():
    """The pass itself, on an IR an importer could hand it: 200 must not become -56."""
    from dnnc.frontend import from_net
    from dnnc.interchange.onnx_reader import onnx_to_ir
    from dnnc.passes.fold_input_affine import FoldInputAffine
    from dnnc.passes.integer_weights import IntegerWeights
    from models import dense_model

    ir = FoldInputAffine()(onnx_to_ir(from_net(dense_model("ternary"), "m").onnx))
    lin = ir.layers[0]
    lin.weight = lin.weight.astype(np.float32)
    lin.weight.flat[0] = 200
    lin.weight_values = (-1, 0, 1, 200)
    with pytest.raises(DnncError, match="200 does not fit the int8 codes"):
        IntegerWeights()(ir)


# ---- 3: cycles end the walk -------------------------------------------------------------------------------
def _flatten_self_loop(proto):
    fl = node(proto, "Flatten")
    fl.output[0] = fl.input[0]


def _mul_add_loop(proto):
    mul = node(proto, "Mul", 1)
    add = next(n for n in proto.graph.node if n.op_type == "Add" and n.input[0] == mul.output[0])
    mul.input[0] = add.output[0]


@pytest.mark.parametrize("mutate", [_flatten_self_loop, _mul_add_loop])
def test_03_cycles_are_one_line_errors(model, mutate):
    proto = onnx.load(model)
    mutate(proto)
    onnx.save(proto, model)
    error_line(cli("inspect", model), "cycle")


def test_03_the_walks_themselves_stop_at_a_cycle(dense_file):
    """Library callers hand protos to the walks directly: without a visited set this loops forever."""
    from dnnc.interchange.onnx_reader import onnx_to_ir
    from dnnc.interchange.qonnx_quant import ConstEvaluator

    def alarm(*_):
        raise TimeoutError("the walk did not stop")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    try:
        proto = onnx.load(dense_file)
        _flatten_self_loop(proto)
        with pytest.raises(DnncError, match="cycle"):
            onnx_to_ir(proto)
        g = helper.make_graph([helper.make_node("Identity", ["b"], ["a"]), helper.make_node("Identity", ["a"], ["b"])],
                              "g", [], [])
        with pytest.raises(DnncError, match="depends on itself"):
            ConstEvaluator(g, {}).const("a", g.node[0])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_03_recursive_local_function_is_refused_before_the_inliner(tmp_path):
    """onnx's inliner segfaults on a self-calling function: the reader must refuse it first (a crash
    would kill this test's subprocess, not give one line)."""
    path = tmp_path / "rec.onnx"
    onnx.save(recursive_function_model(), path)
    r = run_cli("inspect", path, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stderr)
    one_line_error(r.stderr, "calls itself")


# ---- 4: target names are names ---------------------------------------------------------------------------
@pytest.mark.parametrize("spec,msg", [
    ("../targets/host", "must end in .toml"),
    ("/etc/passwd", "must end in .toml"),
    ("host/../host", "must end in .toml"),
    ("..", "unknown target"),
    ("ho st", "unknown target"),
    ("nope.toml", "no such target file"),
])
def test_04_a_target_name_must_be_a_name(model, tmp_path, spec, msg):
    error_line(cli("compile", model, "-t", spec, "-o", tmp_path / "o"), msg)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text,msg", [("backend = [", "not valid TOML"), ("backend = 'x'\n", "'backend' = 'x'"),
                                      ("backend = 'hls'\npart = 'x'\ndescription = 'd'\nclock_ns = nan\n",
                                       "finite")])
def test_04_a_bad_target_file_is_one_line(model, tmp_path, monkeypatch, text, msg):
    (tmp_path / "board.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    error_line(cli("compile", model, "-t", "./board.toml", "-o", "o"), "board.toml", msg)
    assert not (tmp_path / "o").exists()


# ---- 5: external data stays inside the model's folder ----------------------------------------------------
@pytest.fixture
def external(tmp_path, dense_file):
    """(model folder, proto, weight name, outside secret file)."""
    folder = tmp_path / "model"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    proto = onnx.load(dense_file)
    name = weight_name(proto)
    n = numpy_helper.to_array(initializer(proto, name)).nbytes
    secret.write_bytes(np.full(n // 4, 1.0, np.float32).tobytes())  # a valid-looking weight tensor
    return folder, proto, name, secret


def test_05_external_data_inside_the_folder_loads_identically(external, dense_file):
    folder, proto, name, _ = external
    to_external(proto, name, folder, "data/w.bin")
    onnx.save(proto, folder / "m.onnx")
    assert (folder / "data" / "w.bin").is_file()
    got, want = load_model(folder / "m.onnx").ir, load_model(dense_file).ir
    assert np.array_equal(got.layers[0].weight, want.layers[0].weight)


@pytest.mark.parametrize("how", ["symlink-file", "symlink-dir", "dotdot", "absolute", "fifo", "short",
                                 "missing"])
def test_05_external_data_outside_the_folder_is_refused(external, how):
    folder, proto, name, secret = external
    n = secret.stat().st_size
    loc = {"symlink-file": "w.bin", "symlink-dir": "d/w.bin", "dotdot": "../secret.bin", "absolute": str(secret),
           "fifo": "fifo.bin", "short": "short.bin", "missing": "none.bin"}[how]
    if how == "symlink-file":
        (folder / "w.bin").symlink_to(secret)
    elif how == "symlink-dir":
        (folder / "d").symlink_to(secret.parent)
        (secret.parent / "w.bin").write_bytes(secret.read_bytes())
    elif how == "fifo":
        os.mkfifo(folder / "fifo.bin")
    elif how == "short":
        (folder / "short.bin").write_bytes(secret.read_bytes()[: n // 2])
    point_external(initializer(proto, name), loc, n)
    onnx.save(proto, folder / "m.onnx")
    msg = {"symlink-file": "outside the model's folder", "symlink-dir": "outside the model's folder",
           "dotdot": "outside the model's folder", "absolute": "relative to the model's folder",
           "fifo": "not a regular file", "short": "bytes", "missing": "not found"}[how]
    out = folder.parent / "out"
    for args in (["inspect", folder / "m.onnx", "--stages", out], ["export", folder / "m.onnx", "--format",
                                                                    "qonnx", "-o", folder.parent / "x.onnx"]):
        error_line(cli(*args), msg)
    assert not out.exists() and not (folder.parent / "x.onnx").exists()


# ---- 6: a symlinked -o is followed, the link kept --------------------------------------------------------
def test_06_output_symlink_to_a_folder_is_written_through(tmp_path, model):
    real = tmp_path / "real"
    real.mkdir()
    (real / "old.txt").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(real)
    res = cli("compile", model, "-t", "host", "-o", link, "--force")
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert (real / "model.c").is_file() and not (real / "old.txt").exists()
    assert hidden(tmp_path) == []


def test_06_dangling_or_looping_output_symlink_is_one_line(tmp_path, model):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for name in ("dangling", "loop"):
        error_line(cli("compile", model, "-t", "host", "-o", tmp_path / name), "symlink to nothing")
    assert hidden(tmp_path) == [] and not (tmp_path / "nowhere").exists()


def test_06_export_through_a_symlinked_file_keeps_the_link(tmp_path):
    from dnnc.train.checkpoint import save_checkpoint

    pt = tmp_path / "m.pt"
    save_checkpoint(checkpoint_dict(), pt)
    target = tmp_path / "store" / "m.onnx"
    target.parent.mkdir()
    target.write_bytes(b"old")
    (tmp_path / "m.onnx").symlink_to(target)
    res = cli("export", pt, "-o", tmp_path / "m.onnx")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m.onnx").is_symlink() and onnx.load(target).graph.node
    assert hidden(tmp_path) == [] and hidden(target.parent) == []


# ---- 7: SIGTERM / SIGINT leave no temporary output ---------------------------------------------------
def _leftovers(*folders: Path) -> list[str]:
    """Anything dnnc may have left: hidden outputs, scratch build folders, a compiler's temporary files.
    onnxruntime writes $TMPDIR/.ses on import (its own, reused by every run): not dnnc's."""
    out = []
    for f in folders:
        out += [p.name for p in f.iterdir() if p.name != ".ses" and (p.name.startswith((".", "dnnc-", "cc")))]
    return sorted(out)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_07_signals_during_verify_on_the_host_leave_no_build_folder(tmp_path, model, sig):
    """verify -t host builds in $TMPDIR/dnnc-c-*; gcc writes its own temporaries while it runs."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    codes = set()
    for delay in (0.6, 1.0, 1.4, 1.8, 2.4):
        p = popen_cli("verify", model, "-t", "host", "-n", "300", env={"TMPDIR": str(tmpdir)})
        time.sleep(delay)
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
        codes.add(p.returncode)
        # -sig: the signal came after the verification had finished and dnnc had restored the default
        # handlers on its way out (the report is printed; nothing was left to clean up).
        assert p.returncode in (0, 128 + sig) or (p.returncode == -sig and "mismatches=" in out), err
        if p.returncode == 128 + sig:
            assert err.strip() == f"dnnc: interrupted by {sig.name}; temporary outputs removed", err
        assert _leftovers(tmpdir) == [], (delay, _leftovers(tmpdir))
    assert 128 + sig in codes  # at least one run was interrupted mid-way


def test_07_a_signal_a_c_extension_turned_into_its_own_error_is_still_an_interruption(model, monkeypatch):
    """Seen under load: SIGTERM while onnxruntime's extension initialised became 'ImportError: initialization
    failed' (pybind wraps what the handler raised). The CLI must still report the interruption."""
    import dnnc.commands.inspect as inspect_command

    def library_that_wraps(*_a, **_k):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except BaseException as exc:
            raise ImportError("initialization failed") from exc

    monkeypatch.setattr(inspect_command, "load_model", library_that_wraps)
    with pytest.raises(SystemExit) as exit_:
        main(["inspect", str(model)])
    assert exit_.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handlers were restored


def test_07_sigterm_during_compile_force_keeps_old_or_new_output_whole(tmp_path, model):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    interrupted = 0
    for delay in (0.3, 0.5, 0.7, 0.9, 1.1, 1.3):
        p = popen_cli("compile", model, "-t", "fpga-hls", "-o", out, "--force")
        time.sleep(delay)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        interrupted += p.returncode == 143
        names = sorted(q.name for q in out.iterdir())
        assert names in (["old.txt"], ["dataflow.json", "dataflow.onnx", "hls", "report.md"]), names
        # -15: the signal came after the new output was in place and dnnc had restored the default handlers
        assert p.returncode in (0, 143) or (p.returncode == -signal.SIGTERM and names != ["old.txt"]), err
        assert hidden(tmp_path) == []
        if names != ["old.txt"]:  # the new output is complete: start again from the old one
            for q in out.iterdir():
                q.unlink() if q.is_file() else __import__("shutil").rmtree(q)
            (out / "old.txt").write_text("old")
    assert interrupted


def test_07_interruption_between_creating_a_temporary_and_using_it(tmp_path, monkeypatch):
    """The old mkstemp-before-try window: the temporary is registered before it exists, so the CLI's
    final cleanup finds it even when the signal lands right after creation."""
    from dnnc import fsutil

    created = []
    real_mkfile = fsutil._mkfile

    def mkfile_then_signal(path):
        real_mkfile(path)
        created.append(path)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(fsutil, "_mkfile", mkfile_then_signal)
    with fsutil.signal_cleanup(), pytest.raises(fsutil.Interrupted):
        with fsutil.atomic_output_file(tmp_path / "a.onnx"):
            pytest.fail("the signal should have arrived before the body")
        time.sleep(1)
    assert created and created[0] in fsutil.remove_temporaries()
    assert list(tmp_path.iterdir()) == []


def test_07_a_signal_during_the_commit_waits_for_it(tmp_path, monkeypatch):
    """Between moving the old folder aside and renaming the new one in, a signal must not leave the
    output missing: it is raised once both renames are done."""
    from dnnc import fsutil

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    real_rename = os.rename
    calls = []

    def rename_then_signal(a, b):
        real_rename(a, b)
        calls.append((a, b))
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)

    monkeypatch.setattr(fsutil.os, "rename", rename_then_signal)
    with fsutil.signal_cleanup(), pytest.raises(fsutil.Interrupted), \
            fsutil.atomic_output_dir(out, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert len(calls) == 2 and sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert hidden(tmp_path) == []


# ---- 8: impossible output paths are one line ------------------------------------------------------------
@pytest.mark.parametrize("where,msg", [("/proc/x", "cannot write in /proc"), ("/sys/x", "cannot write in /sys"),
                                       ("file/sub", "is a file, not a folder"),
                                       ("file/a/b", "is a file, not a folder"), ("file", "is a file")])
def test_08_impossible_output_paths_are_one_line(tmp_path, model, where, msg):
    (tmp_path / "file").write_text("x")
    out = where if where.startswith("/") else tmp_path / where
    error_line(cli("compile", model, "-t", "host", "-o", out), msg)
    assert (tmp_path / "file").read_text() == "x" and hidden(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_08_unwritable_parent_is_one_line(tmp_path, model):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        error_line(cli("compile", model, "-t", "host", "-o", ro / "out"), "cannot write in")
        error_line(cli("inspect", model, "--stages", ro / "st"), "--stages", "cannot write in")
    finally:
        ro.chmod(0o755)


def test_08_file_outputs_in_impossible_places_are_one_line(tmp_path):
    from dnnc.train.checkpoint import save_checkpoint

    pt = tmp_path / "m.pt"
    save_checkpoint(checkpoint_dict(), pt)
    (tmp_path / "file").write_text("x")
    error_line(cli("export", pt, "-o", "/proc/x.onnx"), "cannot write in /proc")
    error_line(cli("export", pt, "-o", tmp_path / "file" / "x.onnx"), "is a file, not a folder")
    error_line(cli("export", pt, "-o", tmp_path), "is a directory")


@pytest.mark.parametrize("out", ["/proc/x.pt", "/sys/x.pt", "{f}/x.pt"])
def test_08_train_checks_its_output_before_training(tmp_path, out):
    """-o used to be checked only when the checkpoint was written, after all the training."""
    (tmp_path / "file").write_text("x")
    t0 = time.monotonic()
    res = cli("train", "--arch", "tiny-fc", "--weights", "ternary", "-o", out.format(f=tmp_path / "file"))
    error_line(res, "-o")
    assert time.monotonic() - t0 < 10


# ---- 9: files that parse but are malformed ---------------------------------------------------------------
def _dims_disagree(proto):
    initializer(proto, weight_name(proto)).dims[0] += 1


def _dims_huge(proto):
    t = initializer(proto, weight_name(proto))
    del t.dims[:]
    t.dims.extend([2**40])


def _dims_negative(proto):
    initializer(proto, weight_name(proto)).dims[0] = -3


def _typed_short(proto):
    t = initializer(proto, weight_name(proto))
    values = numpy_helper.to_array(t).ravel()[:-1]
    t.ClearField("raw_data")
    t.float_data.extend(values.tolist())


def _input_mul_huge(proto):
    set_initializer(proto, "input_norm_in_mul", 2.0**62)


def _input_dim_huge(proto):
    proto.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 2**40  # the weights no longer fit


@pytest.mark.parametrize("mutate,msg", [
    (_dims_disagree, "need"), (_dims_huge, "claim"), (_dims_negative, "negative dimension"),
    (_typed_short, "need"), (_input_mul_huge, "2^24"), (_input_dim_huge, "does not fit input"),
])
def test_09_malformed_deployment_files_are_one_line(model, mutate, msg):
    proto = onnx.load(model, load_external_data=False)
    mutate(proto)
    onnx.save(proto, model)
    error_line(cli("inspect", model), msg)


@pytest.mark.parametrize("stride", [2**10, 2**38])
def test_09_huge_input_is_bounded_before_anything_allocates(tmp_path, stride):
    """A strided first conv keeps every later shape as it was while the input grows to (5s + 1)^2
    pixels: the size bound must stop it at load, before verify allocates inputs for it."""
    proto = deployment_proto("conv")
    conv = node(proto, "Conv")
    for a in conv.attribute:
        if a.name == "strides":
            a.ints[:] = [stride, stride]
    for d in proto.graph.input[0].type.tensor_type.shape.dim[2:]:
        d.dim_value = 5 * stride + 1
    onnx.save(proto, tmp_path / "c.onnx")
    error_line(cli("verify", tmp_path / "c.onnx", "-n", "10"), "larger than dnnc compiles")


def test_09_constant_value_float_is_read(model, dense_file):
    """A valid Constant(value_float=2) in place of the input multiplier initializer: same model."""
    proto = onnx.load(model)
    g = proto.graph
    g.initializer.remove(initializer(proto, "input_norm_in_mul"))
    g.node.insert(0, helper.make_node("Constant", [], ["input_norm_in_mul"], value_float=2.0))
    onnx.save(proto, model)
    res = cli("verify", model, "-n", "50")
    assert res.exit_code == 0 and "mismatches=0" in res.output, res.output
    assert np.array_equal(load_model(model).ir.layers[0].weight, load_model(dense_file).ir.layers[0].weight)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_09_multithreshold_with_non_finite_threshold_is_one_line(tmp_path, value):
    proto = qonnx_proto()
    mt = node(proto, "MultiThreshold")
    t = numpy_helper.to_array(initializer(proto, mt.input[1])).copy()
    t.flat[0] = value
    set_initializer(proto, mt.input[1], t)
    onnx.save(proto, tmp_path / "q.onnx")
    error_line(cli("inspect", tmp_path / "q.onnx"), "NaN or infinite")


@pytest.mark.parametrize("dtype", ["INT32", "INT64", "INT99999999999", "INT0", "UINT128"])
def test_09_wide_or_absurd_weight_datatype_is_one_line_and_fast(model, dtype):
    """INT32 once meant enumerating 2^32 values; INT99999999999 a 12 GB integer."""
    proto = onnx.load(model)
    name = weight_name(proto)
    for ann in proto.graph.quantization_annotation:
        if ann.tensor_name == name:
            del ann.quant_parameter_tensor_names[:]
            e = ann.quant_parameter_tensor_names.add()
            e.key, e.value = "finn_datatype", dtype
    onnx.save(proto, model)
    t0 = time.monotonic()
    error_line(cli("inspect", model))
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize("kind", ["fifo", "npz", "pickle", "truncated"])
def test_09_run_inputs_that_are_not_one_npy_array_are_one_line(tmp_path, model, kind):
    x = tmp_path / "x.npy"
    if kind == "fifo":
        os.mkfifo(x)
    elif kind == "npz":
        with open(x, "wb") as fh:
            np.savez(fh, a=np.zeros((1, 1, 5, 7), np.uint8))
    elif kind == "pickle":
        np.save(x, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    else:
        np.save(x, np.zeros((4, 1, 5, 7), np.uint8))
        x.write_bytes(x.read_bytes()[:100])
    r = run_cli("run", model, "--input", x, timeout=60)
    assert r.returncode == 2, r.stderr
    one_line_error(r.stderr, "x.npy")


def test_09_fifo_as_model_is_one_line_not_a_hang(tmp_path):
    os.mkfifo(tmp_path / "m.onnx")
    r = run_cli("inspect", tmp_path / "m.onnx", timeout=60)
    assert r.returncode == 2
    one_line_error(r.stderr)


@pytest.mark.parametrize("data", [b"", b"\0\0", b"\0\0\x08\x03\0\0", b"\0\0\x08\x01\xff\xff\xff\xff"])
def test_09_truncated_idx_dataset_files_are_one_line(tmp_path, data):
    from dnnc.data.datasets import _read_idx

    (tmp_path / "f").write_bytes(data)
    with pytest.raises(DnncError, match="not a uint8 IDX file"):
        _read_idx(tmp_path / "f")


# ---- 10: the opset is checked ------------------------------------------------------------------------------
@pytest.mark.parametrize("change,msg", [
    (lambda p: setattr(p.opset_import[0], "version", 7), "GreaterOrEqual does not exist in ONNX opset 7"),
    (lambda p: setattr(p.opset_import[0], "version", 11), "opset 11"),
    (lambda p: setattr(p.opset_import[0], "version", 99), "opset 99 is outside"),
    (lambda p: setattr(p, "ir_version", 99), "ir_version 99"),
    (lambda p: p.opset_import.pop(), "imports no opset"),
    (lambda p: node(p, "ArgMax").attribute.append(helper.make_attribute("bogus", 1)), "attribute 'bogus'"),
])
def test_10_opset_and_schema_are_checked(model, change, msg):
    proto = onnx.load(model)
    change(proto)
    onnx.save(proto, model)
    error_line(cli("verify", model, "-n", "20"), msg)


# ---- 11: sizes from options are bounded before allocating ---------------------------------------------------
@pytest.mark.parametrize("args,msg", [
    (["verify", "{m}", "--samples", "100000000"], "--samples"),
    (["verify", "{m}", "--seed", "-1"], "--seed"),
    (["verify", "{m}", "--seed", str(2**70)], "--seed"),
    (["bench", "{m}", "-t", "host", "--repeat", "10000000000"], "--repeat"),
    (["train", "--arch", "FC99999999999-FC10", "--weights", "ternary", "-o", "x.pt"], "width 99999999999"),
    (["train", "--arch", "FC60000-FC60000-FC10", "--weights", "ternary", "-o", "x.pt"], "weights"),
    (["train", "--arch", "99x4C3-FC10", "--weights", "ternary", "-o", "x.pt"], "repeat count"),
    (["train", "--arch", "4C999-FC10", "--weights", "ternary", "-o", "x.pt"], "kernel size"),
])
def test_11_sizes_from_options_are_bounded(model, tmp_path, monkeypatch, args, msg):
    monkeypatch.chdir(tmp_path)
    t0 = time.monotonic()
    error_line(cli(*[a.format(m=model) for a in args]), msg)
    assert time.monotonic() - t0 < 60 and not (tmp_path / "x.pt").exists()


def test_11_samples_are_bounded_by_the_models_input_bytes(tmp_path):
    """1e6 samples pass the option's bound but not 1 GiB for a big input: checked before allocating."""
    from dnnc.verify.inputs import make_inputs

    class Big:
        class ir:
            input_shape = (3, 512, 512)

    with pytest.raises(DnncError, match="more than"):
        make_inputs(Big, 1_000_000)


# ---- 12: non-finite checkpoint values are refused ------------------------------------------------------
@pytest.mark.parametrize("where", ["logits", "bias", "gamma", "inv_std"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_12_non_finite_checkpoint_values_are_refused(tmp_path, where, value):
    from dnnc.train.checkpoint import save_checkpoint

    ck = checkpoint_dict()
    t = ck["bias"] if where == "bias" else ck["layers"][0][where]
    t.view(-1)[0] = value
    save_checkpoint(ck, tmp_path / "m.pt")
    error_line(cli("export", tmp_path / "m.pt", "-o", tmp_path / "m.onnx"), "m.pt", "not finite", where)
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("change,msg", [
    (lambda c: c["layers"][0].update(logits=[1, 2]), "float tensor"),
    (lambda c: c["layers"][0].update(logits=c["layers"][0]["logits"][:2]), "values first"),
    (lambda c: c.update(input_shape=[1, 28]), "input_shape"),
    (lambda c: c.update(input_shape=[1, 2**40, 1]), "input_shape"),
    (lambda c: c["input_norm"].update(input_div=0), "input_div"),
    (lambda c: c.update(layers=[]), "layers"),
    (lambda c: c.update(out_scale=float("nan")), "out_scale"),
    (lambda c: c.update(arch="FC99999999999-FC10"), None),
])
def test_12_malformed_checkpoints_are_one_line(tmp_path, change, msg):
    from dnnc.train.checkpoint import save_checkpoint

    ck = checkpoint_dict()
    change(ck)
    save_checkpoint(ck, tmp_path / "m.pt")
    for args in (["inspect", tmp_path / "m.pt"], ["evaluate", tmp_path / "m.pt"]):
        res = cli(*args)
        if msg is None and res.exit_code == 0:
            continue  # the arch string is not what collapse reads; evaluate rebuilds from it (bounded)
        error_line(res, *([msg] if msg else []))


# ---- 13: --folding is strict -------------------------------------------------------------------------------
@pytest.mark.parametrize("content,msg", [
    ({"L0_mvau": {"pe": 1}}, "did you mean 'PE'"),
    ({"L0_mvau": {"simd": 1}}, "did you mean 'SIMD'"),
    ({"L0_mvau": {"PE": True}}, "PE must be an integer"),
    ({"L0_mvau": {"PE": 1.5}}, "PE must be an integer"),
    ({"L0_mvau": {"PE": 2**40}}, "PE must be an integer"),
    ({"L0_mvau": 3}, "expected"),
    ([1, 2], "expected"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ("{", "not a JSON folding file"),
])
def test_13_folding_files_are_strict(model, tmp_path, content, msg):
    f = tmp_path / "fold.json"
    f.write_text(content if isinstance(content, str) else json.dumps(content))
    error_line(cli("compile", model, "-t", "fpga-hls", "-o", tmp_path / "o", "--folding", f), msg)
    assert not (tmp_path / "o").exists()


# ---- 14: --fps / --clock-ns are finite ---------------------------------------------------------------------
@pytest.mark.parametrize("opt,value,msg", [
    ("--fps", "nan", "finite"), ("--fps", "inf", "finite"), ("--fps", "-inf", "finite"), ("--fps", "0", "> 0"),
    ("--clock-ns", "nan", "finite"), ("--clock-ns", "inf", "finite"), ("--clock-ns", "1e-300", "clock_ns"),
    ("--clock-ns", "1e300", "clock_ns"), ("--fps", "1e300", "fps"),
])
def test_14_non_finite_or_absurd_rates_are_refused(model, tmp_path, opt, value, msg):
    error_line(cli("compile", model, "-t", "fpga-hls", "-o", tmp_path / "o", opt, value), msg)
    assert not (tmp_path / "o").exists()


def test_14_dataflow_json_is_valid_json(model, tmp_path):
    res = cli("compile", model, "-t", "fpga-hls", "-o", tmp_path / "o", "--fps", "1e6", "--clock-ns", "3.3")
    assert res.exit_code == 0, res.output
    json.loads((tmp_path / "o" / "dataflow.json").read_text(), parse_constant=lambda c: pytest.fail(c))


# ---- 15: outputs respect the umask ---------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_15_outputs_respect_the_umask(tmp_path, model, umask):
    from dnnc.train.checkpoint import save_checkpoint

    old = os.umask(umask)
    try:
        save_checkpoint(checkpoint_dict(), tmp_path / "m.pt")
        assert cli("export", tmp_path / "m.pt", "-o", tmp_path / "m.onnx").exit_code == 0
        assert cli("compile", model, "-t", "host", "-o", tmp_path / "out").exit_code == 0
        assert cli("inspect", model, "--stages", tmp_path / "st").exit_code == 0
    finally:
        os.umask(old)
    for p in (tmp_path / "m.pt", tmp_path / "m.onnx", tmp_path / "out" / "model.c", tmp_path / "st" / "00-import.onnx"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask, p
    for p in (tmp_path / "out", tmp_path / "out" / "runtime", tmp_path / "st"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o777 & ~umask, p


# ---- 16: usage errors and library warnings are one line --------------------------------------------------
@pytest.mark.parametrize("args,msg", [
    (["compile", "{d}", "-t", "host", "-o", "o"], "is a directory"),
    (["verify", "{m}", "--samples", "0"], "--samples"),
    (["compile", "{m}", "-t", "fpga-hls", "-o", "o", "--fps", "0"], "--fps"),
    (["compile", "{m}", "-t", "host", "-o", "{m}"], "-o"),
    (["frobnicate"], "No such command"),
    (["compile", "{m}"], "Missing option"),
    (["verify", "{m}", "--bogus"], "No such option"),
    (["export", "{m}", "-o", "x.onnx", "--format", "tflite"], "--format"),
])
def test_16_usage_errors_are_one_line(model, tmp_path, args, msg):
    r = run_cli(*[a.format(m=model, d=tmp_path) for a in args], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    one_line_error(r.stderr, msg)


def test_16_library_warnings_add_no_lines(model, monkeypatch):
    import dnnc.commands.inspect as inspect_cmd

    def noisy(*_a, **_k):
        warnings.warn("some library noise", UserWarning, stacklevel=1)
        np.float32(1e38) * np.float32(10)  # a numpy overflow RuntimeWarning
        raise DnncError("m.onnx: the real problem")

    monkeypatch.setattr(inspect_cmd, "load_model", noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        res = CliRunner().invoke(main, ["inspect", str(model)])
    error_line(res, "the real problem")
    with pytest.warns(UserWarning, match="library noise"):  # --debug shows everything
        res = CliRunner().invoke(main, ["--debug", "inspect", str(model)])
    assert isinstance(res.exception, DnncError)


def test_16_help_and_version_still_work():
    assert cli("--help").exit_code == 0 and "compile" in cli("--help").output
    res = cli("--version")
    assert res.exit_code == 0 and "dnnc" in res.output


def test_16_a_dnnc_error_is_one_line_whatever_it_quotes():
    """Found by fuzzing: a Quant attribute holding a tensor put the tensor's multi-line repr in the message."""
    exc = DnncError("node 'q' (Quant): attribute narrow=dims: 3\ndata_type: 1\n is not 0 or 1")
    assert str(exc) == "node 'q' (Quant): attribute narrow=dims: 3 data_type: 1 is not 0 or 1"
    long = DnncError("x" * 10**6)
    assert len(str(long)) == DnncError.MAX_MESSAGE and str(long).endswith("...")
