"""Per-latent-step time of the demo's attacks (its full preset's architectures, untrained: timing does not depend on weights),
with `Speed(space_to_depth=False)` and `True` interleaved in one process: `python tools/demo_attack_times.py [threads]`."""
import torch, time, json, sys
from rethinkmi.models import Generator, DGWGAN, MinibatchDiscriminator, build_classifier
from rethinkmi.preg import PReg
from rethinkmi.inversion import invert, Attack
from rethinkmi.fast_inversion import Speed
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
clock = time.process_time if torch.get_num_threads() == 1 else time.perf_counter
torch.manual_seed(0)
K, n_ids, steps = 100, 20, 10
T = build_classifier("tiny_vgg", K, width=32, input_size=32)
S = [build_classifier("tiny_student", K, width=w, input_size=32) for w in (8, 12, 16)]
G = Generator(size=32, width=16)
Ds = dict(gmi=DGWGAN(32, 16), kedmi=MinibatchDiscriminator(K, 32, 16, 64))
p_reg = PReg(torch.zeros(T.feat_dim), torch.ones(T.feat_dim))
res = {}
for method in ("gmi", "kedmi"):
    for variant in ("baseline", "lomma"):
        n_lat = n_ids * (5 if method == "gmi" else 1)
        t = {False: [], True: []}
        for r in range(3):
            for s2d in (False, True):
                t0 = clock()
                invert(G, Ds[method], [T, *S], list(range(n_ids)), method, variant, p_reg, Attack(iters=steps, n_seeds=5, p_reg_mode="sample"),
                       "cpu", Speed(space_to_depth=s2d))
                t[s2d].append(clock() - t0)
        before, after = min(t[False]) / steps / n_lat * 1e3, min(t[True]) / steps / n_lat * 1e3
        res[f"{method}-{variant}"] = dict(before_ms=round(before, 3), after_ms=round(after, 3), ratio=round(before / after, 2))
        print(method, variant, res[f"{method}-{variant}"], flush=True)
print(json.dumps(dict(threads=torch.get_num_threads(), n_ids=n_ids, steps=steps, per_latent_step=res)))
