"""Soak test of interrupted attacks (a benchmark script, not run in CI): the quick demo's attacks (its networks' shapes, random
weights; GMI and KEDMI, LOMMA with three students and P_reg; its identities, samples, steps and checkpoint interval) run in
child processes that are stopped at random steps by SIGINT, SIGTERM or SIGKILL, one to three times, then run to the end;
every result is compared, bit for bit, with an uninterrupted run of the same attack.

    python tools/soak.py --minutes 10 --out nbs/measured/soak.jsonl

Counts runs, interruptions by signal, exit statuses other than the expected ones (130 for SIGINT, 143 for SIGTERM, killed
for SIGKILL; a signal that lands after the last step is counted apart: it is not caught there), checkpoints missing after
a graceful stop, and mismatches; appends one JSON line of them (with date, command,
machine, load averages) to `--out`.
"""
import argparse, datetime, json, os, platform, random, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

from rethinkmi.demo import demo_settings

QUICK = demo_settings(quick=True)   # the quick demo: its networks' shapes ("models", "students") and its "attack"
ATTACK = QUICK["attack"]

CHILD = r'''
import json, sys, time, torch
torch.set_num_threads(1)
from rethinkmi.bench import NetShapes, random_networks
from rethinkmi.core import seed_everything
from rethinkmi.inversion import Attack, Records, invert
from rethinkmi.preg import PReg
q, method, ckpt, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
m, a = q["models"], q["attack"]
shapes = NetShapes(m["n_ids"], m["size"], (m["target"][0], dict(width=m["target"][1], input_size=m["size"])),
                   q["students"]["archs"], m["gan_width"], m["gan_upsample"], m["gan_batch"])
seed_everything(0)
G, D, [T, *S], _ = random_networks(shapes, method, "cpu")
p_reg = PReg(torch.randn(T.feat_dim) * 0.1, torch.rand(T.feat_dim) + 0.5)
def tell(t): print(t, flush=True)
r = invert(G, D, [T, *S], list(range(a["n_ids"])), method=method, variant="lomma", p_reg=p_reg, device="cpu",
           attack=Attack(iters=a["iters"][method], n_seeds=a["n_seeds"]),
           records=Records(None if ckpt == "-" else ckpt, a["ckpt_every"]), callback=tell)
torch.save({"z": r.z, "history": r.history}, out)
'''
EXPECTED = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def child(method:str, ckpt, out) -> subprocess.Popen:
    env = {**os.environ, "RETHINKMI_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(QUICK), method, str(ckpt), str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt(p:subprocess.Popen, at:int, sig:int) -> int|None:
    "Send `sig` once the child reports step `at` (plus a random fraction of a step); its exit status, or None if it ended first."
    for line in p.stdout:
        if int(line) >= at:
            time.sleep(random.uniform(0, 0.05)); p.send_signal(sig); break
    p.communicate(timeout=600)
    return None if p.returncode == 0 else p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10, help="stop starting new runs after this long")
    ap.add_argument("--seed", type=int, default=0, help="seeds the random methods, steps and signals")
    ap.add_argument("--out", default=None, help="append the counts as one JSON line to this file")
    a = ap.parse_args()
    import torch
    random.seed(a.seed); t0, load0 = time.time(), os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    ref = {}
    for m in ("gmi", "kedmi"):                                  # the uninterrupted results
        p = child(m, "-", tmp/f"ref-{m}.pt"); _, err = p.communicate(timeout=600)
        if p.returncode: sys.exit(f"the uninterrupted {m} attack failed:\n{err}")
        ref[m] = torch.load(tmp/f"ref-{m}.pt")
    c = dict(runs=0, interruptions={s.name: 0 for s in EXPECTED}, ended_before_signal=0, after_last_step=0, bad_exit=0, missing_checkpoint=0, mismatches=0)
    while time.time() - t0 < 60 * a.minutes:
        m, run = random.choice(("gmi", "kedmi")), tmp/f"run{c['runs']}"
        run.mkdir(); ck, out = run/"attack.ckpt", run/"out.pt"
        for _ in range(random.randint(1, 3)):                   # one to three interruptions, each at a random step
            sig = random.choice(list(EXPECTED)); at = random.randrange(1, ATTACK["iters"][m])
            rc = interrupt(child(m, ck, out), at, sig)
            if rc is None: c["ended_before_signal"] += 1; break
            c["interruptions"][sig.name] += 1
            if rc != EXPECTED[sig]:
                done = ck.exists() and torch.load(ck)["step"] == ATTACK["iters"][m]   # the signal came after the last step: not caught
                c["after_last_step" if done else "bad_exit"] += 1; print(f"run {c['runs']}: {sig.name} gave exit status {rc}", flush=True)
            if sig != signal.SIGKILL and not ck.exists(): c["missing_checkpoint"] += 1
        if not out.exists():
            p = child(m, ck, out); _, err = p.communicate(timeout=600)
            if p.returncode: c["bad_exit"] += 1; print(f"run {c['runs']}: the resumed run failed:\n{err}", flush=True); continue
        r = torch.load(out)
        same = torch.equal(r["z"], ref[m]["z"]) and r["history"] == ref[m]["history"]
        c["mismatches"] += not same; c["runs"] += 1
        print(f"run {c['runs']}: {m}, {'same' if same else 'MISMATCH'}; counts so far {json.dumps(c)}", flush=True)
    rec = dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"), command=" ".join(["python", *sys.argv]),
               machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", torch=torch.__version__,
               isa=f"ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', 'native')}, ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', 'native')}", load_average_start=[round(x, 2) for x in load0],
               load_average_end=[round(x, 2) for x in os.getloadavg()], seconds=round(time.time() - t0),
               settings={k: QUICK[k] for k in ("models", "students", "attack")}, **c)
    print(json.dumps(rec)); shutil.rmtree(tmp, ignore_errors=True)
    if a.out:
        with open(a.out, "a") as f: f.write(json.dumps(rec) + "\n")


if __name__ == "__main__": main()
