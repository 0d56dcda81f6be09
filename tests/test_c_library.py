"""The generated C library as a user builds it: the runtime headers it ships are exactly those its model.c
includes; its own Makefile builds it warning-free at every optimization level with and without a frame pointer
(gcc, clang; Cortex-M4 and host), a debug build is bit-exact on the emulator, and a model named `m` builds
through the Makefile and CMake beside the C math library (-lm)."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from dnnc.backends import c as cbackend
from dnnc.backends.c import emit
from dnnc.frontend import from_net
from dnnc.ir.interpreter import run as interpret
from dnnc.targets import load_target
from exactness import assert_matches_onnxruntime
from models import conv_model, dense_model, output_only_model, pixel_lane_model, wide_conv_model

HERE = Path(__file__).resolve().parent
needs_arm_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                   reason="arm-none-eabi-gcc not installed (tools/setup.sh)")
needs_qemu = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                                reason="arm-none-eabi-gcc / qemu-system-arm not installed (tools/setup.sh)")
needs_clang = pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
# Every optimization level, with and without a frame pointer (r7 in Thumb code: the debug build of most IDEs)
OPT = [(o, *fp) for o in ("-O0", "-Og", "-Os", "-O2", "-O3") for fp in ((), ("-fno-omit-frame-pointer",))]
OPT_IDS = [" ".join(o) for o in OPT]
WARN = "-Wall -Wextra -Wpedantic -Werror"


def _target(name: str, **overrides) -> dict:
    target = load_target(name)
    target.update(overrides)
    return target


def _compile(net, name: str, target: dict, out: Path) -> Path:
    out.mkdir(parents=True)
    cbackend.compile(from_net(net, name).ir, target, out)
    return out


def _sh(*cmd: str) -> str:
    """Run a build command; a failure shows its output."""
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _included_runtime_headers(target: dict, lib: Path) -> set[str]:
    """runtime/ headers the target's compiler opens for model.c (its dependency list, -MM)."""
    cmd = [target["cc"], *target["cpu_flags"], *target["cflags"], *emit.defines(target), "-MM",
           f"-I{lib}", f"-I{lib / 'runtime'}", str(lib / "model.c")]
    deps = _sh(*cmd).replace("\\\n", " ").split()[1:]
    return {Path(d).name for d in deps if Path(d).parent.name == "runtime"}


TARGETS = {
    "cortex-m4": pytest.param(("cortex-m4", {}), marks=needs_arm_gcc),
    "cortex-m0plus": pytest.param(("cortex-m0plus", {}), marks=needs_arm_gcc),
    "host-lanes": ("host", {"lanes": 16}),
    "host-plain": ("host", {"lanes": 0}),
}


@pytest.mark.parametrize("case", list(TARGETS.values()), ids=list(TARGETS))
@pytest.mark.parametrize("make_net", [conv_model, output_only_model], ids=["conv", "output-only"])
def test_ships_exactly_the_runtime_headers_model_c_includes(tmp_path, case, make_net):
    name, overrides = case
    target = _target(name, **overrides)
    lib = _compile(make_net("binary" if make_net is conv_model else "quaternary"), "m", target, tmp_path / "lib")
    shipped = {p.name for p in (lib / "runtime").iterdir()}
    assert shipped == _included_runtime_headers(target, lib)
    assert ("dnnc_bitact_v7em.h" in shipped) == (name == "cortex-m4")
    assert ("dnnc_bitact_v6m.h" in shipped) == (name == "cortex-m0plus")
    assert ("dnnc_lanes.h" in shipped) == bool(overrides.get("lanes"))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")
def test_ships_the_pixel_lane_header_where_a_conv_uses_it(pix_lib):
    shipped = {p.name for p in (pix_lib / "runtime").iterdir()}
    assert "dnnc_pixconv.h" in shipped
    assert shipped == _included_runtime_headers(_target("host", cpu_flags=["-march=x86-64-v3"]), pix_lib)


def _make(lib: Path, workdir: Path, *variables: str) -> None:
    """The library's own Makefile on a private copy of it (tests may run in parallel)."""
    shutil.copytree(lib, workdir)
    _sh("make", "-s", "-C", str(workdir), *variables)


def _newlib_include() -> str:
    """newlib's header folder (where arm-none-eabi-gcc finds <string.h>), for clang --target=arm-none-eabi."""
    out = subprocess.run(["arm-none-eabi-gcc", "-xc", "-M", "-"], input="#include <string.h>\n", check=True,
                         capture_output=True, text=True).stdout.replace("\\\n", " ").split()
    return str(Path(next(d for d in out if d.endswith("/string.h"))).parent)


@pytest.fixture(scope="module")
def m4_libs(tmp_path_factory):
    """cortex-m4 libraries of conv nets (binary, ternary, quinary) and a dense net: between them every assembly
    kernel (raw-input SMLAD conv, pooled seeded counts, all-outputs dense loops, the quaternary/quinary block
    loop, the first dense layer's lookup loop and table build) and, unoptimized, every count variant."""
    root = tmp_path_factory.mktemp("m4")
    return [_compile(conv_model(ws), f"conv_{ws}", load_target("cortex-m4"), root / f"conv_{ws}")
            for ws in ("binary", "ternary", "quinary")] + \
        [_compile(dense_model("binary"), "dense", load_target("cortex-m4"), root / "dense")]


@needs_arm_gcc
@pytest.mark.parametrize("cc", ["arm-none-eabi-gcc", pytest.param("clang", marks=needs_clang)])
@pytest.mark.parametrize("opt", OPT, ids=OPT_IDS)
def test_cortex_m4_library_builds_warning_free(m4_libs, tmp_path, cc, opt):
    cpu = " ".join(load_target("cortex-m4")["cpu_flags"])
    if cc == "clang":
        cpu = f"--target=arm-none-eabi {cpu} -isystem {_newlib_include()}"
    for lib in m4_libs:
        _make(lib, tmp_path / lib.name, f"CC={cc}", f"CPU_FLAGS={cpu}", f"CFLAGS=-std=c11 {' '.join(opt)} {WARN}")


@needs_arm_gcc
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
def test_cortex_m4_library_debug_build_with_cmake(m4_libs, tmp_path):
    """A firmware project's debug configuration: cross toolchain, build type Debug, DNNC_CFLAGS at -O0."""
    cflags = ";".join(["-std=c11", "-O0", "-fno-omit-frame-pointer", *WARN.split()])
    for lib in m4_libs:
        build = tmp_path / lib.name
        _sh("cmake", "-S", str(lib), "-B", str(build), "-DCMAKE_SYSTEM_NAME=Generic",
            "-DCMAKE_C_COMPILER=arm-none-eabi-gcc", "-DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY",
            "-DCMAKE_BUILD_TYPE=Debug", f"-DDNNC_CFLAGS={cflags}")
        _sh("cmake", "--build", str(build))
        assert (build / f"libdnnc_{lib.name}.a").is_file()


@pytest.fixture(scope="module")
def host_lib(tmp_path_factory):
    """A host library in the output-lane layout (AVX-512 kernels where -march=native has them) with a pooled
    packed conv: the lanes, plain bit-count and raw-input kernels are all compiled."""
    root = tmp_path_factory.mktemp("host")
    return _compile(wide_conv_model("binary"), "wide", _target("host", lanes=16), root / "lib")


@pytest.mark.parametrize("cc", ["gcc", pytest.param("clang", marks=needs_clang)])
@pytest.mark.parametrize("opt", OPT, ids=OPT_IDS)
def test_host_library_builds_warning_free(host_lib, tmp_path, cc, opt):
    _make(host_lib, tmp_path / "lib", f"CC={cc}", f"CFLAGS=-std=c11 {' '.join(opt)} {WARN}")


SIMD_BUILDS = [  # (cc, -march): the AVX2 kernels of dnnc_lanes.h, and the NEON ones cross-compiled
    pytest.param("gcc", "-march=x86-64-v3", id="gcc-avx2", marks=pytest.mark.skipif(
        platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")),
    pytest.param("clang", "-march=x86-64-v3", id="clang-avx2", marks=[needs_clang, pytest.mark.skipif(
        platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")]),
    pytest.param("aarch64-linux-gnu-gcc", "-march=armv8-a", id="gcc-neon", marks=pytest.mark.skipif(
        shutil.which("aarch64-linux-gnu-gcc") is None, reason="aarch64-linux-gnu-gcc not installed")),
]


@pytest.mark.parametrize("cc,march", SIMD_BUILDS)
def test_host_library_simd_kernels_build_warning_free(host_lib, tmp_path, cc, march):
    """The same library with AVX2 or NEON enabled, at every optimization level, with and without a frame pointer."""
    for i, opt in enumerate(OPT):
        _make(host_lib, tmp_path / f"lib{i}", f"CC={cc}", f"CFLAGS=-std=c11 {march} {' '.join(opt)} {WARN}")


@pytest.fixture(scope="module")
def pix_lib(tmp_path_factory):
    """A library generated for an AVX2 host: both convs in pixel lanes (runtime/dnnc_pixconv.h)."""
    out = tmp_path_factory.mktemp("pix") / "lib"
    lib = _compile(pixel_lane_model("ternary"), "pix", _target("host", cpu_flags=["-march=x86-64-v3"]), out)
    assert "DNNC_PIX_CONV 1" in (lib / "model.c").read_text()
    return lib


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only")
@pytest.mark.parametrize("cc", ["gcc", pytest.param("clang", marks=needs_clang)])
@pytest.mark.parametrize("march", ["-march=x86-64-v3", "-march=x86-64"], ids=["avx2", "portable"])
def test_host_pixel_lane_library_builds_warning_free(pix_lib, tmp_path, cc, march):
    """Its inline assembly (AVX2) and its portable loops (a plain x86-64 build of the same files) at every
    optimization level, with and without a frame pointer."""
    for i, opt in enumerate(OPT):
        _make(pix_lib, tmp_path / f"lib{i}", f"CC={cc}", f"CFLAGS=-std=c11 {march} {' '.join(opt)} {WARN}")


@needs_qemu
@pytest.mark.parametrize("make_net,weights", [(conv_model, "binary"), (conv_model, "ternary"), (conv_model, "quaternary"),
                                              (conv_model, "quinary"), (wide_conv_model, "binary"),
                                              (wide_conv_model, "ternary"), (dense_model, "binary")],
                         ids=["conv-binary", "conv-ternary", "conv-quaternary", "conv-quinary", "wide-conv-binary",
                              "wide-conv-ternary", "dense-binary"])
def test_cortex_m4_debug_build_is_bit_exact(make_net, weights):
    """-O0 -fno-omit-frame-pointer on QEMU: the assembly that leaves r7 (the frame pointer) alone, and the SMLAD
    asm with its -O0 register choice, compute what onnxruntime does."""
    target = load_target("cortex-m4")
    target["cflags"] = [f for f in target["cflags"] if not f.startswith("-O")] + ["-O0", "-fno-omit-frame-pointer"]
    assert_matches_onnxruntime(from_net(make_net(weights), "debug"), cbackend, target, 100, seed=3)


@pytest.fixture(scope="module")
def m_lib(tmp_path_factory):
    """The host library of a model named m (the name of the C math library)."""
    net = conv_model("ternary")
    lib = _compile(net, "m", _target("host", lanes=0), tmp_path_factory.mktemp("m") / "lib")
    want = interpret(from_net(net, "m").ir, np.zeros((1, *net.input_shape), np.uint8))
    return lib, f"class {int(want.cls[0])} acc {int(want.acc[0, want.cls[0]])} cos 0.540"


def test_model_named_m_links_beside_libm_with_make(m_lib, tmp_path):
    lib, want = m_lib
    _make(lib, tmp_path / "lib")
    assert (tmp_path / "lib" / "libdnnc_m.a").is_file() and not (tmp_path / "lib" / "libm.a").exists()
    exe = tmp_path / "app"
    # -L first: a library of the model named libm.a would shadow the math library there
    _sh("cc", f"-I{tmp_path / 'lib'}", str(HERE / "c_library_app" / "main.c"), f"-L{tmp_path / 'lib'}",
        "-ldnnc_m", "-lm", "-o", str(exe))
    assert _sh(str(exe)).strip() == want


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
def test_model_named_m_links_beside_libm_with_cmake(m_lib, tmp_path):
    lib, want = m_lib
    build = tmp_path / "build"
    _sh("cmake", "-S", str(HERE / "c_library_app"), "-B", str(build), f"-DDNNC_LIB={lib}")
    _sh("cmake", "--build", str(build))
    assert _sh(str(build / "app")).strip() == want
