"Run by hand on a GPU (python tests/bench_losses_preg.py); not a test. Times an inversion-like step with identity_loss(validate=True/False) and PReg.sample with CPU/CUDA generators."
import time, torch
from torch import nn
from rethinkmi.losses import identity_loss
from rethinkmi.preg import PReg
dev = "cuda"; torch.manual_seed(0)
B, K, d = 300, 1000, 2048
T = nn.Sequential(nn.Linear(100, 4096), nn.ReLU(), nn.Linear(4096, d)).to(dev).requires_grad_(False)
fc = nn.Linear(d, K).to(dev).requires_grad_(False)
pr = PReg(torch.zeros(d), torch.ones(d)).to(dev)
y = torch.randint(0, K, (B,), device=dev)
gc, gg = torch.Generator().manual_seed(0), torch.Generator(dev).manual_seed(0)
def run(steps, validate, gen):
    z = torch.randn(B, 100, device=dev, requires_grad=True); opt = torch.optim.Adam([z], 0.02)
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(steps):
        f = T(z); loss = identity_loss([(f, fc(f))], y, "logit", pr.sample(B, gen), reduction="none", validate=validate).sum() / 60
        opt.zero_grad(); loss.backward(); opt.step()
    torch.cuda.synchronize(); return (time.perf_counter() - t) / steps * 1e3
run(20, True, gg)
for _ in range(2):
    for v in (True, False):
        for name, g in (("cuda gen", gg), ("cpu gen", gc)):
            print(f"validate={v!s:5} {name}: {run(300, v, g):.3f} ms/step")
