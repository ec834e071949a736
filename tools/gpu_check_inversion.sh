#!/usr/bin/env bash
# GPU check of the batched inversion (issue 5), for one lent H100 / H200 and a 9-minute command limit.
# Run from the repository root:   bash tools/gpu_check_inversion.sh
#
# 0. a smoke test of the CUDA paths on tiny networks (seconds): counter noise and a GMI attack agree with the CPU's,
#    bf16 GMI and KEDMI attacks run;
# 0b. the CUDA tests of tests/ (CUDA graph against eager, resumed; losses and P_reg on CUDA);
# 0c. tools/gpu_profile_step.py: each paper-scale network's forward and backward pass at 1,500 latents, eager and as a
#    CUDA graph, then whole attack steps with and without the CUDA graph (PROFILE=0 skips it);
# 1. paper-scale benchmark (python -m rethinkmi.bench): IR152 target + EfficientNet-B0/B1/B2 students at 64x64,
#    random weights, 300 identities, variant lomma; GMI (5 restarts, 1,500 latents per step) and KEDMI, each timed
#    for STEPS steps on both sides (the reference loop and ours); the JSON gives the per-step times, the speedup,
#    and the extrapolation to 2,400 steps (field at_2400_steps);
# 2. the full GMI LOMMA attack (300 ids x 5 restarts x 2,400 steps) with invert, timed end to end, only when the
#    estimate from step 1 says it ends in time (else its estimate is reported as skipped).
# Every JSON line goes to stdout and to $OUT/bench.jsonl (or /tmp/gpu_check/bench.jsonl); the last is the summary.
#
# Needs python3 with CUDA PyTorch and torchvision (the device image has them) and fastcore, which the image lacks:
# carry it in .gpu_deps/ (pure Python), e.g. here:  mkdir -p .gpu_deps && cp -r .venv/lib/python3*/site-packages/fastcore .gpu_deps/
# and `echo /.gpu_deps/ >> .git/info/exclude`, then run with carry [".gpu_deps"].
set -uo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-20}"; TOTAL="${TOTAL:-525}"   # seconds this script may take in all (the lead's limit: 540)
OUTDIR="${OUT:-/tmp/gpu_check}"; mkdir -p "$OUTDIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 RETHINKMI_PROGRESS=0
[ -d .gpu_deps ] && export PYTHONPATH="$PWD/.gpu_deps:$PYTHONPATH"
python3 - <<'PY' || exit 3
import sys
try: import fastcore, torch, torchvision
except ImportError as e: sys.exit(f"missing {e.name}: see the header of tools/gpu_check_inversion.sh")
if not torch.cuda.is_available(): sys.exit("torch sees no CUDA device")
print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, {torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
PY
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || true

timeout 120 python3 - <<'PY' 2>&1 | tee "$OUTDIR/smoke.log" || echo "CUDA smoke test FAILED (continuing with the benchmark)"
import time, torch
from rethinkmi.bench import NetShapes, random_networks
from rethinkmi.fast_inversion import Speed
from rethinkmi.core import counter_key, counter_normal
from rethinkmi.inversion import Attack, invert
t0 = time.perf_counter()
k = counter_key(0, torch.arange(500), 1)
dn = (counter_normal(k.cuda(), 100).cpu() - counter_normal(k, 100)).abs().max().item()
assert dn < 1e-4, dn
tiny = NetShapes(10, 32, ("tiny_vgg", dict(width=8, input_size=32)), [("tiny_student", dict(width=4, input_size=32))],
                 gan_width=8, group=4)
G, D, (T, S), pr = random_networks(tiny, "gmi", "cpu")
Dk = random_networks(tiny, "kedmi", "cpu")[1]
kw = dict(variant="lomma", p_reg=pr, attack=Attack(iters=5, n_seeds=2), speed=Speed(amp=False))
a, b = invert(G, D, [T, S], [1, 3, 4], device="cpu", **kw), invert(G, D, [T, S], [1, 3, 4], device="cuda", **kw)
print(f"counter noise cpu vs cuda: max diff {dn:.1e}; GMI cpu vs cuda (fp32, 5 steps): max |dz| {(a.z - b.z).abs().max().item():.2e}")
c = invert(G, Dk, [T, S], [0, 2, 5, 6, 7, 9], method="kedmi", device="cuda", **{**kw, "speed": Speed(amp=True)})
d = invert(G, D, [T, S], [1, 3, 4], device="cuda", **{**kw, "speed": Speed(amp=True)})
assert c.z.shape == (6, 2, 100) and d.z.shape == (3, 2, 100) and torch.isfinite(c.z).all() and torch.isfinite(d.z).all()
print(f"CUDA smoke test ok in {time.perf_counter() - t0:.1f} s")
PY

timeout 120 python3 -m pytest -q -x tests/test_inversion.py tests/test_losses.py tests/test_preg.py -k cuda 2>&1 | tee "$OUTDIR/pytest_cuda.log" | tail -3
[ "${PROFILE:-1}" = 1 ] && timeout 150 python3 tools/gpu_profile_step.py --steps 10 2>&1 | tee "$OUTDIR/profile.jsonl"

LIMIT=$((TOTAL - SECONDS)); DEADLINE=$((LIMIT - 40))   # the full attack starts only if its estimate ends by DEADLINE
echo "benchmark: ${LIMIT} s left, full attack only if its estimate ends within ${DEADLINE} s"
timeout "$LIMIT" python3 -m rethinkmi.bench --method both --steps "$STEPS" --full --deadline_s "$DEADLINE" \
    --device cuda --out "$OUTDIR/bench.jsonl" 2>&1 | tee "$OUTDIR/bench.log"
echo "bench exit status $? (124: stopped at the ${LIMIT} s limit; the JSON lines printed before that are valid)"
