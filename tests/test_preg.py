"Maintainer checks of rethinkmi.preg beyond the notebook's examples: devices, state restoring, failures."
import pytest, torch
from torch import nn
from rethinkmi.preg import PReg

pytestmark = pytest.mark.numerics   # CI runs these again under other instruction sets and thread counts

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

class Net(nn.Module):
    def __init__(self, fail=False):
        super().__init__(); self.fail = fail
        self.body, self.bn, self.head = nn.Linear(12, 6), nn.BatchNorm1d(6), nn.Linear(6, 3)
    def forward(self, x):
        if self.fail: raise RuntimeError("boom")
        f = self.bn(self.body(x.flatten(1))); return f, self.head(f)

def test_modes_restored_after_an_error():
    m = Net(fail=True).train(); m.bn.eval()
    with pytest.raises(RuntimeError, match="boom"): PReg.estimate(m, torch.rand(8, 3, 2, 2), n=8, device="cpu")
    assert (m.training, m.body.training, m.bn.training) == (True, True, False)

def test_batchnorm_running_stats_untouched():
    m = Net().train(); before = m.bn.running_mean.clone()
    PReg.estimate(m, torch.rand(20, 3, 2, 2), n=20, batch_size=5, device="cpu")
    torch.testing.assert_close(m.bn.running_mean, before)

def test_caller_rng_untouched():
    m, x = Net(), torch.rand(8, 3, 2, 2)
    torch.manual_seed(5); PReg.estimate(m, x, n=8, device="cpu", seed=123); a = torch.rand(3)
    torch.manual_seed(5); b = torch.rand(3)
    torch.testing.assert_close(a, b)

def test_sample_is_normal_per_dimension():
    pr = PReg(torch.tensor([3., -1.]), torch.tensor([0.1, 4.]))
    x = pr.sample(50_000, torch.Generator().manual_seed(0))
    z = (x - pr.mean) / pr.std
    assert abs(float((z.abs() < 1).float().mean()) - 0.6827) < 0.01
    assert abs(float(torch.corrcoef(x.T)[0, 1])) < 0.02

@cuda
def test_cuda_sampling_and_devices():
    pr = PReg(torch.tensor([0., 1.]), torch.tensor([1., 2.])).to("cuda")
    assert pr.sample(3).device.type == "cuda" and pr.fixed(3).device.type == "cuda"
    a = pr.sample(4, torch.Generator().manual_seed(0))
    b = PReg(torch.tensor([0., 1.]), torch.tensor([1., 2.])).sample(4, torch.Generator().manual_seed(0))
    assert a.device.type == "cuda"; torch.testing.assert_close(a.cpu(), b)
    c = pr.sample(4, torch.Generator("cuda").manual_seed(0)); assert c.device.type == "cuda"

@cuda
def test_estimate_on_cuda_moves_the_model_back():
    # In float64 (CUDA's float32 convolutions may use TF32, 10 bits): both devices compute the same means to
    # 1e-15 and store them as float32, so they agree to the last float32 bit (2^-23 relative, below 1e-6).
    torch.manual_seed(0); m, x = Net().train().double(), torch.rand(64, 3, 2, 2, dtype=torch.float64)
    ref = PReg.estimate(m, x, n=64, batch_size=16, device="cpu")
    got = PReg.estimate(m, x, n=64, batch_size=16)   # default device: CUDA here
    assert next(m.parameters()).device.type == "cpu" and m.training
    assert got.mean.device.type == "cpu"
    torch.testing.assert_close(got.mean, ref.mean, atol=1e-12, rtol=1e-6)
    torch.testing.assert_close(got.std, ref.std, atol=1e-12, rtol=1e-6)
