"Maintainer checks of rethinkmi.losses beyond the notebook's examples: batch independence, dtypes, CUDA."
import pytest, torch
from rethinkmi.losses import ce_loss, logit_loss, feature_reg, identity_loss

pytestmark = pytest.mark.numerics   # CI runs these again under other instruction sets and thread counts

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

def _outs(B=6, d=8, K=5, M=3, seed=0, dtype=torch.float32, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    outs = [(torch.randn(B, d, generator=g), torch.randn(B, K, generator=g)) for _ in range(M)]
    y, p = torch.randint(0, K, (B,), generator=g), torch.randn(B, d, generator=g)
    return [(f.to(device, dtype), l.to(device, dtype)) for f, l in outs], y.to(device), p.to(device)

@pytest.mark.parametrize("kind", ["ce", "logit"])
@pytest.mark.parametrize("p_shape", [None, "batch", "vector"])
def test_none_averages_to_mean(kind, p_shape):
    outs, y, p = _outs()
    p = None if p_shape is None else p if p_shape == "batch" else p[0]
    per = identity_loss(outs, y, kind, p, lam=0.7, reduction="none")
    assert per.shape == (6,)
    torch.testing.assert_close(per.mean(), identity_loss(outs, y, kind, p, lam=0.7))

@pytest.mark.parametrize("kind", ["ce", "logit"])
def test_gradient_independent_of_batch(kind):
    "Summing per-latent losses over a fixed reference size gives each latent the gradient it has alone."
    # A mathematical identity, so in float64: a batch of 7 and a batch of 1 run other matrix kernels, which
    # round differently in float32 from one CPU to another; in float64 a few operations round at 1e-16.
    g = torch.Generator().manual_seed(1)
    W, z = torch.randn(5, 4, generator=g).double(), torch.randn(7, 4, generator=g).double()
    y, p = torch.randint(0, 5, (7,), generator=g), torch.randn(7, 4, generator=g).double()
    def grad(zz, yy, pp):
        zz = zz.clone().requires_grad_()
        (identity_loss([(zz, zz @ W.T)], yy, kind, pp, reduction="none").sum() / 60).backward()
        return zz.grad
    full = grad(z, y, p)
    for i in range(7):
        torch.testing.assert_close(full[i:i+1], grad(z[i:i+1], y[i:i+1], p[i:i+1]), atol=1e-12, rtol=0)

def test_bf16_inputs_give_float32():
    outs, y, p = _outs()
    ref = identity_loss(outs, y, "logit", p, reduction="none")
    outs16 = [(f.bfloat16(), l.bfloat16()) for f, l in outs]
    got = identity_loss(outs16, y, "logit", p.bfloat16(), reduction="none")
    assert got.dtype == torch.float32
    # bf16 keeps 8 significant bits: each input moves by at most u = 2^-9 of itself. So a logit moves by
    # u|l|, and a squared difference (f - p)^2 by at most 2|f - p| e + e^2, where e = u(|f| + |p|) bounds the
    # move of f - p. The losses are means of these; float32's own rounding (1e-7 of numbers below 20) adds
    # at most 1e-5.
    u, (f, _) = 2**-9, outs[0]
    logit_err = torch.stack([l[torch.arange(6), y].abs() for _, l in outs]).mean(0) * u
    e = u * (f.abs() + p.abs())
    bound = logit_err + (2 * (f - p).abs() * e + e**2).mean(1) + 1e-5
    assert ((got - ref).abs() <= bound).all(), (got - ref).abs() / bound

def test_single_losses_match_torch():
    outs, y, p = _outs()
    f, l = outs[0]
    torch.testing.assert_close(ce_loss(l, y), torch.nn.functional.cross_entropy(l, y))
    torch.testing.assert_close(logit_loss(l, y, "none"), -l[torch.arange(6), y])
    torch.testing.assert_close(feature_reg(f, p), torch.nn.functional.mse_loss(f, p))

def test_validate_false_skips_range_check_only():
    outs, y, p = _outs()
    with pytest.raises(ValueError, match="do not match logits"): identity_loss(outs, y[:3], validate=False)
    identity_loss(outs, y, validate=False)

@cuda
def test_cuda_matches_cpu_and_checks_labels():
    outs, y, p = _outs()
    outs_c, y_c, p_c = _outs(device="cuda")
    for kind in ("ce", "logit"):
        torch.testing.assert_close(identity_loss(outs_c, y_c, kind, p_c, reduction="none").cpu(),
                                   identity_loss(outs, y, kind, p, reduction="none"))
    with pytest.raises(ValueError, match="label 9 out of range"):
        identity_loss(outs_c, torch.full_like(y_c, 9))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        lin = torch.nn.Linear(8, 5).cuda()
        f = outs_c[0][0]; l = lin(f)
        assert l.dtype == torch.bfloat16
        assert identity_loss([(f, l)], y_c, "logit", p_c).dtype == torch.float32
