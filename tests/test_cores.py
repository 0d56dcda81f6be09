"""The microcontroller cores beyond the Cortex-M4/M7, each a target file verified on QEMU system emulation.

Default run: one end-to-end verify per new instruction-set family (Armv6-M: cortex-m0plus; Armv8.1-M with
Helium and constants in QSPI: cortex-m55; RISC-V with Zbb: riscv32-zbb, plus proof that its `cpop` really
executes). Slow: every new core on trained tiny dense and conv nets, and the mnist-pi ternary preset.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dnnc.cli import main
from dnnc.frontend import export_onnx
from dnnc.interchange.export import save_onnx
from dnnc.netspec import DiscreteNet, LinearLayer
from dnnc.resources import resource_dir
from dnnc.vocabulary import WEIGHT_SETS
from models import _bit_ties, _bn, _first_ties, _out, _weights, conv_model, dense_model, wide_conv_model

CORES = ("cortex-m0plus", "cortex-m3", "cortex-m33", "cortex-m55", "riscv32", "riscv32-zbb")
TOOLS = {"arm": ("arm-none-eabi-gcc", "qemu-system-arm"), "riscv": ("riscv64-unknown-elf-gcc", "qemu-system-riscv32")}


def _needs(family: str):
    missing = [t for t in TOOLS[family] if shutil.which(t) is None]
    return pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed (tools/setup.sh)")


def _family(target: str) -> str:
    return "riscv" if target.startswith("riscv") else "arm"


def _verify(model: Path, target: str, samples: int) -> dict:
    res = CliRunner().invoke(main, ["verify", str(model), "-t", target, "--samples", str(samples), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["mismatches"] == 0 and rep["samples"] == samples and rep["ties_hit"] > 0, rep
    return rep


def _bench(model: Path, target: str) -> dict:
    res = CliRunner().invoke(main, ["bench", str(model), "-t", target, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m55", "riscv32-zbb"])
def test_new_isa_verifies_and_benches(small, target):
    if any(shutil.which(t) is None for t in TOOLS[_family(target)]):
        pytest.skip(f"{TOOLS[_family(target)]} not installed (tools/setup.sh)")
    for model in ("small.onnx", "smallconv.onnx"):
        _verify(small / model, target, 64)
    r = _bench(small / "smallconv.onnx", target)
    assert r["target"] == target and 0 < r["instructions"] < 10 * r["macs"] and r["text_bytes"] > 0


def helium_edge_model(weight_set: str, seed: int = 0) -> DiscreteNet:
    """(1, 7, 11) = 77 pixels (not a multiple of 16) -> 4099 (not a multiple of 4 outputs; 129 words, padded
    to 132: the 31-vector byte counters flush once, and one output disagrees in nearly every bit, so a missed
    flush overflows a byte) -> 37 -> 10: every path of runtime/dnnc_mve.h."""
    rng = np.random.default_rng(seed)
    ws = WEIGHT_SETS[weight_set][1]
    w0, w1 = _weights(rng, (4099, 77), weight_set), _weights(rng, (37, 4099), weight_set)
    bn0 = _bn(rng, 4099, ws, True, _first_ties(rng, w0))
    bn0.gamma[64:], bn0.beta[64:] = 0.0, 0.25  # constant +1 channels, and output 0's weights all -1: its
    w1[0] = WEIGHT_SETS[weight_set][0][0]       # bits disagree everywhere (byte counts reach 8 per vector)
    h0 = LinearLayer("dense", w0, weight_set, bn=bn0)
    h1 = LinearLayer("dense", w1, weight_set, bn=_bn(rng, 37, ws, False, _bit_ties(rng, w1)))
    return DiscreteNet((1, 7, 11), [h0, h1], _out(rng, 10, 37, weight_set), arch=f"helium-edge-{weight_set}")


@_needs("arm")
@pytest.mark.parametrize("ws", ["binary", "ternary", "quaternary", "quinary"])
def test_helium_kernels_on_edge_shapes(tmp_path, ws):
    path = tmp_path / f"helium_{ws}.onnx"
    save_onnx(export_onnx(helium_edge_model(ws), f"helium_{ws}"), path)
    _verify(path, "cortex-m55", 200)


def helium_conv_model(weight_set: str, seed: int = 0, k2: int = 3) -> DiscreteNet:
    """Paths of the Helium conv kernels (runtime/dnnc_mve.h), input u = 2p - 255 (border constants): (2, 12, 13)
    -> conv 3x3 pad 1 (int16 sums, kw 3 unrolled) 40 ch + pool 3 -> conv k2 x k2 pad 1 on 40 channels (2 words a
    pixel: k2 = 3, 18 words padded to 20, straight-line; k2 = 2, 8 words, the loop) 37 ch + pool 2 -> 10. Both
    convs: gamma < 0 and gamma = 0 channels, ties."""
    rng = np.random.default_rng(seed)
    ws = WEIGHT_SETS[weight_set][1]
    w0, w1 = _weights(rng, (40, 2, 3, 3), weight_set), _weights(rng, (37, 40, k2, k2), weight_set)
    h0 = LinearLayer("conv", w0, weight_set, padding=1, pool=3, bn=_bn(rng, 40, ws, True, _first_ties(rng, w0)))
    h1 = LinearLayer("conv", w1, weight_set, padding=1, pool=2, bn=_bn(rng, 37, ws, False, _bit_ties(rng, w1)))
    side = (4 + 3 - k2) // 2
    return DiscreteNet((2, 12, 13), [h0, h1], _out(rng, 10, 37 * side * side, weight_set),
                       arch=f"helium-conv-{weight_set}")


def helium_conv_model_kw4(weight_set: str, seed: int = 0) -> DiscreteNet:
    """(1, 14, 15), input u = 255 - 2p (a negative input scale: the weights negated) -> conv 3x4 stride 2 pad 1
    (int16 sums, the kernel-row loop) 17 ch + pool 2 (3x3) -> conv 3x3 pad 1 on 17 channels (9 words, padded to
    12) 20 ch + pool 2 (1x1) -> conv 2x2 pad 1 unpooled 12 ch (2x2) -> 10."""
    rng = np.random.default_rng(seed)
    ws = WEIGHT_SETS[weight_set][1]
    w0, w1 = _weights(rng, (17, 1, 3, 4), weight_set), _weights(rng, (20, 17, 3, 3), weight_set)
    w2 = _weights(rng, (12, 20, 2, 2), weight_set)
    h0 = LinearLayer("conv", w0, weight_set, stride=2, padding=1, pool=2,
                     bn=_bn(rng, 17, ws, True, _first_ties(rng, w0)))
    h1 = LinearLayer("conv", w1, weight_set, padding=1, pool=2, bn=_bn(rng, 20, ws, False, _bit_ties(rng, w1)))
    h2 = LinearLayer("conv", w2, weight_set, padding=1, bn=_bn(rng, 12, ws, False, _bit_ties(rng, w2)))
    return DiscreteNet((1, 14, 15), [h0, h1, h2], _out(rng, 10, 12 * 2 * 2, weight_set),
                       arch=f"helium-conv-kw4-{weight_set}", input_mul=-2, input_add=255)


@_needs("arm")
@pytest.mark.parametrize("ws", ["binary", "ternary", "quaternary", "quinary"])
def test_helium_conv_kernels_on_edge_shapes(tmp_path, ws):
    for i, net in enumerate((helium_conv_model(ws), helium_conv_model(ws, k2=2), helium_conv_model_kw4(ws))):
        path = tmp_path / f"helium_conv{i}_{ws}.onnx"
        save_onnx(export_onnx(net, f"helium_conv{i}_{ws}"), path)
        _verify(path, "cortex-m55", 100)


@_needs("arm")
@pytest.mark.parametrize("ws, in_c", [("quaternary", 3), ("ternary", 3), ("quinary", 1)])
def test_helium_5x5_first_conv(tmp_path, ws, in_c):
    """5x5 first convs with 70 outputs (two 32-output passes of the assembly kernel rows, then 16) on 1 or 3
    channels, and 3 channels x 5x5 quaternary taps, whose sums of |w| above 128 may overflow int16: the int8
    VMLADAV kernel (80-byte rows, early-exit pooling). Then 67 channels, 3 words a pixel."""
    from models import wide_conv_model

    path = tmp_path / f"wide_conv{in_c}_{ws}.onnx"
    save_onnx(export_onnx(wide_conv_model(ws, seed=2, in_c=in_c), f"wide_conv{in_c}_{ws}"), path)
    _verify(path, "cortex-m55", 100)


@_needs("arm")
def test_helium_swar_counts(tmp_path):
    """The -DDNNC_MVE_SWAR variant (per-byte SWAR bit counts instead of the table gather, the pooled rows a C
    loop) is exact too: a conv and a dense edge model, ternary and quinary."""
    text = (resource_dir("targets") / "cortex-m55.toml").read_text()
    text, n = re.subn(r'(?m)^cflags = \[(.*)\]$', r'cflags = [\1, "-DDNNC_MVE_SWAR"]', text)
    assert n == 1
    (tmp_path / "swar.toml").write_text(text)
    for name, net in (("conv", helium_conv_model("ternary")), ("dense", helium_edge_model("quinary"))):
        save_onnx(export_onnx(net, f"swar_{name}"), tmp_path / f"{name}.onnx")
        _verify(tmp_path / f"{name}.onnx", str(tmp_path / "swar.toml"), 60)


@_needs("arm")
def test_model_too_big_for_the_board_names_the_region(small, tmp_path):
    text = (resource_dir("targets") / "cortex-m0plus.toml").read_text()
    text, n = re.subn(r"(?m)^code_bytes = .*$", "code_bytes = 4096", text)
    assert n == 1
    (tmp_path / "tiny.toml").write_text(text)
    res = CliRunner().invoke(main, ["verify", str(small / "smallconv.onnx"), "-t", str(tmp_path / "tiny.toml"),
                                    "--samples", "4"])
    assert res.exit_code == 2 and "region `FLASH'" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output


@_needs("riscv")
def test_zbb_build_executes_cpop(small, tmp_path):
    """The riscv32-zbb library on a CPU without Zbb traps (illegal instruction -> the harness's fault handler):
    its popcounts are `cpop` instructions, not a fallback."""
    text = (resource_dir("targets") / "riscv32-zbb.toml").read_text()
    text, n = re.subn(r'(?m)^cpu = .*$', 'cpu = "rv32,zbb=false"', text)
    assert n == 1
    (tmp_path / "nozbb.toml").write_text(text)
    res = CliRunner().invoke(main, ["verify", str(small / "small.onnx"), "-t", str(tmp_path / "nozbb.toml"),
                                    "--samples", "4"])
    assert res.exit_code == 2 and "qemu-system-riscv32" in res.output and "exit 1" in res.output, res.output


@_needs("riscv")
def test_riscv_semihosting_block_links_after_any_code(tmp_path):
    """The semihosting trap block is 16-byte aligned; aligned after `.option norvc`, ld's relaxation failed
    on code ending 2 bytes past a word ('14 bytes required for alignment ... only 12 present'), as this
    model's main did. Aligned before norvc, it links and verifies."""
    from dnnc.frontend import from_net
    from dnnc.verify import run_verify
    from models import edge_models

    net = dict(edge_models())["output-only-quaternary"]
    rep = run_verify(from_net(net, "edge"), "riscv32", samples=10, seed=0)
    assert rep.mismatches == 0, rep.summary_line()


@functools.cache
def _trained(tmp: Path, arch: str, ws: str) -> Path:
    from dnnc.train.api import train_model
    from dnnc.train.collapse import collapse

    ckpt = train_model(arch=arch, weights=ws, epochs=1, pretrain_epochs=0, train_limit=300, seed=1)
    path = tmp / f"{arch}_{ws}.onnx"
    save_onnx(export_onnx(collapse(ckpt), f"{arch}_{ws}".replace("-", "_")), path)
    return path


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("trained")


@pytest.mark.slow
@pytest.mark.parametrize("target", CORES)
def test_trained_tiny_nets_verify(trained_dir, target):
    if any(shutil.which(t) is None for t in TOOLS[_family(target)]):
        pytest.skip(f"{TOOLS[_family(target)]} not installed (tools/setup.sh)")
    for arch, ws in (("tiny-fc", "ternary"), ("tiny-cnn", "binary"), ("tiny-cnn", "ternary")):
        _verify(_trained(trained_dir, arch, ws), target, 300)


@pytest.mark.slow
@pytest.mark.parametrize("target", CORES)
def test_mnist_pi_ternary_verifies(tmp_path_factory, target):
    """The preset network fits every new board (the enlarged micro:bit, the M55 with its weights in QSPI)."""
    if any(shutil.which(t) is None for t in TOOLS[_family(target)]):
        pytest.skip(f"{TOOLS[_family(target)]} not installed (tools/setup.sh)")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_c import random_net  # the benchmark's preset network (random discrete weights, trained shape)

    path = tmp_path_factory.mktemp("pi") / "mnist_pi_ternary.onnx"
    save_onnx(export_onnx(random_net("mnist-pi", "ternary"), "mnist_pi"), path)
    _verify(path, target, 100)


def _libc_include(target: dict) -> str:
    """The folder where the target's gcc finds <string.h> (newlib, picolibc), for clang."""
    out = subprocess.run([target["cc"], *target["cpu_flags"], *target["cflags"], "-xc", "-M", "-"],
                         input="#include <string.h>\n", check=True, capture_output=True, text=True).stdout
    return str(Path(next(d for d in out.replace("\\\n", " ").split() if d.endswith("/string.h"))).parent)


def _sh(*cmd: str) -> None:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}"


OPT = [f"{o}{fp}" for o in ("-O0", "-O1", "-O2", "-O3", "-Os") for fp in ("", " -fno-omit-frame-pointer")]
WARN = "-Wall -Wextra -Wpedantic -Werror"


@pytest.mark.slow
@pytest.mark.parametrize("cc", ["gcc", "clang"])
@pytest.mark.parametrize("target", CORES)
def test_firmware_build_matrix(tmp_path, target, cc):
    """The generated libraries (a conv net and a dense net: every kernel of the target) build warning-free from
    their own Makefile with gcc and clang at -O0..-O3 and -Os, with and without a frame pointer, and (gcc) from
    their CMakeLists.txt in Debug and Release."""
    from dnnc.backends import c as cbackend
    from dnnc.frontend import from_net
    from dnnc.targets import load_target

    tools = TOOLS[_family(target)] + (("clang",) if cc == "clang" else ())
    if any(shutil.which(t) is None for t in tools):
        pytest.skip(f"{tools} not installed (tools/setup.sh)")
    cfg = load_target(target)
    libs = []
    for net, name in ((conv_model("binary"), "conv"), (helium_edge_model("ternary"), "dense")):
        (tmp_path / name).mkdir()
        cbackend.compile(from_net(net, name).ir, cfg, tmp_path / name)
        libs.append(tmp_path / name)
    cpu = " ".join(cfg["cpu_flags"])
    libc = [f for f in cfg["cflags"] if f.startswith("--specs")]  # the C library (picolibc) for gcc
    if cc == "clang":
        triple = "riscv32-unknown-elf" if _family(target) == "riscv" else "arm-none-eabi"
        cpu, libc = f"--target={triple} {cpu} -isystem {_libc_include(cfg)}", []
    for opt in OPT:
        for lib in libs:
            work = tmp_path / f"{lib.name}{opt.replace(' ', '')}"
            shutil.copytree(lib, work)
            _sh("make", "-s", "-C", str(work), f"CC={cfg['cc'] if cc == 'gcc' else 'clang'}", f"CPU_FLAGS={cpu}",
                f"CFLAGS=-std=c11 {opt} {' '.join(libc)} {WARN}")
    if cc == "gcc" and shutil.which("cmake"):
        for build_type in ("Debug", "Release"):
            for lib in libs:
                build = tmp_path / f"cmake-{build_type}-{lib.name}"
                flags = ";".join(["-std=c11", *libc, *WARN.split()])
                _sh("cmake", "-S", str(lib), "-B", str(build), "-DCMAKE_SYSTEM_NAME=Generic",
                    f"-DCMAKE_C_COMPILER={cfg['cc']}", "-DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY",
                    f"-DCMAKE_BUILD_TYPE={build_type}", f"-DDNNC_CFLAGS={flags}")
                _sh("cmake", "--build", str(build))
                assert (build / f"libdnnc_{lib.name}.a").is_file()


@_needs("arm")
def test_cortex_m55_library_ships_and_includes_the_helium_header(tmp_path):
    """model.c of an `mve = true` target defines DNNC_MVE_KERNELS, the library ships dnnc_mve.h, and the
    compiler opens exactly the shipped runtime headers (its -MM dependency list)."""
    from dnnc.backends import c as cbackend
    from dnnc.backends.c import emit
    from dnnc.frontend import from_net
    from dnnc.targets import load_target

    cfg = load_target("cortex-m55")
    lib = tmp_path / "lib"
    lib.mkdir()
    cbackend.compile(from_net(dense_model("ternary"), "m").ir, cfg, lib)
    assert "#define DNNC_MVE_KERNELS 1" in (lib / "model.c").read_text()
    out = subprocess.run([cfg["cc"], *cfg["cpu_flags"], *cfg["cflags"], *emit.defines(cfg), "-MM", f"-I{lib}",
                          f"-I{lib / 'runtime'}", str(lib / "model.c")], check=True, capture_output=True,
                         text=True).stdout
    opened = {Path(d).name for d in out.replace("\\\n", " ").split()[1:] if Path(d).parent.name == "runtime"}
    shipped = {p.name for p in (lib / "runtime").iterdir()}
    assert "dnnc_mve.h" in shipped and opened == shipped


@_needs("arm")
@pytest.mark.parametrize("ws", ["binary", "ternary", pytest.param("quaternary", marks=pytest.mark.slow),
                                pytest.param("quinary", marks=pytest.mark.slow)])
def test_thumb1_counts_on_edge_shapes(tmp_path, ws):
    """The Armv6-M assembly counts (runtime/dnnc_bitact_v6m.h) in whole networks: dense rows of 129 words (16
    8-word blocks and a last word; one output disagrees in nearly every bit, constant channels, ties) and pooled
    conv rows of 28 words (3 blocks and a 4-word block) with more than 64 channels and padding."""
    for name, net in ((f"edge_{ws}", helium_edge_model(ws)), (f"wide_{ws}", wide_conv_model(ws))):
        path = tmp_path / f"{name}.onnx"
        save_onnx(export_onnx(net, name), path)
        _verify(path, "cortex-m0plus", 100)
