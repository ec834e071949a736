"""One compiled step against the eager one on a CPU: the quick bench's networks (`workload(quick=True)`) as `invert`
copies them, the per-latent losses (G -> critic, target, students -> losses) compiled as one function with
`torch.compile`, so that AOTAutograd traces forward and input-gradient passes as one graph. Eager and compiled steps
are interleaved in one process; process CPU time per step, best of `--rounds` rounds of 4 steps, with the freed
memory kept in the heap (`keep_freed_memory`) as `invert` runs.

    python tools/compile_whole_step.py [gmi|kedmi] [--no_s2d] [--mode max-autotune] [--rounds 6] [--threads 1]

Prints one JSON line: the compile time (the first compiled step), the largest gradient difference relative to the
largest gradient, the eager and compiled step times, and their ratio (gain = eager / compiled; above 1 pays)."""
import argparse, json, time
import torch
from rethinkmi.bench import workload
from rethinkmi.fast_inversion import attack_copy, keep_freed_memory
from rethinkmi.inversion import latent_losses

ap = argparse.ArgumentParser()
ap.add_argument("method", nargs="?", default="gmi", choices=["gmi", "kedmi"])
ap.add_argument("--no_s2d", action="store_true", help="without the space-to-depth layers (invert's CPU default has them)")
ap.add_argument("--mode", default=None, help="torch.compile mode, e.g. max-autotune")
ap.add_argument("--rounds", type=int, default=6)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)

G, D, models, p_reg = workload(True, args.method, "cpu")
nets = [attack_copy(m, "cpu", space_to_depth=not args.no_s2d) for m in (G, D, *models)]
n = 300 if args.method == "gmi" else 60          # the bench's latents per step: 60 identities x 5 restarts (GMI), 60 (KEDMI)
torch.manual_seed(0)
z0, labels, ref = torch.randn(n, 100), torch.arange(n) % 60, p_reg.fixed(n)

def loss(z):
    prior, iden = latent_losses(nets[0], nets[1], nets[2:], z, labels, args.method, "logit", ref, 1.0)
    return (prior + 100 * iden).sum()

def grad(f):
    z = z0.clone().requires_grad_(True); f(z).backward(); return z.grad

compiled = torch.compile(loss, dynamic=False, mode=args.mode)
with keep_freed_memory("cpu"):
    t = time.perf_counter(); g1 = grad(compiled); compile_s = time.perf_counter() - t
    g0 = grad(loss)
    times = {"eager": [], "compiled": []}
    for _ in range(args.rounds):
        for k, f in (("eager", loss), ("compiled", compiled)):
            t = time.process_time()
            for _ in range(4): grad(f)
            times[k].append((time.process_time() - t) / 4)
eager, comp = min(times["eager"]), min(times["compiled"])
print(json.dumps(dict(method=args.method, space_to_depth=not args.no_s2d, mode=args.mode, threads=args.threads,
                      compile_s=round(compile_s, 1), max_rel_diff=float((g1 - g0).abs().max() / g0.abs().max()),
                      eager_ms=round(eager * 1e3, 1), compiled_ms=round(comp * 1e3, 1), gain=round(eager / comp, 3))))
