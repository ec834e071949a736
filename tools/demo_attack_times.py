"""Per-latent-step time of the demo's attacks: the full preset's networks (`DemoModelSettings`), untrained (timing does not
depend on the weights), 100 identities, P_reg sampled as the demo does.

    python tools/demo_attack_times.py [threads] [--ids N] [--runs gmi-lomma,kedmi-lomma] [--compare space_to_depth|before|none] [--wall]

`--compare space_to_depth`: `Speed(space_to_depth=False)` against `Speed()`; `before`: the loop without this CPU's changes
(no space-to-depth layers, freed memory handed back to the kernel as glibc does by default) against `Speed()`; `none`:
`Speed()` alone. The two settings are interleaved in one process, best of `--repeats`. Time per step after the first (the
setup and the memory probe left out). Process CPU time with one thread unless `--wall`; wall time with several threads. Compare thread counts in separate processes:
changing `torch.set_num_threads` between the runs of one process made the two-thread runs several times slower."""
import argparse, contextlib, json, time
import torch
import rethinkmi.inversion as inversion
from rethinkmi.bench import NetShapes, random_networks
from rethinkmi.demo import DEMO_PRESETS
from rethinkmi.demo_models import DemoModelSettings
from rethinkmi.fast_inversion import Speed

ap = argparse.ArgumentParser()
ap.add_argument("threads", type=int, nargs="?", default=1)
ap.add_argument("--ids", type=int, default=100, help="identities attacked (GMI: 5 latents each, KEDMI: one distribution each)")
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--runs", default="gmi-baseline,gmi-lomma,kedmi-baseline,kedmi-lomma")
ap.add_argument("--compare", default="before", choices=["space_to_depth", "before", "none"])
ap.add_argument("--wall", action="store_true", help="wall time even with one thread")
args = ap.parse_args()
torch.set_num_threads(args.threads)
wall = args.wall or args.threads > 1
clock = time.perf_counter if wall else time.process_time
keep_freed_memory = inversion.keep_freed_memory

def setting(after:bool) -> Speed:
    "The Speed of the setting `after` (or the one before); `before` also hands freed memory back as glibc does by default."
    inversion.keep_freed_memory = keep_freed_memory if after or args.compare != "before" else (lambda device: contextlib.nullcontext())
    return Speed(space_to_depth=after) if args.compare in ("space_to_depth", "before") else Speed()

s = DemoModelSettings()
shapes = NetShapes(s.n_ids, s.size, (s.target[0], dict(width=s.target[1], input_size=s.size)),
                   DEMO_PRESETS["full"]["students"]["archs"], s.gan_width, s.gan_upsample, s.gan_batch)
nets = {m: random_networks(shapes, m, "cpu") for m in ("gmi", "kedmi")}   # the same G, target and students
res = {}
for run in args.runs.split(","):
    method, variant = run.split("-")
    n_lat = args.ids * (5 if method == "gmi" else 1)
    t = {False: [], True: []}
    for r in range(args.repeats):
        for after in (False, True) if args.compare != "none" else (True,):
            speed, marks = setting(after), []
            def mark(step):
                if step == 1: marks.append(clock())
            G, D, models, p_reg = nets[method]
            inversion.invert(G, D, models, list(range(args.ids)), method, variant=variant, p_reg=p_reg,
                           attack=inversion.Attack(iters=args.steps, n_seeds=5, p_reg_mode="sample"), device="cpu", speed=speed, callback=mark)
            t[after].append(clock() - marks[0])
    before, after = (min(t[k]) / (args.steps - 1) / n_lat * 1e3 if t[k] else None for k in (False, True))
    res[run] = dict(before_ms=before and round(before, 3), after_ms=round(after, 3), ratio=before and round(before / after, 2))
    print(run, res[run], flush=True)
print(json.dumps(dict(threads=torch.get_num_threads(), clock="wall" if wall else "process",
                      compare=args.compare, n_ids=args.ids, steps=args.steps, per_latent_step=res)))
