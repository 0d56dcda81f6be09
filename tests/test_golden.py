"""The generated code for fixed models equals the checked-in golden files byte for byte (tests/golden.py)."""

from __future__ import annotations

import pytest
from golden import GOLDEN, cases, files, generate


@pytest.mark.parametrize("target_name,model_name", cases())
def test_generated_files_equal_golden(tmp_path, target_name, model_name):
    out = tmp_path / "out"
    generate(target_name, model_name, out)
    got, want = files(out), files(GOLDEN / target_name / model_name)
    assert sorted(got) == sorted(want), "file list differs; regenerate on purpose: python tests/golden.py"
    changed = [name for name in want if got[name] != want[name]]
    assert not changed, f"{changed} differ from tests/golden; regenerate on purpose: python tests/golden.py"


def test_golden_check_sees_one_changed_template_byte(tmp_path, monkeypatch):
    """The comparison is real: one byte changed in a template (a copy) makes its generated file differ."""
    import shutil

    import dnnc.resources

    for kind in dnnc.resources.KINDS:
        shutil.copytree(dnnc.resources.resource_dir(kind), tmp_path / "pkg" / f"_{kind}")
    template = tmp_path / "pkg" / "_templates" / "c" / "model.c.j2"
    text = template.read_bytes()
    at = text.index(b"generated")  # a byte in the file's header comment
    template.write_bytes(text[:at] + b"G" + text[at + 1:])
    monkeypatch.setattr(dnnc.resources, "_PACKAGE", tmp_path / "pkg")
    out = tmp_path / "out"
    generate("cortex-m4", "dense-ternary", out)
    got, want = files(out), files(GOLDEN / "cortex-m4" / "dense-ternary")
    assert [n for n in want if got[n] != want[n]] == ["model.c"]
