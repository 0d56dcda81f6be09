"""The shared verify framework: any executor's outputs vs the reference, bit for bit.

The reference is the model file itself: an imported QONNX/FINN file (custom-domain ops) run by qonnx's
executor; a standard-op .onnx (dnnc's deployment ONNX) in onnxruntime; for a .pt checkpoint, its deployment
ONNX exported in memory, in onnxruntime.

`run_verify(loaded, target, samples, seed)`: target "ir" runs the IR interpreter; any other target name is
loaded from targets/<name>.toml and dispatched to its backend's `run(ir, target_cfg, raw) -> Outputs`.
Inputs come from `dnnc.verify.inputs.make_inputs` (real digits, random, threshold-edge).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from dnnc.errors import DnncError
from dnnc.ir.outputs import Outputs


@dataclass
class VerifyReport:
    target: str
    samples: int
    mismatches: int
    ties_hit: int = 0  # exact accumulator == threshold hits (all layers, channels, positions)
    tie_samples: int = 0  # samples with at least one such hit
    ties_by_layer: dict = field(default_factory=dict)  # {threshold layer: hits}
    inputs: dict = field(default_factory=dict)  # {"real": n, "random": n, "edge": n}
    mismatch_by_output: dict = field(default_factory=dict)  # {"acc": n, "logits": n, "class": n}
    first_mismatch: int | None = None
    float64_class_disagreements: int | None = None  # vs netspec.forward_float64 (when a .pt was loaded)
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)  # backend-specific facts

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def summary_line(self) -> str:
        src = ", ".join(f"{k} {v}" for k, v in self.inputs.items())
        line = (f"verify target={self.target} samples={self.samples} ({src}) mismatches={self.mismatches} "
                f"ties_hit={self.ties_hit} (in {self.tie_samples} samples; "
                + ", ".join(f"{k} {v}" for k, v in self.ties_by_layer.items()) + ")")
        if self.float64_class_disagreements is not None:
            line += f" float64_class_disagreements={self.float64_class_disagreements}"
        if self.extra.get("reference"):
            line += f" reference={self.extra['reference']}"
        if self.extra.get("input_map"):
            line += f" input=uint8 x={self.extra['input_map']}"
        if self.mismatches:
            line += f" first_mismatch={self.first_mismatch} by_output={self.mismatch_by_output}"
        return line

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def compare(ref: Outputs, got: Outputs) -> tuple[np.ndarray, dict]:
    """(bool mismatch per sample, mismatches per output name); shape/dtype errors count as mismatches."""
    n = len(ref)
    if got.acc.shape != ref.acc.shape or got.logits.shape != ref.logits.shape or got.cls.shape != ref.cls.shape:
        raise DnncError(f"executor returned shapes acc {got.acc.shape}, logits {got.logits.shape}, "
                        f"class {got.cls.shape}; expected {ref.acc.shape}, {ref.logits.shape}, {ref.cls.shape}")
    acc = np.any(np.asarray(got.acc, np.int64) != ref.acc.astype(np.int64), axis=1)
    lg = np.any(np.asarray(got.logits, np.float32).view(np.uint32) != ref.logits.view(np.uint32), axis=1)
    cl = np.asarray(got.cls, np.int64) != ref.cls
    mask = acc | lg | cl
    assert mask.shape == (n,)
    return mask, {"acc": int(acc.sum()), "logits": int(lg.sum()), "class": int(cl.sum())}


def execute(loaded, target_name: str, raw: np.ndarray) -> tuple[Outputs, dict]:
    """Run one executor on raw inputs: (outputs, extra facts)."""
    if target_name == "ir":
        from dnnc.ir.interpreter import run

        return run(loaded.ir, raw), {}
    from dnnc.backends import backend_for
    from dnnc.targets import load_target

    cfg = load_target(target_name)
    out = backend_for(cfg).run(loaded.ir, cfg, raw)
    return out, {}


def reference_name(loaded) -> str:
    """What `run_reference` runs, for reports: 'FILE (executor)'."""
    if getattr(loaded, "file", None) is not None:
        return f"{loaded.source.name} (qonnx executor)"
    if getattr(loaded, "net", None) is not None or loaded.ir.meta.get("source_format") == "qonnx":
        return f"deployment ONNX rebuilt from {loaded.source.name} (onnxruntime)"
    return f"{loaded.source.name} (onnxruntime)"


def run_reference(loaded, raw: np.ndarray) -> Outputs:
    """The reference's outputs: the imported file itself when there is one, else the deployment ONNX.
    Bytes for a model with a stated input map are fed as x = map(p) (float32), the reference's own input."""
    if loaded.ir.byte_codes is not None and np.asarray(raw).dtype == np.uint8:
        from dnnc.ir.input_map import parse_input_map

        raw = parse_input_map(loaded.ir.input_map).apply(raw)
    if getattr(loaded, "file", None) is not None:
        from dnnc.verify.qonnx_reference import run_file

        return run_file(loaded.file, loaded.ir, raw)
    from dnnc.verify.reference import run_onnx

    return run_onnx(loaded.onnx, raw)


def run_verify(loaded, target_name: str = "ir", samples: int = 1000, seed: int = 0) -> VerifyReport:
    from dnnc.verify.inputs import make_inputs, split_counts, ties_by_layer

    if samples < 1:
        raise DnncError(f"--samples must be >= 1, got {samples}")
    t0 = time.perf_counter()
    with tqdm(total=4, desc=f"verify {target_name}", unit="step", disable=None, file=sys.stderr) as bar:
        raw = make_inputs(loaded, samples, seed)
        bar.update()
        ref = run_reference(loaded, raw)
        bar.update()
        got, extra = execute(loaded, target_name, raw)
        bar.update()
        mask, by_output = compare(ref, got)
        by_layer, per_sample = ties_by_layer(loaded.ir, raw)
        bar.update()
    n_real, n_rand, n_edge = split_counts(samples, tuple(loaded.ir.input_shape) == (1, 28, 28))
    extra = {**extra, "reference": reference_name(loaded)}
    if loaded.ir.byte_codes is not None:
        extra["input_map"] = loaded.ir.input_map  # bytes in; the reference runs on map(p)
    f64 = None
    if getattr(loaded, "net", None) is not None:
        from dnnc.netspec import forward_float64

        f64 = int((forward_float64(loaded.net, raw)[1] != ref.cls).sum())
    bad = np.flatnonzero(mask)
    return VerifyReport(
        target=target_name, samples=len(raw), mismatches=int(mask.sum()), ties_hit=int(per_sample.sum()),
        tie_samples=int((per_sample > 0).sum()), ties_by_layer=by_layer,
        inputs={"real": n_real, "random": n_rand, "edge": n_edge}, mismatch_by_output=by_output,
        first_mismatch=int(bad[0]) if bad.size else None, float64_class_disagreements=f64,
        seconds=round(time.perf_counter() - t0, 3), extra=extra,
    )
