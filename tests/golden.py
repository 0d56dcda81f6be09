"""Golden outputs: the generated C (cortex-m4, host) and HLS for a few fixed small models, checked in.

`tests/test_golden.py` compiles each case and compares every file byte for byte with tests/golden/, so a
refactor that claims "generated code unchanged" is checked, and a template change shows up as a diff.
Regenerate on purpose (then review `git diff tests/golden`) with:

    python tests/golden.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"

# (case name, model factory in tests/models.py, weight set); small enough to read in a diff.
MODELS = {
    "dense-ternary": ("dense_model", "ternary"),
    "conv-binary": ("conv_model", "binary"),
    "output-only-quaternary": ("output_only_model", "quaternary"),
}
# Target name -> overrides that make the output independent of the machine that generates it (the host
# target's lanes = "auto" depends on the build machine's ISA; 16 is the layout AVX-512 machines get).
TARGETS = {"cortex-m4": {}, "host": {"lanes": 16}, "fpga-hls": {}}


def cases() -> list[tuple[str, str]]:
    return [(t, m) for t in TARGETS for m in MODELS]


def generate(target_name: str, model_name: str, outdir: Path) -> None:
    """Compile one golden case into outdir (created)."""
    sys.path.insert(0, str(HERE))
    import models as test_models
    from dnnc.backends import backend_for
    from dnnc.frontend import from_net
    from dnnc.targets import load_target

    factory, weight_set = MODELS[model_name]
    net = getattr(test_models, factory)(weight_set)
    loaded = from_net(net, model_name.replace("-", "_"))
    target = load_target(target_name)
    target.update(TARGETS[target_name])
    outdir.mkdir(parents=True)
    backend_for(target).compile(loaded.ir, target, outdir)


def _runtime_copy(path: Path) -> str | None:
    """The runtime/ file that `path` is a verbatim copy of (shipped headers are not generated text)."""
    from dnnc.resources import resource_dir

    runtime = resource_dir("runtime")
    for candidate in (runtime / path.name, runtime / "hls" / path.name):
        if candidate.is_file() and candidate.read_bytes() == path.read_bytes():
            return str(candidate.relative_to(runtime))
    return None


def files(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every generated file; a verbatim runtime header is recorded by name only."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            copied = _runtime_copy(p) if p.suffix == ".h" else None
            out[str(p.relative_to(root))] = f"copy of runtime/{copied}\n".encode() if copied else p.read_bytes()
    return out


def write(files_: dict[str, bytes], root: Path) -> None:
    for name, data in files_.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def main() -> None:
    shutil.rmtree(GOLDEN, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        for target_name, model_name in cases():
            out = Path(tmp) / target_name / model_name
            generate(target_name, model_name, out)
            write(files(out), GOLDEN / target_name / model_name)
            print(f"wrote {GOLDEN / target_name / model_name}")


if __name__ == "__main__":
    main()
