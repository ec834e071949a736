"""Runs under torchrun with 2 CPU processes (gloo): identity-sharded attacks give the results of one process, and so
does the demo, its attacks shared whole between the ranks; a killed rank's run finishes when started again
(recomputing only what is missing), ranks that disagree stop with a clear message, and data-parallel (DDP) training
writes rank 0's outputs and resumes exactly."""
import json, os, re, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from rethinkmi.core import load_checkpoint
from rethinkmi.runs import read_run
from rethinkmi.net_files import save_net
from rethinkmi.protocol import fake_celeba
from rethinkmi.models import DGWGAN, Generator, MinibatchDiscriminator, build_classifier
from rethinkmi.plgmi import CondGenerator
from rethinkmi.preg import PReg
from rethinkmi.runs import read_run

ENV = {**os.environ, "RETHINKMI_PROGRESS": "0", "OMP_NUM_THREADS": "1"}


def torchrun_cmd(nproc:int, *args) -> list[str]:
    "`torchrun --standalone --nproc_per_node=nproc -m rethinkmi.cli <args>` (standalone: a free port of its own)."
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), "-m", "rethinkmi.cli", *map(str, args)]


def torchrun(nproc:int, *args) -> subprocess.CompletedProcess:
    return subprocess.run(torchrun_cmd(nproc, *args), env=ENV, capture_output=True, text=True, timeout=600)


def single(*args) -> subprocess.CompletedProcess:
    "The same command in one plain process (no torchrun)."
    return subprocess.run([sys.executable, "-m", "rethinkmi.cli", *map(str, args)], env=ENV, capture_output=True, text=True, timeout=600)


def done(p:subprocess.CompletedProcess):
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]


@pytest.fixture(scope="module")
def nets(tmp_path_factory) -> Path:
    "A tiny target, student, P_reg, GMI critic and KEDMI discriminator (groups of 4), saved as the CLI reads them."
    r = tmp_path_factory.mktemp("nets"); torch.manual_seed(0)
    T = build_classifier("tiny_vgg", 10, width=4, input_size=32)
    save_net(T, r/"T.pt", "tiny_vgg", n_classes=10, width=4, input_size=32)
    save_net(build_classifier("tiny_student", 10, width=4, input_size=32), r/"S.pt", "tiny_student", n_classes=10, width=4, input_size=32)
    save_net(Generator(size=32, width=8), r/"G.pt", "Generator", size=32, width=8)
    save_net(DGWGAN(size=32, width=8), r/"D.pt", "DGWGAN", size=32, width=8)
    save_net(MinibatchDiscriminator(10, 32, 8, 4), r/"DK.pt", "MinibatchDiscriminator", n_classes=10, size=32, width=8, group_size=4)
    GC = dict(n_classes=10, z_dim=16, size=32, width=4)
    save_net(CondGenerator(**GC), r/"GC.pt", "CondGenerator", **GC)
    PReg(torch.zeros(T.feat_dim), torch.ones(T.feat_dim)).save(r/"P.pt")
    return r


def attack_args(nets:Path, method:str, variant:str="baseline", iters:int=20, ids:str="0-5") -> list:
    D = {"gmi": ["--D", nets/"D.pt"], "kedmi": ["--D", nets/"DK.pt"]}.get(method, [])   # PLG-MI needs none
    extra = ["--students", nets/"S.pt", "--p_reg", nets/"P.pt"] if variant != "baseline" else []
    G = nets/("GC.pt" if method == "plgmi" else "G.pt")
    return ["--target", nets/"T.pt", "--G", G, *D, "--method", method, "--variant", variant, "--ids", ids,
            "--n_seeds", 2, "--iters", iters, "--device", "cpu", *extra]


def same_attack(a:Path, b:Path, atol:float=0.0):
    "Two attack run folders hold the same latents, KEDMI distributions and losses within `atol` (0: bitwise)."
    x, y = (load_checkpoint(p/"attack.pt", unwrap=False) for p in (a, b))
    assert torch.equal(x["labels"], y["labels"]) and x["history"]["step"] == y["history"]["step"]
    torch.testing.assert_close(x["z"], y["z"], atol=atol, rtol=0)
    if x["mu"] is not None: torch.testing.assert_close(x["mu"], y["mu"], atol=atol, rtol=0)
    for k in (k for k in x["history"] if k != "step"):   # losses; a black-box attack's scores and queries
        hx, hy = torch.tensor(x["history"][k]), torch.tensor(y["history"][k])
        torch.testing.assert_close(hx, hy, rtol=1e-9, atol=atol)
    ix, iy = (load_checkpoint(p/"images.pt", unwrap=False)["images"] for p in (a, b))
    assert ix.shape == iy.shape and (ix.int() - iy.int()).abs().max() <= (atol > 0)   # may round otherwise


# One process and two ranks run the convolutions on batches of other sizes, which round differently in
# float32, and how depends on the CPU's kernels; so the identity is checked in float64 (--float64). GMI's
# Nesterov update is linear in the gradient, so float64 rounding (1e-16 of the numbers added) stays far
# below 1e-10 over 20 steps. Adam's epsilon (1e-8) caps how much it amplifies a gradient's rounding, at
# lr / eps = 2e6, so KEDMI's 20 steps stay within 20 * 2e6 * 1e-15 = 4e-8; PLG-MI's Adam (lr 0.1) within
# 20 * 1e7 * 1e-15 = 2e-7.
# Random search (a black-box attack) only ranks the oracle's float64 probabilities: runs split differently agree
# bit for bit unless two candidates' probabilities lie within float64 rounding of each other.
@pytest.mark.numerics
@pytest.mark.parametrize("method,variant,atol", [("gmi", "lomma", 1e-10), ("kedmi", "baseline", 1e-7),
                                                 ("plgmi", "lomma", 2e-7), ("random", "baseline", 0.0)])
def test_torchrun_attack_equals_single_process(nets, tmp_path, method, variant, atol):
    args = [*attack_args(nets, method, variant), "--float64"]
    done(single("attack", tmp_path/"one", *args))
    done(torchrun(2, "attack", tmp_path/"two", *args))
    same_attack(tmp_path/"one", tmp_path/"two", atol)
    assert load_checkpoint(tmp_path/"two/attack.pt", unwrap=False)["z"].dtype == torch.float64
    assert sorted(p.name for p in (tmp_path/"two").glob("*.ckpt")) == ["attack.shard0of2.ckpt", "attack.shard1of2.ckpt"]
    queries = [read_run(tmp_path/d).get("queries") for d in ("one", "two")]
    assert queries[0] == queries[1] and (queries[0] is not None) == (method == "random")   # the ranks' counts, joined


@pytest.mark.slow
def test_torchrun_rerun_recomputes_only_the_missing_shard(nets, tmp_path):
    args = attack_args(nets, "gmi")
    done(torchrun(2, "attack", tmp_path/"run", *args))
    first = load_checkpoint(tmp_path/"run/attack.pt", unwrap=False)["z"]
    s0, s1 = tmp_path/"run/attack.shard0of2.ckpt", tmp_path/"run/attack.shard1of2.ckpt"
    for p in (s1, tmp_path/"run/attack.pt", tmp_path/"run/images.pt"): p.unlink()
    t0 = s0.stat().st_mtime_ns
    done(torchrun(2, "attack", tmp_path/"run", *args))
    assert s0.stat().st_mtime_ns == t0 and s1.exists()        # rank 0's finished share was reused, rank 1's recomputed
    assert torch.equal(load_checkpoint(tmp_path/"run/attack.pt", unwrap=False)["z"], first)


@pytest.mark.slow
def test_torchrun_demo_shares_whole_attacks(tmp_path, tiny_demo_record):
    "Under torchrun the demo gives each rank whole attacks, each run once, and its results are those of one process."
    record, _ = tiny_demo_record
    done(single("demo", "--config", record, "--out", tmp_path/"one"))
    two = torchrun(2, "demo", "--config", record, "--out", tmp_path/"two"); done(two)
    # the ranks print at once, so two entries may share a line: match entries, not lines
    ran = re.findall(r"\[(\d+)/8\] [^\[\n]*? \(rank (\d)\)", two.stdout)
    assert sorted(int(i) for i, _ in ran) == list(range(1, 9)) and {r for _, r in ran} == {"0", "1"}, two.stdout
    rows = lambda d: json.dumps([{k: v for k, v in r.items() if not k.endswith("_s")} for r in json.loads((d/"results.json").read_text())])
    assert rows(tmp_path/"one") == rows(tmp_path/"two")
    took = {k: v for k, v in read_run(tmp_path/"two", "demo")["timings"].items() if k.startswith("attack-")}
    assert len(took) == 8 and all(v > 0 for v in took.values())   # rank 1's attacks timed too, from its own record
    assert not list((tmp_path/"two"/"stages").glob("*.ckpt"))


def _worker_pid(rank:int, marker:str) -> int|None:
    "The pid of the torchrun worker of `rank` whose command line contains `marker` (Linux /proc)."
    for d in Path("/proc").glob("[0-9]*"):
        try: env, cmd = (d/"environ").read_bytes().split(b"\0"), (d/"cmdline").read_bytes()
        except OSError: continue
        if f"RANK={rank}".encode() in env and "TORCHELASTIC_RUN_ID" in str(env) and marker.encode() in cmd: return int(d.name)
    return None


def kill_rank1_after(command:str, out:Path, args:list, ckpt:Path):
    "Start `torchrun -m rethinkmi.cli <command> out args` with 2 ranks, SIGKILL rank 1 once `ckpt` exists; the failed run's log."
    p = subprocess.Popen(torchrun_cmd(2, command, out, *args), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t_end = time.time() + 120
    while not ckpt.exists() and p.poll() is None and time.time() < t_end: time.sleep(0.02)
    pid = _worker_pid(1, str(out))
    assert ckpt.exists() and pid is not None, f"no {ckpt.name} appeared while rank 1 ran"
    os.kill(pid, signal.SIGKILL)                              # rank 1 dies mid-run; torchrun then stops rank 0
    log, _ = p.communicate(timeout=120)
    assert p.returncode != 0, log[-2000:]
    return log


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc")
def test_torchrun_killed_rank_then_rerun_completes(nets, tmp_path):
    args = [*attack_args(nets, "gmi", iters=1500), "--ckpt_every", 10]
    out = tmp_path/"run"; shard1 = out/"attack.shard1of2.ckpt"
    kill_rank1_after("attack", out, args, shard1)
    assert not (out/"attack.pt").exists()
    step = load_checkpoint(shard1, unwrap=False)["step"]
    assert 0 < step < 1500                                    # what rank 1 had saved before dying
    done(torchrun(2, "attack", out, *args))                  # the same command again: each rank resumes its share
    done(torchrun(2, "attack", tmp_path/"whole", *args))     # uninterrupted on the same ranks: bit for bit
    same_attack(tmp_path/"whole", out)


def test_distributed_ranks_disagree(nets, tmp_path):
    "Two ranks started with different --iters (by hand, as torchrun would start them): both stop with one clear line."
    env = {**ENV, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(29400 + os.getpid() % 500), "WORLD_SIZE": "2"}
    procs = [subprocess.Popen([sys.executable, "-m", "rethinkmi.cli", "attack", tmp_path/"run", *map(str, attack_args(nets, "gmi", iters=it))],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r, it in ((0, 10), (1, 12))]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (o, e) in zip(procs, outs):
        assert p.returncode == 1, o + e
        assert "the 2 ranks disagree on the configuration of the attack: iters: rank 0 10, rank 1 12" in e and "Traceback" not in e
    assert not (tmp_path/"run/attack.pt").exists()


@pytest.fixture(scope="module")
def celeba(tmp_path_factory) -> Path:
    return fake_celeba(tmp_path_factory.mktemp("celeba"), n_ids=4, per_id=9, n_public=32)


def train_args(data:Path, epochs:int) -> list:
    return ["--train", data/"train.txt", "--test", data/"test.txt", "--root", data, "--arch", "tiny_vgg", "--n_classes", 4,
            "--width", 4, "--size", 32, "--epochs", epochs, "--batch_size", 2, "--device", "cpu"]


@pytest.mark.slow
def test_torchrun_ddp_training_writes_rank0_outputs(celeba, tmp_path):
    "Classifier, GMI, KEDMI and PLG-MI GANs and a student trained data-parallel by 2 ranks; rank 0 writes."
    done(torchrun(2, "train-classifier", tmp_path/"clf", *train_args(celeba, 2)))
    gan = ["--public", celeba/"public.txt", "--root", celeba, "--size", 32, "--width", 4, "--epochs", 1, "--batch_size", 4, "--n_critic", 2, "--device", "cpu"]
    done(torchrun(2, "train-gan", tmp_path/"gmi", "--kind", "gmi", *gan))
    done(torchrun(2, "train-gan", tmp_path/"kedmi", "--kind", "kedmi", "--target", tmp_path/"clf/model.pt", *gan))
    plgmi = ["--kind", "plgmi", "--target", tmp_path/"clf/model.pt", "--top_n", 2]
    done(torchrun(2, "train-gan", tmp_path/"plgmi", *plgmi, *gan))
    done(torchrun(2, "distill", tmp_path/"st", "--target", tmp_path/"clf/model.pt", "--public", celeba/"public.txt", "--root", celeba,
                  "--archs", "tiny_student:4", "--size", 32, "--epochs", 1, "--batch_size", 4, "--device", "cpu"))
    gans = [(k, ["D.pt", "G.pt"]) for k in ("gmi", "kedmi", "plgmi")]
    for d, files in (("clf", ["model.pt"]), *gans, ("st", ["student0-tiny_student.pt"])):
        assert sorted(p.name for p in (tmp_path/d).glob("*.pt")) == files and not list((tmp_path/d).glob("*.ckpt"))
        assert '"status": "done"' in (tmp_path/d/"run.json").read_text()
    assert not list(tmp_path.glob("**/previous-runs"))        # run.json written once, by rank 0


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc")
def test_torchrun_ddp_training_resumes_after_a_killed_rank(celeba, tmp_path):
    args = train_args(celeba, 40)
    done(torchrun(2, "train-classifier", tmp_path/"whole", *args))
    out = tmp_path/"cut"; ck = out/"train.ckpt"
    kill_rank1_after("train-classifier", out, args, ck)
    assert not (out/"model.pt").exists()
    assert 0 < load_checkpoint(ck, unwrap=False)["epoch"] < 40
    done(torchrun(2, "train-classifier", out, *args))        # resumes from rank 0's last epoch checkpoint
    a, b = (load_checkpoint(d/"model.pt") for d in (tmp_path/"whole", out))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
