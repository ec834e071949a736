"""Time the evaluation metrics at paper scale on CPU, given the evaluation model's outputs (not a pytest file).

1,500 reconstructions (300 identities x 5 seeds) against 300 identities x 27 private images, 512-d features
(FaceNet's size) and 1,000-class logits, random. Run: `OMP_NUM_THREADS=1 python tests/bench_evaluation.py`
(add `--threads N` to use N threads). The evaluation model's forward pass is not included (model-dependent).
"""
import argparse, math, os, time
import torch
from rethinkmi.evaluation import attack_accuracy, knn_distance
from rethinkmi.frechet import frechet_distance, prdc


def timed(name, fn, reps=3):
    best = math.inf
    for _ in range(reps):
        t = time.perf_counter(); out = fn(); best = min(best, time.perf_counter() - t)
    print(f"{name:<34} {best:8.3f} s   ({out if isinstance(out, float) else ''})")
    return best


def masked_cdist_knn(ff, fl, rf, rl, step=256):
    "The textbook alternative, for comparison only: one masked cdist per chunk of reconstructions against every private image."
    return torch.cat([torch.cdist(c.double(), rf.double()).pow(2).masked_fill(l[:, None] != rl, math.inf).amin(1)
                      for c, l in zip(ff.split(step), fl.split(step))]).mean().item()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(); ap.add_argument("--threads", type=int, default=None); a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), load average {os.getloadavg()}")
    g = torch.Generator().manual_seed(0)
    n_ids, per_id, seeds, d, K = 300, 27, 5, 512, 1000
    rl = torch.arange(n_ids).repeat_interleave(per_id); rf = torch.randn(len(rl), d, generator=g)
    fl = torch.arange(n_ids).repeat(seeds); sid = torch.arange(seeds).repeat_interleave(n_ids)
    ff = rf[fl * per_id] + 0.5 * torch.randn(len(fl), d, generator=g)
    logits = torch.randn(len(fl), K, generator=g)
    total = 0.
    total += timed("attack_accuracy (1500 x 1000)", lambda: attack_accuracy(logits, fl, sid)["top1"])
    total += timed("knn_distance (1500 vs 8100, 512-d)", lambda: knn_distance(ff, fl, rf, rl))
    total += timed("frechet_distance (8100 vs 1500)", lambda: frechet_distance(rf, ff))
    print(f"{'accuracy + KNN + FID':<34} {total:8.3f} s")
    timed("prdc k=3 (8100 vs 1500)", lambda: prdc(rf, ff)["precision"], reps=1)
    ra, fa = torch.randn(len(rl), 2048, generator=g), torch.randn(len(fl), 2048, generator=g)
    timed("frechet_distance, 2048-d (Inception)", lambda: frechet_distance(ra, fa), reps=1)
    timed("[comparison] masked full cdist KNN", lambda: masked_cdist_knn(ff, fl, rf, rl), reps=1)
    print("load average after:", os.getloadavg())
