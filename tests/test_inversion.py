"Maintainer checks of rethinkmi.inversion that need real processes: an attack killed with SIGKILL resumes and ends where an uninterrupted one ends."
import os, signal, subprocess, sys, time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rethinkmi.core import CheckpointError, load_checkpoint

CHILD = r'''
import sys, time, torch
torch.set_num_threads(1)
from rethinkmi.core import seed_everything
from rethinkmi.inversion import Attack, Records, invert
from rethinkmi.models import DGWGAN, Generator, MinibatchDiscriminator, build_classifier
from rethinkmi.preg import PReg
method, ckpt, out, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
seed_everything(0)
G = Generator(size=32, width=4).eval()
D = (DGWGAN(size=32, width=4) if method == "gmi" else MinibatchDiscriminator(10, size=32, width=4, group_size=2)).eval()
T = build_classifier("tiny_vgg", 10, width=4, input_size=32).eval()
S = build_classifier("tiny_student", 10, width=4, input_size=32).eval()
p_reg = PReg(torch.zeros(T.feat_dim), torch.ones(T.feat_dim))
r = invert(G, D, [T, S], [1, 4, 6], method=method, variant="lomma", p_reg=p_reg, attack=Attack(iters=40, n_seeds=2), device="cpu",
           records=Records(None if ckpt == "-" else ckpt, ckpt_every=5, log_every=5), callback=lambda t: time.sleep(pause))
torch.save({"z": r.z, "mu": r.mu, "history": r.history, "chunk": r.chunk_size}, out)
'''

def run_child(tmp, method, ckpt, out, pause=0.0, **kw):
    env = {**os.environ, "RETHINKMI_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, method, str(ckpt), str(out), str(pause)], env=env, cwd=tmp, **kw)

@pytest.mark.numerics
@pytest.mark.parametrize("method", ["gmi", "kedmi"])
def test_sigkill_and_resume(tmp_path, method):
    "Bitwise by construction: the resumed run runs the same kernels on the same chunks."
    ckpt, full_out, out = tmp_path/"attack.pt", tmp_path/"full.pt", tmp_path/"resumed.pt"
    assert run_child(tmp_path, method, "-", full_out).wait(timeout=300) == 0
    p = run_child(tmp_path, method, ckpt, out, pause=0.1)   # slowed down so that the kill lands mid-run
    deadline = time.time() + 300
    while time.time() < deadline:
        if ckpt.exists() and load_checkpoint(ckpt, unwrap=False)["step"] >= 10: break
        assert p.poll() is None, "the attack ended before it could be killed"
        time.sleep(0.05)
    time.sleep(0.27)                                          # somewhere between two checkpoints
    p.send_signal(signal.SIGKILL)
    assert p.wait(timeout=60) == -signal.SIGKILL
    killed_at = load_checkpoint(ckpt, unwrap=False)["step"]
    assert 10 <= killed_at < 40 and not out.exists()
    assert run_child(tmp_path, method, ckpt, out).wait(timeout=300) == 0
    full, resumed = torch.load(full_out), torch.load(out)
    assert full["chunk"] == resumed["chunk"]                  # the same shapes, so the same kernels
    assert torch.equal(full["z"], resumed["z"]) and full["history"] == resumed["history"]
    if method == "kedmi": assert torch.equal(full["mu"], resumed["mu"])
    assert load_checkpoint(ckpt, unwrap=False)["step"] == 40
    assert not list(tmp_path.glob(".attack.pt.*.tmp"))        # no temporary file left behind

def test_truncated_checkpoint_is_refused(tmp_path):
    ckpt = tmp_path/"attack.pt"
    ckpt.write_bytes(b"PK\x03\x04 truncated")
    p = run_child(tmp_path, "gmi", ckpt, tmp_path/"out.pt", stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=300)
    assert p.returncode != 0 and "CheckpointError" in err and str(ckpt) in err

def tiny_attack(method="gmi"):
    "The tiny random networks of these tests (the same as CHILD's): G, D, [target, student], and a P_reg."
    from rethinkmi.models import DGWGAN, Generator, MinibatchDiscriminator, build_classifier
    from rethinkmi.preg import PReg
    torch.manual_seed(0)
    G = Generator(size=32, width=4).eval()
    D = (DGWGAN(size=32, width=4) if method == "gmi" else MinibatchDiscriminator(10, size=32, width=4, group_size=2)).eval()
    T = build_classifier("tiny_vgg", 10, width=4, input_size=32).eval()
    S = build_classifier("tiny_student", 10, width=4, input_size=32).eval()
    return G, D, [T, S], PReg(torch.zeros(T.feat_dim), torch.ones(T.feat_dim))

@pytest.mark.slow
def test_compiled_networks_match_eager():
    """compile=True (each network compiled for its chunk's shape) ends where the eager attack ends, also
    with a short last chunk. Compiled kernels fuse and order the sums their own way, so the identity is
    checked in float64: 4 Nesterov steps, linear in the gradient, keep float64 rounding (1e-16 of the
    numbers added) far below 1e-10."""
    from rethinkmi.fast_inversion import Speed
    from rethinkmi.inversion import Attack, invert
    G, D, models, p_reg = tiny_attack()
    kw = dict(variant="lomma", p_reg=p_reg, attack=Attack(iters=4, n_seeds=2), device="cpu")
    eager = Speed(chunk_size=4, float64=True)
    compiled = invert(G, D, models, [1, 3, 4], speed=replace(eager, compile=True), **kw).z
    plain = invert(G, D, models, [1, 3, 4], speed=eager, **kw).z
    torch.testing.assert_close(compiled, plain, atol=1e-10, rtol=0)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

@cuda
@pytest.mark.parametrize("method", ["gmi", "kedmi"])
def test_cuda_graph_matches_eager_and_resumes(tmp_path, method):
    """An attack whose step is replayed as a CUDA graph ends where the eager attack ends, also when resumed mid-run.
    cuDNN may pick other algorithms for the captured step, so the identity is checked in float64: GMI's
    update is linear in the gradient; Adam's epsilon (1e-8) caps its amplification of a gradient's rounding
    (1e-15) at lr / eps = 2e6, so KEDMI's 20 steps stay within 4e-8."""
    from rethinkmi.fast_inversion import Speed
    from rethinkmi.inversion import Attack, Records, invert
    G, D, models, p_reg = tiny_attack(method)
    def run(iters, graph, ckpt=None):
        return invert(G, D, models, [1, 4, 6, 8], method=method, variant="lomma", p_reg=p_reg, attack=Attack(iters=iters, n_seeds=2),
                      device="cuda", speed=Speed(cuda_graph=graph, float64=True),
                      records=Records(ckpt, ckpt_every=4, log_every=3))
    eager, graph = run(20, False), run(20, True)
    tol = dict(atol=1e-10 if method == "gmi" else 1e-7, rtol=0)
    torch.testing.assert_close(graph.z, eager.z, **tol)
    assert graph.history["step"] == eager.history["step"]
    losses = [torch.tensor(r.history["loss"]) for r in (graph, eager)]
    torch.testing.assert_close(*losses, atol=1e-7, rtol=1e-9)
    run(9, True, tmp_path/"a.pt")                                   # stopped after 9 steps (last checkpoint at 9) ...
    resumed = run(20, True, tmp_path/"a.pt")                        # ... and continued with a fresh capture
    torch.testing.assert_close(resumed.z, graph.z, **tol)
    with pytest.raises(ValueError, match="cuda_graph=True needs a CUDA device"):
        invert(G, D, models, [1], variant="lomma", p_reg=p_reg, attack=Attack(iters=1), device="cpu", speed=Speed(cuda_graph=True))

FAULTS = """
import contextlib, resource, statistics, sys, torch
import rethinkmi.inversion as inv
from rethinkmi.bench import workload
torch.set_num_threads(1)
if sys.argv[1] == "without": inv.keep_freed_memory = lambda device: contextlib.nullcontext()
G, D, models, p_reg = workload(True, "gmi", "cpu")
marks = {}
def mark(t): marks[t] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
inv.invert(G, D, models, list(range(60)), "gmi", "lomma", p_reg, inv.Attack(iters=10, n_seeds=5), "cpu", callback=mark)
print(statistics.median(marks[t + 1] - marks[t] for t in range(2, 10)))   # the heap still grows now and then: the median step
"""

@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="keep_freed_memory acts on glibc's malloc only")
def test_cpu_steps_reuse_freed_memory():
    "With `keep_freed_memory` (invert's default on a CPU) the steps after the first fault almost no pages in; without it, thousands."
    env = {**os.environ, "RETHINKMI_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    per_step = {k: float(subprocess.run([sys.executable, "-c", FAULTS, k], capture_output=True, text=True, env=env, check=True).stdout)
                for k in ("with", "without")}
    assert per_step["with"] < 100 and per_step["without"] > 1000, per_step
