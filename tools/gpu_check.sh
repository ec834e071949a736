#!/usr/bin/env bash
# All GPU checks of the model zoo (issue 3) and the inversion (issue 5) in one run, for a lent H100/H200 and a
# 10-minute command limit: epoch timings of every paper-scale classifier with AMP on and off, then
# tools/gpu_check_inversion.sh (CUDA smoke test, paper-scale benchmark, full GMI LOMMA attack if it fits).
# fastcore is missing from the device image: copy it beside the tree first and carry it:
#   mkdir -p .gpu_deps && cp -r .venv/lib/python3*/site-packages/fastcore .gpu_deps/ && echo /.gpu_deps/ >> .git/info/exclude
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR="${OUT:-/tmp/gpu_check}"; mkdir -p "$OUTDIR"
export PYTHONPATH="$PWD/.gpu_deps:$PWD" PYTHONUNBUFFERED=1 RETHINKMI_PROGRESS=0
timeout "${MODELS_LIMIT:-110}" python3 tools/gpu_time_models.py --steps "${MODEL_STEPS:-30}" 2>&1 | tee "$OUTDIR/models.jsonl"
TOTAL="${INVERSION_TOTAL:-440}" bash tools/gpu_check_inversion.sh
