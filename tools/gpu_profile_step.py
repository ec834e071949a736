"""Where the time of one paper-scale GMI LOMMA attack step goes on a GPU (issue 5).

1. each network alone, forward and backward on the 1,500 images of a step (bf16 autocast, channels-last, frozen,
   BatchNorms folded, as `invert` runs them): GPU time per pass run eagerly, the host's time to issue that pass,
   and the GPU time of the same pass replayed as a CUDA graph (no launch gaps); with --batches, also at other batch
   sizes (the time of a 1,500-latent step cut in chunks of that size); with --compile_nets, also each named network
   compiled with `torch.compile` (its compile time, then its pass replayed as a CUDA graph);
2. whole attack steps with `invert` (300 identities x 5 restarts, variant lomma), eagerly and with a CUDA graph,
   steady seconds per step after the first three; with --compile also `torch.compile` + CUDA graph.
Prints one JSON line per measurement.
usage: python tools/gpu_profile_step.py [--reps 5] [--steps 12] [--compile] [--batches 500,750] [--compile_nets IR152]
       [--nets IR152,IR152+maxpool] [--skip_networks] [--skip_steps] [--graph_steps_only]
(IR152+maxpool: IR152's attack copy with its 1x1 max-pooling shortcuts kept, as before `subsample_1x1_pooling`)"""
import argparse, copy, json, statistics, time
import torch
from rethinkmi.bench import workload
from rethinkmi.fast_inversion import Speed, attack_copy, fold_batchnorm
from rethinkmi.inversion import Attack, invert
from rethinkmi.models import freeze

def emit(**d): print(json.dumps(d), flush=True)

def gpu_ms(fn, reps:int) -> tuple[float, float]:
    "Median GPU milliseconds of `fn()` timed with CUDA events, and the median host milliseconds spent issuing it."
    gpu, host = [], []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(); a.record(); t = time.perf_counter(); fn(); host.append((time.perf_counter() - t) * 1e3)
        b.record(); torch.cuda.synchronize(); gpu.append(a.elapsed_time(b))
    return statistics.median(gpu), statistics.median(host)

def pass_fn(net, inp):
    "One forward and backward pass of `net` on `inp` (gradient to the input only), as in an attack step."
    def f():
        inp.grad = None
        with torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            out = net(inp)
        outs = out if isinstance(out, (tuple, list)) else [out]
        sum(o.float().sum() for o in outs).backward()
    return f

def graphed(f):
    "`f` captured once as a CUDA graph: a function that replays it."
    g = torch.cuda.CUDAGraph()
    torch.cuda.synchronize()
    with torch.cuda.graph(g): f()
    return g.replay

NAMES = ["G", "D", "IR152", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2"]

def with_pooling(m):
    "An attack copy that keeps the 1x1 max-poolings (as before `subsample_1x1_pooling`), to compare."
    return freeze(fold_batchnorm(copy.deepcopy(m).eval())).to("cuda", memory_format=torch.channels_last)

def per_network(reps:int, n:int=1500, names=NAMES, compile:bool=False, step:int=1500):
    "Time each named network's pass on `n` latents; report it scaled to a step of `step` latents."
    G, D, models, _ = workload(False, "gmi", "cuda")
    nets = {k: attack_copy(m, "cuda") for k, m in zip(NAMES, (G, D, *models)) if k in names or k == "G"}
    if "IR152+maxpool" in names: nets["IR152+maxpool"] = with_pooling(models[0])
    torch.backends.cudnn.benchmark = True
    z = torch.randn(n, 100, device="cuda").clamp(-1, 1).requires_grad_()
    with torch.no_grad(), torch.autocast("cuda", torch.bfloat16):
        x = nets["G"](z).contiguous(memory_format=torch.channels_last)
    x = x.detach().requires_grad_()
    total, k = {"eager": 0.0, "graph": 0.0, "host": 0.0}, step / n
    for name in names:
        net = torch.compile(nets[name]) if compile else nets[name]
        f = pass_fn(net, z if name == "G" else x)
        t = time.perf_counter(); f(); torch.cuda.synchronize(); first = time.perf_counter() - t
        f()
        eager, host = gpu_ms(f, reps)
        graph, _ = gpu_ms(graphed(f), reps)
        for key, v in (("eager", eager), ("graph", graph), ("host", host)): total[key] += v * k
        emit(part=name, compiled=compile, latents=n, per_step_of=step, eager_ms=round(eager * k, 2), host_issue_ms=round(host * k, 2),
             graph_ms=round(graph * k, 2), first_pass_s=round(first, 1))
        torch.cuda.empty_cache()
    emit(part="sum of the networks", compiled=compile, latents=n, per_step_of=step, **{f"{key}_ms": round(v, 1) for key, v in total.items()})

def attack_steps(steps:int, cuda_graph:bool, compile:bool=False):
    G, D, models, p_reg = workload(False, "gmi", "cuda")
    marks = {}
    def cb(t):
        if t in (3, steps): torch.cuda.synchronize(); marks[t] = time.perf_counter()
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); t0 = time.perf_counter()
    r = invert(G, D, models, list(range(300)), variant="lomma", p_reg=p_reg, attack=Attack(iters=steps), device="cuda",
               speed=Speed(cuda_graph=cuda_graph, compile=compile), callback=cb)
    step = (marks[steps] - marks[3]) / (steps - 3)
    emit(part="attack steps", cuda_graph=cuda_graph, compile=compile, steps=steps, chunk=r.chunk_size,
         first_3_steps_s=round(marks[3] - t0, 2), steady_step_s=round(step, 4), at_2400_steps_s=round(marks[3] - t0 + step * 2397, 1),
         peak_mem_gb=round(torch.cuda.max_memory_allocated() / 2**30, 1), final_loss=round(r.history["loss"][-1], 4))
    return r

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=5); p.add_argument("--steps", type=int, default=12)
    p.add_argument("--compile", action="store_true"); p.add_argument("--skip_networks", action="store_true")
    p.add_argument("--skip_steps", action="store_true"); p.add_argument("--batches", default="")
    p.add_argument("--compile_nets", default=""); p.add_argument("--nets", default=",".join(NAMES))
    p.add_argument("--graph_steps_only", action="store_true")
    a = p.parse_args()
    emit(device=torch.cuda.get_device_name(), torch=torch.__version__)
    if not a.skip_networks: per_network(a.reps, names=a.nets.split(","))
    for n in filter(None, a.batches.split(",")): per_network(a.reps, int(n))
    if a.compile_nets: per_network(a.reps, names=a.compile_nets.split(","), compile=True)
    if a.skip_steps: pass
    elif a.compile: attack_steps(a.steps, True, True)
    elif a.graph_steps_only: attack_steps(a.steps, True)
    else:
        e, g = attack_steps(a.steps, False), attack_steps(a.steps, True)
        emit(part="eager vs graph", max_abs_dz=float((e.z - g.z).abs().max()))
