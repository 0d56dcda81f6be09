"""Build the generated library with a harness and run it: natively on the host, or on QEMU for a bare-metal
target (arm-none-eabi-gcc, startup + linker script from templates/c/harness, semihosting file I/O)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dnnc.backends.c import emit
from dnnc.backends.c.plan import Plan
from dnnc.errors import DnncError
from dnnc.resources import resource_dir

HARNESS_FILES = ("dnnc_io.h", "startup_m4.c")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DnncError(f"'{name}' not found on PATH (tools/setup.sh installs the toolchains)")
    return path


def _run(cmd: list[str], cwd: Path, timeout: float, what: str) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DnncError(f"{what}: timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        first = next((m for m in msg if "error" in m.lower()), msg[0] if msg else "")
        raise DnncError(f"{what} failed (exit {proc.returncode}): {first.strip()}"
                        + (f" ({len(msg)} lines of output)" if len(msg) > 1 else ""))
    return proc


def is_bare_metal(target: dict) -> bool:
    return "emulator" in target


def write_harness(plan: Plan, target: dict, workdir: Path, template: str, out_name: str) -> None:
    """Render a harness template (harness.c.j2, bench.c.j2) and the bare-metal support files into workdir."""
    env = emit.environment("c/harness")
    ctx = emit.context(plan, target)
    (workdir / out_name).write_text(env.get_template(template).render(**ctx))
    hdir = resource_dir("templates") / "c" / "harness"
    for f in HARNESS_FILES:
        shutil.copyfile(hdir / f, workdir / f)
    if is_bare_metal(target):
        (workdir / "link.ld").write_text(env.get_template("link.ld.j2").render(**target["emulator"]))


def compile_exe(target: dict, libdir: Path, workdir: Path, sources: list[str], exe: str,
                defines: list[str] = (), sanitize: bool = False, cc: str | None = None) -> Path:
    """Compile the library's model.c with harness sources into an executable (warnings are errors)."""
    cc = _tool(cc or target["cc"])
    flags = [*target.get("cpu_flags", []), *target.get("cflags", []), *target.get("warn_flags", []), "-Werror",
             "-ffp-contract=off", *emit.defines(target), *defines, f"-I{libdir}", f"-I{libdir / 'runtime'}", "-I."]
    srcs = [*([str(libdir / "model.c")] if (libdir / "model.c").is_file() else []), *sources]
    if is_bare_metal(target):
        flags += ["-DDNNC_SEMIHOSTING", "-ffunction-sections", "-fdata-sections", "-nostartfiles",
                  "--specs=nano.specs", "-Tlink.ld", "-Wl,--gc-sections"]
        srcs.append("startup_m4.c")
    if sanitize:
        flags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
    _run([cc, *flags, *srcs, "-o", exe], workdir, 300, f"compiling the generated C with {Path(cc).name}")
    return workdir / exe


def execute(target: dict, exe: Path, workdir: Path, timeout: float = 3600) -> str:
    """Run a harness executable natively or on the target's emulator; returns its stdout."""
    if not is_bare_metal(target):
        return _run([str(exe)], workdir, timeout, "running the host harness").stdout
    emu = target["emulator"]
    cmd = [_tool(emu["qemu"]), "-M", emu["machine"], "-cpu", emu["cpu"], "-nographic", "-monitor", "none",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", exe.name]
    return _run(cmd, workdir, timeout, f"running on {emu['qemu']} -M {emu['machine']}").stdout
