"""Sample quality of the demo's GANs, recipe against recipe (the first, the one before, the current defaults): the Fréchet distance (FD) between the evaluation model's
features of `--n` generated and `--n` public images, per GAN (GMI and KEDMI x public style), for the full demo's models
and the quick preset's, with the floor (the FD between two disjoint sets of `--n` public images) and the training
seconds. Trains what the run folder lacks with `demo_models` (one torch thread); writes nbs/measured/gan_quality.json
and the picture nbs/images/gan_samples.png.
usage: ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python tools/gan_quality.py [--root DIR] [--note "machine, load"]"""
import argparse, datetime, json, os
from pathlib import Path
import torch
from rethinkmi.core import COLUMN, DPI, MIN_FONT, small_texts
from rethinkmi.demo_models import DemoModelSettings, demo_models, demo_root
from rethinkmi.evaluation import embed_images
from rethinkmi.frechet import frechet_distance

FIRST = dict(gan_batch=64, gan_betas=(0.5, 0.999), gan_ema=None, gan_augment="", gan_upsample="transpose", gmi_n_critic=5, kedmi_n_critic=1)
BEFORE = dict(gan_batch=32, gan_betas=(0.5, 0.9), gan_ema=0.995, gan_upsample="transpose", gmi_n_critic=2, gmi_epochs=10, kedmi_epochs=4)
QUICK = dict(n_ids=20, n_train=20, n_test=5, target=("tiny_vgg", 16), evaluation=("tiny_resnet", 16), clf_epochs=8, public_ids=200)
QUICK_GANS = dict(gan_width=8, gan_batch=16, gan_ema=0.99)           # the quick preset's GANs, in every recipe after the first
QUICK_NEW = dict(QUICK_GANS, gmi_epochs=20, kedmi_epochs=14)  # the quick preset's overrides now
SETTINGS = {  # (setting, recipe) -> `DemoModelSettings` changes
    ("quick", "first"): dict(QUICK, **FIRST, gan_width=8, gmi_epochs=15, kedmi_epochs=5),
    ("quick", "before"): {**QUICK, **BEFORE, **QUICK_GANS, "gmi_epochs": 8},
    ("quick", "new"): dict(QUICK, **QUICK_NEW),
    ("full", "first"): dict(FIRST, gmi_epochs=10, kedmi_epochs=5),
    ("full", "before"): dict(BEFORE),
    ("full", "new"): dict(),                                              # the defaults
}
RECIPES = ("first", "before", "new")

def samples(G, n, seed=5):
    "n samples of G (eval mode) from fixed latents."
    with torch.no_grad(): return G.cpu().eval()(torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed)))

def measure(root, setting, recipe, n, pics):
    "FD rows of one setting x recipe; fills `pics` with 8 samples per GAN."
    d = demo_models(Path(root)/setting, DemoModelSettings(**SETTINGS[setting, recipe]), device="cpu")
    rows = []
    for style in d.config["styles"]:
        x = d.public(style).tensors()[0]; m = min(n, len(x) // 2)
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))]
        fa = embed_images(d.evaluation, x[:m])[0]
        floor = frechet_distance(fa, embed_images(d.evaluation, x[m:2 * m])[0])
        pics[setting, "public", style] = x[:8]
        for method in ("gmi", "kedmi"):
            G = getattr(d, method)[style][0]; fake = samples(G, m); pics[setting, f"{method} {recipe}", style] = fake[:8]
            h = d.histories[f"{method}-{style}"]
            rows.append(dict(setting=setting, recipe=recipe, method=method, style=style, n=m, fd=frechet_distance(fa, embed_images(d.evaluation, fake)[0]),
                             floor=floor, seconds=sum(h["seconds"]), epochs=len(h["epoch"])))
    return rows

def picture(pics, path):
    "One panel per setting x style: public images, then each GAN's samples."
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    from torchvision.utils import make_grid
    keys = sorted({(s, st) for s, _, st in pics}); names = ["public"] + [f"{m} {r}" for m in ("gmi", "kedmi") for r in RECIPES]
    rows = (len(keys) + 1) // 2  # two panels a row: the page's column is COLUMN inches wide
    fig, axs = plt.subplots(rows, 2, figsize=(COLUMN, 3.7 * rows), dpi=DPI, squeeze=False)
    for ax in axs.flat[len(keys):]: ax.axis("off")
    for ax, (s, st) in zip(axs.flat, keys):
        ax.imshow(make_grid(torch.cat([pics[s, k, st] for k in names]), nrow=8, padding=1).permute(1, 2, 0).numpy())
        ax.set_yticks([(i + 0.5) * 33 for i in range(len(names))], names, fontsize=MIN_FONT)
        ax.set_xticks([])
        ax.set_title(f"{s}: {st}", fontsize=10)
    fig.tight_layout()
    assert not small_texts(fig), small_texts(fig)
    fig.savefig(path, dpi=2 * DPI)

if __name__ == "__main__":
    p = argparse.ArgumentParser(); p.add_argument("--root", default=str(demo_root().parent/"gan_quality")); p.add_argument("--n", type=int, default=1000)
    p.add_argument("--note", default=""); p.add_argument("--out", default="nbs/measured/gan_quality.json"); p.add_argument("--picture", default="nbs/images/gan_samples.png")
    a = p.parse_args(); torch.set_num_threads(1)
    pics, rows = {}, []
    for key in SETTINGS: rows += measure(a.root, *key, a.n, pics)
    out = dict(date=str(datetime.date.today()), note=a.note, load=open("/proc/loadavg").read().split()[:3], threads=1,
               isa=os.environ.get("ATEN_CPU_CAPABILITY", "native"), settings={f"{s} {r}": v for (s, r), v in SETTINGS.items()},
               command="python tools/gan_quality.py", rows=rows)
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n"); picture(pics, a.picture)
    for r in rows: print(json.dumps(r))
