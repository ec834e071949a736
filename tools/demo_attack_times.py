"""Per-latent-step time of the demo's attacks (its full preset's architectures, untrained: timing does not depend on weights),
two settings interleaved in one process, best of `--repeats`:
`python tools/demo_attack_times.py [threads] [--ids N] [--runs gmi-lomma,kedmi-lomma] [--compare space_to_depth|none] [--wall]`.
`--compare space_to_depth`: `Speed(space_to_depth=False)` against `True`; `none`: `Speed()` alone. Process CPU time with one
thread unless `--wall`. Compare thread counts in separate processes: changing `torch.set_num_threads` between the runs of
one process made the two-thread runs several times slower than in a two-thread process."""
import argparse, json, time
import torch
from rethinkmi.models import Generator, DGWGAN, MinibatchDiscriminator, build_classifier
from rethinkmi.preg import PReg
from rethinkmi.inversion import invert, Attack
from rethinkmi.fast_inversion import Speed

ap = argparse.ArgumentParser()
ap.add_argument("threads", type=int, nargs="?", default=1)
ap.add_argument("--ids", type=int, default=20, help="identities attacked (GMI: 5 latents each, KEDMI: one distribution each)")
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--runs", default="gmi-baseline,gmi-lomma,kedmi-baseline,kedmi-lomma")
ap.add_argument("--compare", default="space_to_depth", choices=["space_to_depth", "none"])
ap.add_argument("--wall", action="store_true", help="wall time even with one thread")
args = ap.parse_args()
torch.set_num_threads(args.threads)
wall = args.wall or args.threads > 1
clock = time.perf_counter if wall else time.process_time

def setting(after:bool) -> Speed:
    "The Speed of the setting `after` (or the one before)."
    return Speed(space_to_depth=after) if args.compare == "space_to_depth" else Speed()

torch.manual_seed(0)
K = 100
T = build_classifier("tiny_vgg", K, width=32, input_size=32)
S = [build_classifier("tiny_student", K, width=w, input_size=32) for w in (8, 12, 16)]
G = Generator(size=32, width=16)
Ds = dict(gmi=DGWGAN(32, 16), kedmi=MinibatchDiscriminator(K, 32, 16, 64))
p_reg = PReg(torch.zeros(T.feat_dim), torch.ones(T.feat_dim))
res = {}
for run in args.runs.split(","):
    method, variant = run.split("-")
    n_lat = args.ids * (5 if method == "gmi" else 1)
    t = {False: [], True: []}
    for r in range(args.repeats):
        for after in (False, True) if args.compare != "none" else (True,):
            speed = setting(after)
            t0 = clock()
            invert(G, Ds[method], [T, *S], list(range(args.ids)), method, variant, p_reg,
                   Attack(iters=args.steps, n_seeds=5, p_reg_mode="sample"), "cpu", speed)
            t[after].append(clock() - t0)
    before, after = (min(t[s]) / args.steps / n_lat * 1e3 if t[s] else None for s in (False, True))
    res[run] = dict(before_ms=before and round(before, 3), after_ms=round(after, 3), ratio=before and round(before / after, 2))
    print(run, res[run], flush=True)
print(json.dumps(dict(threads=torch.get_num_threads(), clock="wall" if wall else "process",
                      compare=args.compare, n_ids=args.ids, steps=args.steps, per_latent_step=res)))
