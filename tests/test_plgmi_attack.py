"Maintainer checks of rethinkmi.plgmi_attack beyond the notebook's examples: a plain loop, chunks, LOM."
from dataclasses import replace

import pytest, torch
from rethinkmi.core import counter_key, counter_normal, float64, seed_everything
from rethinkmi.fast_inversion import Speed
from rethinkmi.inversion import Records, invert
from rethinkmi.models import build_classifier
from rethinkmi.plgmi import CondGenerator, max_margin_loss
from rethinkmi.plgmi_attack import PlgmiAttack, view_draws
from rethinkmi.plgmi_gan import augment_with
from rethinkmi.preg import PReg


@pytest.fixture(scope="module")
def nets():
    seed_everything(0)
    G = CondGenerator(4, z_dim=8, size=32, width=4).eval()
    T = build_classifier("tiny_vgg", 4, width=4, input_size=32).eval()
    S = build_classifier("tiny_student", 4, width=4, input_size=32).eval()
    return G, T, S


def naive_attack(G, T, labels, a):
    "PLG-MI's attack as a plain loop: one latent per (identity, restart), Adam on their summed losses."
    y = torch.tensor(labels).repeat_interleave(a.n_seeds)
    key = counter_key(a.seed, y, torch.arange(a.n_seeds).repeat(len(labels)))
    z = counter_normal(counter_key(key, 21), a.z_dim).requires_grad_()   # the attack's stream of starts
    opt = torch.optim.Adam([z], lr=a.lr)
    for t in range(a.iters):
        x = G(z, y)
        loss = sum(max_margin_loss(T(augment_with(x, view_draws(key, t, v)))[1], y, "none") for v in (0, 1))
        opt.zero_grad()
        (loss.sum() / a.ref_batch).backward()
        opt.step()
    return z.detach().view(len(labels), a.n_seeds, -1)


def test_the_attack_is_a_plain_adam_loop(nets):
    "invert(method='plgmi') ends where the plain loop ends (float64: the same sums in another order, 1e-10)."
    G, T, _ = nets
    a = PlgmiAttack(iters=5, n_seeds=2, z_dim=8)
    r = invert(G, None, [T], [0, 3], method="plgmi", attack=a, speed=Speed(float64=True), device="cpu")
    with float64(G, T):
        ref = naive_attack(G, T, [0, 3], a)
    torch.testing.assert_close(r.z, ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("chunk", [1, 3])
def test_chunks_and_resuming_change_nothing(nets, tmp_path, chunk):
    "Stopped and resumed with another chunk size, the attack ends where it ends in one piece (float64)."
    G, T, S = nets
    pr = PReg(torch.zeros(T.feat_dim), torch.ones(T.feat_dim))
    kw = dict(method="plgmi", variant="lomma", p_reg=pr, attack=PlgmiAttack(iters=6, n_seeds=2, z_dim=8),
              device="cpu")
    f64 = Speed(float64=True)
    whole = invert(G, None, [T, S], [1, 2], speed=f64, **kw)
    def stop(t):
        if t == 3: raise InterruptedError
    rec = Records(tmp_path/"a.pt", ckpt_every=3)
    with pytest.raises(InterruptedError):
        invert(G, None, [T, S], [1, 2], speed=f64, records=rec, callback=stop, **kw)
    again = invert(G, None, [T, S], [1, 2], speed=replace(f64, chunk_size=chunk), records=rec, **kw)
    torch.testing.assert_close(again.z, whole.z, atol=1e-10, rtol=0)


def test_lom_uses_the_logit_loss_and_the_regulariser(nets):
    "LOM's first identity loss: the logit loss plus lam times the feature distance, summed over two views."
    G, T, _ = nets
    pr = PReg(torch.zeros(T.feat_dim), torch.ones(T.feat_dim))
    a = PlgmiAttack(iters=1, n_seeds=1, z_dim=8, p_reg_mode="fixed", lam=0.5)
    f64 = Speed(float64=True)
    r = invert(G, None, [T], [2], method="plgmi", variant="lom", p_reg=pr, attack=a, speed=f64, device="cpu")
    with float64(G, T):
        key = counter_key(0, torch.tensor([2]), torch.tensor([0]))
        x = G(counter_normal(counter_key(key, 21), 8), torch.tensor([2]))
        by_hand = 0.0
        for v in (0, 1):
            f, lg = T(augment_with(x, view_draws(key, 0, v)))
            by_hand += (-lg[0, 2] + 0.5 * f.flatten(1).pow(2).mean()).item()   # P_reg fixed at its mean, 0
    assert r.history["identity"][0] == pytest.approx(by_hand, rel=1e-12)
