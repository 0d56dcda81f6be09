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


def test_golden_check_sees_one_changed_byte(tmp_path):
    """The comparison is real: one byte flipped in a generated file is reported."""
    out = tmp_path / "out"
    generate("cortex-m4", "dense-ternary", out)
    got = files(out)
    name = "model.c"
    data = bytearray(got[name])
    data[len(data) // 2] ^= 1
    got[name] = bytes(data)
    want = files(GOLDEN / "cortex-m4" / "dense-ternary")
    assert [n for n in want if got[n] != want[n]] == [name]
