"""The one check every backend test makes: a target's outputs equal onnxruntime's, bit for bit."""

from __future__ import annotations

from types import ModuleType

import numpy as np
from dnnc.ir.outputs import Outputs
from dnnc.targets import load_target
from dnnc.verify import compare
from dnnc.verify.inputs import make_inputs
from dnnc.verify.reference import run_onnx


def assert_matches_onnxruntime(loaded, backend: ModuleType, target: str | dict, samples: int, seed: int,
                               **run_kw) -> tuple[np.ndarray, Outputs]:
    """Run `backend` on `samples` verify inputs; fail on any mismatch (logits compared as float32 bits).
    `target` is a target name or a loaded (possibly modified) target dict."""
    raw = make_inputs(loaded, samples, seed=seed)
    ref = run_onnx(loaded.onnx, raw)
    got = backend.run(loaded.ir, load_target(target) if isinstance(target, str) else target, raw, **run_kw)
    mask, by_output = compare(ref, got)
    assert not mask.any(), f"{target}: {int(mask.sum())} mismatches {by_output}"
    assert np.array_equal(got.logits.view(np.uint32), ref.logits.view(np.uint32))
    return raw, got
