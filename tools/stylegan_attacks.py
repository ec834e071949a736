"""The measured comparison of `21_stylegan_attack`: StyleGAN2 z / w / w+ against the GMI and KEDMI priors, each with
baseline and LOMMA, on the SynthFaces demo networks (same identities and seeds for every attack, so that differences
pair identity by identity), plus the prior term in w space (none / D's score / w's Gaussian NLL) under LOMMA. Writes
the rows (accuracy, per-identity hits, paired intervals, seconds per attack) to nbs/measured/stylegan.json and a grid
of reconstructions to nbs/images/stylegan_reconstructions.png. One torch thread.
usage: ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python tools/stylegan_attacks.py [--n_ids 40] [--n_seeds 3] [--iters 600] [--recipe JSON]"""
import argparse, datetime, json, os, time
from pathlib import Path
import torch
from rethinkmi.core import COLUMN, DPI, MIN_FONT, small_texts
from rethinkmi.demo_models import DemoModelSettings, demo_models
from rethinkmi.distill import distill_students
from rethinkmi.inversion import Attack, Records, invert
from rethinkmi.preg import PReg
from rethinkmi.results import ResultsTable, evaluate_attack
from rethinkmi.stylegan import StyleGANTraining, demo_stylegan
from rethinkmi.stylegan_attack import StyleAttack, style_images, w_nll, w_stats
from rethinkmi.train_loop import TrainOptions

# (table name, method, variant, StyleAttack changes or None for GMI / KEDMI)
ATTACKS = [(m.upper(), m, v, None) for m in ("gmi", "kedmi") for v in ("baseline", "lomma")] + \
          [(f"StyleGAN2 {s}", "stylegan", v, dict(space=s, prior="none" if s == "z" else "w")) for s in ("z", "w", "w+") for v in ("baseline", "lomma")] + \
          [(f"StyleGAN2 w, prior {p}", "stylegan", "lomma", dict(space="w", prior=p)) for p in ("none", "d")]

def networks(recipe:StyleGANTraining):
    "The demo's networks, its KL students (07_inversion's settings, cached), P_reg, and the demo StyleGAN."
    demo = demo_models(settings=DemoModelSettings(styles=("celeba",)))
    size, target = demo.config["size"], demo.target
    x_pub, y_pub = demo.public("celeba").tensors()
    arch = [("tiny_student", dict(width=w, input_size=size)) for w in (8, 12, 16)]
    students = distill_students(target, (x_pub[:2500], y_pub[:2500]), arch, root=demo.root/"distill", test_data=demo.test,
                                opts=TrainOptions(epochs=4, lr=0.2, batch_size=64, seed=0, device="cpu"))[0]
    p_reg = PReg.estimate(target, demo.public("celeba"), n=5000)
    G, D, _ = demo_stylegan(x_pub, demo.root/"stylegan", opts=recipe, device="cpu")
    gans = {"gmi": demo.gmi["celeba"], "kedmi": demo.kedmi["celeba"], "stylegan": (G, D)}
    return demo, students, p_reg, gans

def grid(demo, images, path, n=8):
    "Rows: a private image of each of the first n identities, then the first reconstruction of each attack."
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    n = min(n, len(next(iter(images.values()))))
    real = torch.stack([demo.train[int((demo.train.labels == i).nonzero()[0])][0] for i in range(n)])
    rows = [("private", real)] + [(k, x[:n, 0]) for k, x in images.items()]
    img = torch.cat([torch.cat(list(r), 2) for _, r in rows], 1)
    fig, ax = plt.subplots(figsize=(min(COLUMN, n * 0.6 + 1.2), len(rows) * 0.62), dpi=DPI)
    ax.imshow(img.permute(1, 2, 0).numpy())
    ax.set_xticks([])
    ticks = [(i + 0.5) * img.shape[1] / len(rows) for i in range(len(rows))]
    ax.set_yticks(ticks, [k for k, _ in rows], fontsize=MIN_FONT)
    fig.tight_layout()
    assert not small_texts(fig), small_texts(fig)
    fig.savefig(path, dpi=2 * DPI)

if __name__ == "__main__":
    p = argparse.ArgumentParser(); p.add_argument("--n_ids", type=int, default=40); p.add_argument("--n_seeds", type=int, default=3)
    p.add_argument("--iters", type=int, default=600); p.add_argument("--out", default="nbs/measured/stylegan.json")
    p.add_argument("--picture", default="nbs/images/stylegan_reconstructions.png")
    p.add_argument("--recipe", default='{}', help="StyleGANTraining changes (JSON) from the demo StyleGAN of 20_stylegan (the defaults)")
    a = p.parse_args(); torch.set_num_threads(1)
    load0, t_all = open("/proc/loadavg").read().split()[:3], time.perf_counter()
    recipe = StyleGANTraining(**json.loads(a.recipe))
    demo, students, p_reg, gans = networks(recipe)
    stats = w_stats(gans["stylegan"][0])
    ids, table, images = list(range(a.n_ids)), ResultsTable(), {}
    labels, seeds = torch.tensor(ids).repeat_interleave(a.n_seeds), torch.arange(a.n_seeds).repeat(a.n_ids)
    for name, method, variant, style in ATTACKS:
        atk = Attack(iters=a.iters, n_seeds=a.n_seeds) if style is None else StyleAttack(iters=a.iters, n_seeds=a.n_seeds, **style)
        G, D = gans[method]
        t0 = time.perf_counter()
        r = invert(G, D, [demo.target, *students], ids, method=method, variant=variant, p_reg=p_reg, attack=atk, device="cpu", records=Records(log_every=100))
        secs, x = time.perf_counter() - t0, r.images(G)
        ev = evaluate_attack(demo.evaluation, x.flatten(0, 1), labels, seeds, demo.train)
        extra = {}
        if method == "stylegan":   # how far the final latents lie from the mapping network's distribution (its mean: style_dim / 2)
            with torch.no_grad(): extra["w_nll"] = w_nll(style_images(G, r.z.flatten(0, 1), r.space)[1], stats).mean().item()
        table.add(name, variant if variant == "baseline" else "LOMMA", "same", **ev, attack_s=secs, **extra)
        images[f"{name} {variant}"] = x
        print(f"{name:24} {variant:8} top-1 {ev['top1']:5.1f}  top-5 {ev['top5']:5.1f}  {secs:6.0f} s", flush=True)
    table.add_intervals(ks=(1, 5))
    out = dict(date=str(datetime.date.today()), load_start=load0, load_end=open("/proc/loadavg").read().split()[:3], threads=1,
               isa=os.environ.get("ATEN_CPU_CAPABILITY", "native"), n_ids=a.n_ids, n_seeds=a.n_seeds, iters=a.iters,
               total_s=time.perf_counter() - t_all, command="python tools/stylegan_attacks.py", recipe=json.loads(a.recipe), rows=table.rows)
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n"); grid(demo, images, a.picture)
