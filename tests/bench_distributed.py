"""CPU scaling of an identity-sharded attack under torchrun, 1 process vs 2 (not a pytest file).

The bench's quick networks (32x32: tiny_resnet target, three tiny students, G and critic of width 16, random weights),
GMI LOMMA on 60 identities x 5 restarts, through the CLI: one plain process, then `torchrun` with 1 and 2 processes
(gloo, one torch thread each). Each run is timed end to end (process start, imports, loading, the attack, the merge,
the images and files). Run: `python tests/bench_distributed.py [--iters 200]`; the last line is a JSON summary.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

import torch

from rethinkmi.bench import workload
from rethinkmi.core import load_checkpoint
from rethinkmi.net_files import save_net


def save_workload(root:Path):
    "The quick bench networks, saved as the CLI reads them."
    G, D, (T, *S), p_reg = workload(quick=True, method="gmi", device="cpu")
    save_net(T, root/"T.pt", "tiny_resnet", n_classes=200, width=16, input_size=32)
    for i, (s, w) in enumerate(zip(S, (4, 6, 8))): save_net(s, root/f"S{i}.pt", "tiny_student", n_classes=200, width=w, input_size=32)
    save_net(G, root/"G.pt", "Generator", size=32, width=16); save_net(D, root/"D.pt", "DGWGAN", size=32, width=16)
    p_reg.save(root/"P.pt")


def run(root:Path, name:str, nproc:int|None, iters:int) -> float:
    "Seconds of one CLI attack: a plain process (`nproc=None`) or torchrun with `nproc` processes."
    launch = [sys.executable] if nproc is None else [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    cmd = [*launch, "-m", "rethinkmi.cli", "attack", str(root/name), "--target", str(root/"T.pt"), "--G", str(root/"G.pt"), "--D", str(root/"D.pt"),
           "--students", ",".join(str(root/f"S{i}.pt") for i in range(3)), "--p_reg", str(root/"P.pt"), "--method", "gmi",
           "--variant", "lomma", "--ids", "0-59", "--n_seeds", "5", "--iters", str(iters), "--device", "cpu"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "RETHINKMI_PROGRESS": "0", "OMP_NUM_THREADS": "1"})
    return round(time.perf_counter() - t, 2)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(); ap.add_argument("--iters", type=int, default=200); a = ap.parse_args()
    root = Path(tempfile.mkdtemp()); save_workload(root)
    secs = {"plain": run(root, "plain", None, a.iters), "torchrun_1": run(root, "t1", 1, a.iters), "torchrun_2": run(root, "t2", 2, a.iters)}
    z = [load_checkpoint(root/n/"attack.pt", unwrap=False)["z"] for n in ("plain", "t1", "t2")]
    print(json.dumps(dict(cpus=os.cpu_count(), load_average=[round(x, 2) for x in os.getloadavg()], iters=a.iters, latents=300, seconds=secs,
                          speedup_2_vs_1=round(secs["torchrun_1"] / secs["torchrun_2"], 2),
                          max_latent_difference_2_vs_plain=float((z[2] - z[0]).abs().max()))))
