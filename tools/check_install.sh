#!/usr/bin/env bash
# Install dnnc as users do -- a plain (non-editable) `pip install` of this checkout into a fresh virtual
# environment, without torch -- and, from a directory outside the checkout, compile and verify a model
# for every target. CI runs this after the tests: it catches what an editable checkout hides (package
# data, modules missing from the wheel, a hard torch dependency).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Test models (exported with the checkout's own dnnc: plain numpy, no training).
PYTHONPATH="$ROOT/tests" python - "$WORK" <<'PY'
import sys
from pathlib import Path
from models import conv_model, dense_model
from dnnc.frontend import export_onnx
out = Path(sys.argv[1])
(out / "conv.onnx").write_bytes(export_onnx(conv_model("binary"), "conv").SerializeToString())
(out / "dense.onnx").write_bytes(export_onnx(dense_model("ternary"), "dense").SerializeToString())
PY

python -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --upgrade pip
"$WORK/venv/bin/python" -m pip install -q "$ROOT"
cd "$WORK"
if "$WORK/venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "check_install: torch was installed by a plain 'pip install dnnc'" >&2; exit 1
fi
DNNC="$WORK/venv/bin/dnnc"
"$DNNC" --version
for model in conv.onnx dense.onnx; do
  "$DNNC" verify "$model" --target ir --samples 50
  for toml in "$ROOT"/targets/*.toml; do
    target="$(basename "$toml" .toml)"
    "$DNNC" compile "$model" --target "$target" -o "out-$target-${model%.onnx}"
    "$DNNC" verify "$model" --target "$target" --samples 20
  done
done
echo "check_install: installed dnnc compiled and verified every target from $WORK"
