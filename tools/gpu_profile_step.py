"""Where the time of one paper-scale GMI LOMMA attack step goes on a GPU (issue 5).

1. each network alone, forward and backward on the 1,500 images of a step (bf16 autocast, channels-last, frozen,
   BatchNorms folded, as `invert` runs them): GPU time per pass run eagerly, the host's time to issue that pass,
   and the GPU time of the same pass replayed as a CUDA graph (no launch gaps);
2. whole attack steps with `invert` (300 identities x 5 restarts, variant lomma), eagerly and with a CUDA graph,
   steady seconds per step after the first three; with --compile also `torch.compile` + CUDA graph.
Prints one JSON line per measurement.   usage: python tools/gpu_profile_step.py [--reps 5] [--steps 12] [--compile]"""
import argparse, json, statistics, time
import torch
from rethinkmi.bench import workload
from rethinkmi.inversion import attack_copy, invert

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

def per_network(reps:int, n:int=1500):
    G, D, models, _ = workload(False, "gmi", "cuda")
    nets = dict(zip(["G", "D", "IR152", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2"],
                    (attack_copy(m, "cuda") for m in (G, D, *models))))
    torch.backends.cudnn.benchmark = True
    z = torch.randn(n, 100, device="cuda").clamp(-1, 1).requires_grad_()
    with torch.no_grad(), torch.autocast("cuda", torch.bfloat16):
        x = nets["G"](z).contiguous(memory_format=torch.channels_last)
    x = x.detach().requires_grad_()
    total = {"eager": 0.0, "graph": 0.0, "host": 0.0}
    for name, net in nets.items():
        f = pass_fn(net, z if name == "G" else x)
        for _ in range(2): f()
        eager, host = gpu_ms(f, reps)
        graph, _ = gpu_ms(graphed(f), reps)
        for k, v in (("eager", eager), ("graph", graph), ("host", host)): total[k] += v
        emit(part=name, latents=n, eager_ms=round(eager, 2), host_issue_ms=round(host, 2), graph_ms=round(graph, 2))
        torch.cuda.empty_cache()
    emit(part="sum of the networks", latents=n, **{f"{k}_ms": round(v, 1) for k, v in total.items()})

def attack_steps(steps:int, cuda_graph:bool, compile:bool=False):
    G, D, models, p_reg = workload(False, "gmi", "cuda")
    marks = {}
    def cb(t):
        if t in (3, steps): torch.cuda.synchronize(); marks[t] = time.perf_counter()
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); t0 = time.perf_counter()
    r = invert(G, D, models, list(range(300)), variant="lomma", p_reg=p_reg, iters=steps, device="cuda",
               cuda_graph=cuda_graph, compile=compile, callback=cb)
    step = (marks[steps] - marks[3]) / (steps - 3)
    emit(part="attack steps", cuda_graph=cuda_graph, compile=compile, steps=steps, chunk=r.chunk_size,
         first_3_steps_s=round(marks[3] - t0, 2), steady_step_s=round(step, 4), at_2400_steps_s=round(marks[3] - t0 + step * 2397, 1),
         peak_mem_gb=round(torch.cuda.max_memory_allocated() / 2**30, 1), final_loss=round(r.history["loss"][-1], 4))
    return r

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=5); p.add_argument("--steps", type=int, default=12)
    p.add_argument("--compile", action="store_true"); p.add_argument("--skip_networks", action="store_true")
    a = p.parse_args()
    emit(device=torch.cuda.get_device_name(), torch=torch.__version__)
    if not a.skip_networks: per_network(a.reps)
    if a.compile: attack_steps(a.steps, True, True)
    else:
        e, g = attack_steps(a.steps, False), attack_steps(a.steps, True)
        emit(part="eager vs graph", max_abs_dz=float((e.z - g.z).abs().max()))
