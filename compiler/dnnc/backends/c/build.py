"""Build the generated library with a harness and run it: natively on the host, or on QEMU for a bare-metal
target, whose startup, linker script, semihosting and cycle counter come from the folder of its `arch`
(templates/c/harness/<arch>/, built with the flags of its harness.toml): a new core of a known arch is a
target TOML file alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dnnc.backends.c import emit
from dnnc.backends.c.plan import Plan
from dnnc.errors import DnncError
from dnnc.fsutil import child_env
from dnnc.resources import resource_dir
from dnnc.targets import HOSTED_ARCH, harness_dir, load_harness

COMMON_FILES = ("dnnc_io.h",)  # templates/c/harness/: every harness, hosted or bare metal


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DnncError(f"'{name}' not found on PATH (tools/setup.sh installs the toolchains)")
    return path


def _run(cmd: list[str], cwd: Path, timeout: float, what: str) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                              env=child_env(cwd))
    except subprocess.TimeoutExpired as exc:
        raise DnncError(f"{what}: timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        # the first error line; the linker's own (a region overflowed) before collect2's "ld returned 1"
        first = next((m for m in msg if "error" in m.lower() and "ld returned" not in m), msg[0] if msg else "")
        raise DnncError(f"{what} failed (exit {proc.returncode}): {first.strip()}"
                        + (f" ({len(msg)} lines of output)" if len(msg) > 1 else ""))
    return proc


def is_bare_metal(target: dict) -> bool:
    return target["backend"] == "c" and target["arch"] != HOSTED_ARCH


def _emulator(target: dict) -> dict:
    """The board a bare-metal build runs on; its memory map also lays out the linker script."""
    if target["emulator"] is None:
        raise DnncError(f"target '{target['name']}' has no [emulator] table: nothing to run arch "
                        f"'{target['arch']}' code on (dnnc compile still works)")
    return target["emulator"]


def write_support(target: dict, workdir: Path) -> None:
    """Copy the harness support files into workdir: the common ones and, for a bare-metal target, its arch
    folder (*.j2 rendered with the [emulator] table, the rest copied)."""
    common = resource_dir("templates") / "c" / "harness"
    for f in COMMON_FILES:
        shutil.copyfile(common / f, workdir / f)
    if not is_bare_metal(target):
        return
    emulator = _emulator(target)
    arch = target["arch"]
    env = emit.environment(f"c/harness/{arch}")
    for src in sorted(harness_dir(arch).iterdir()):
        if src.name == "harness.toml" or not src.is_file():
            continue
        if src.suffix == ".j2":
            (workdir / src.stem).write_text(env.get_template(src.name).render(**emulator))
        else:
            shutil.copyfile(src, workdir / src.name)


def write_harness(plan: Plan, target: dict, workdir: Path, template: str, out_name: str,
                  entry: str | None = None) -> None:
    """Render a harness template (harness.c.j2, bench.c.j2) and the support files into workdir.

    entry: the entry point it calls ("", "_f32", "_u8"); default the model's own input (bytes if mapped)."""
    env = emit.environment("c/harness")
    ctx = emit.context(plan, target)
    if entry is not None:
        ctx["entry"] = entry
    (workdir / out_name).write_text(env.get_template(template).render(**ctx))
    write_support(target, workdir)


def compile_exe(target: dict, libdir: Path, workdir: Path, sources: list[str], exe: str,
                defines: list[str] = (), sanitize: bool = False, cc: str | None = None) -> Path:
    """Compile the library's model.c with harness sources into an executable (warnings are errors)."""
    cc = _tool(cc or target["cc"])
    flags = [*target["cpu_flags"], *target["cflags"], *target["warn_flags"], "-Werror",
             "-ffp-contract=off", *emit.defines(target), *defines, f"-I{libdir}", f"-I{libdir / 'runtime'}", "-I."]
    srcs = [*([str(libdir / "model.c")] if (libdir / "model.c").is_file() else []), *sources]
    if is_bare_metal(target):
        flags += ["-DDNNC_SEMIHOSTING", *load_harness(target["arch"])["flags"]]
        srcs += sorted(p.name for p in harness_dir(target["arch"]).glob("*.c"))
    if sanitize:
        flags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
    _run([cc, *flags, *srcs, "-o", exe], workdir, 300, f"compiling the generated C with {Path(cc).name}")
    return workdir / exe


def count_user_instructions(target: dict, exe: Path, workdir: Path, timeout: float = 3600) -> int:
    """Instructions a hosted harness executes under a QEMU user-mode runner: one translation block per
    instruction (-singlestep), every execution logged (-d nochain,exec), the log lines counted as they stream."""
    runner = target["runner"]
    if not runner or not Path(runner[0]).name.startswith("qemu-"):
        raise DnncError(f"target '{target['name']}': instruction counts need a QEMU user-mode runner")
    cmd = [_tool(runner[0]), *runner[1:], "-singlestep", "-d", "nochain,exec", str(exe)]
    count = 0
    with subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=child_env(workdir)) as proc:
        for line in proc.stderr:
            count += line.startswith(b"Trace ")
        if proc.wait(timeout) != 0:
            raise DnncError(f"running the harness under {runner[0]} failed (exit {proc.returncode})")
    return count


def execute(target: dict, exe: Path, workdir: Path, timeout: float = 3600) -> str:
    """Run a harness executable natively or on the target's emulator; returns its stdout."""
    if not is_bare_metal(target):
        runner = target["runner"]
        what = f"running the harness under {runner[0]}" if runner else "running the host harness"
        return _run([*([_tool(runner[0]), *runner[1:]] if runner else []), str(exe)], workdir, timeout, what).stdout
    emu = _emulator(target)
    cmd = [_tool(emu["qemu"]), "-M", emu["machine"], "-cpu", emu["cpu"], *emu["args"], "-nographic", "-monitor", "none",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", exe.name]
    return _run(cmd, workdir, timeout, f"running on {emu['qemu']} -M {emu['machine']}").stdout
