"Maintainer checks of rethinkmi.brepmi beyond the notebook: labels only, a naive loop, resume and batching."
import pytest, torch
from dataclasses import replace
from torch import nn
from rethinkmi.brepmi import BrepmiAttack, BrepmiSearch, initial_draws, sphere_points
from rethinkmi.core import counter_key, float64, seed_everything
from rethinkmi.inversion import Records, invert
from rethinkmi.models import Generator, build_classifier
from rethinkmi.oracle import Oracle, Threat


class Spread(nn.Module):
    "A target whose logits are standardised per class by a fixed mean and spread, so that its labels vary."
    def __init__(self, net, x):
        super().__init__()
        self.net = net
        with torch.no_grad(): l = net(x)[1]
        self.register_buffer("m", l.mean(0))
        self.register_buffer("s", l.std(0))
    def forward(self, x):
        f, l = self.net(x)
        return f, (l - self.m) / self.s


def tiny():
    "The tiny generator and a tiny target (4 classes) whose labels vary over the latent space."
    seed_everything(0)
    G = Generator(z_dim=8, size=32, width=4).eval()
    T = build_classifier("tiny_vgg", 4, width=4, input_size=32).eval()
    with torch.no_grad(): return G, Spread(T, G(torch.randn(512, 8).clamp(-1.5, 1.5))).eval()


SMALL = BrepmiAttack(iters=4, n_seeds=2, z_dim=8, points=8, radius=1.0, init_batch=16)


def test_invert_runs_on_labels_alone(monkeypatch):
    G, T = tiny()
    calls = []
    labels = Oracle.labels
    def no_scores(self, x, owner): raise AssertionError("BREP-MI asked for scores")
    def counted(self, x, owner):
        calls.append(len(x))
        return labels(self, x, owner)
    monkeypatch.setattr(Oracle, "scores", no_scores)
    monkeypatch.setattr(Oracle, "labels", counted)
    r = invert(G, None, T, [0, 1, 2, 3], method="brepmi", attack=SMALL, device="cpu")
    assert r.method == "brepmi" and r.z.shape == (4, 2, 8) and r.images(G).shape == (4, 2, 3, 32, 32)
    assert sum(calls) == int(r.queries.sum()) > 0      # every image the oracle labelled is counted
    assert len(calls) <= 2 * SMALL.iters                # one call for the spheres, one for the moves


def test_a_label_only_oracle_refuses_scores_and_the_search_never_asks():
    G, T = tiny()
    o = Oracle(T, Threat("label"), device="cpu")
    s = BrepmiSearch(G, o, torch.tensor([0, 2]), SMALL)
    for t in range(3): s.step(t)
    assert int(o.spent(torch.tensor([0, 2])).sum()) > 0
    with pytest.raises(PermissionError, match="label-only"): o.scores(G(torch.zeros(1, 8)), 0)


def test_resumed_with_another_batching_gives_the_same_latents(tmp_path):
    G, T = tiny()
    kw = dict(method="brepmi", attack=SMALL, device="cpu")
    def stop_at_2(t):
        if t == 2: raise InterruptedError("stop")
    with float64(G, T):
        rec = Records(tmp_path/"b.ckpt", ckpt_every=2)
        with pytest.raises(InterruptedError):
            invert(G, None, T, [0, 1, 2, 3], records=rec, callback=stop_at_2, **kw)
        resumed = invert(G, None, T, [0, 1, 2, 3], records=rec, **kw)
        other = invert(G, None, T, [3, 1], **kw)
        alone = invert(G, None, T, [2], **kw)
    assert torch.allclose(resumed.z[[3, 1]], other.z, atol=1e-9, rtol=0)
    assert torch.allclose(resumed.z[2], alone.z[0], atol=1e-9, rtol=0)
    assert torch.equal(resumed.queries[[3, 1]], other.queries) and resumed.queries[2] == alone.queries[0]


class Plane(nn.Module):
    "A toy generator: the latent (x, y) as the first two pixels of a 3 x 2 x 2 image, through a sigmoid."
    z_dim = 2
    def forward(self, z): return torch.sigmoid(z / 4)[:, [0, 1, 0], None, None].expand(-1, 3, 2, 2)


class Ellipses(nn.Module):
    "A toy target of 3 classes: inside ellipse 0, inside ellipse 1, elsewhere."
    def forward(self, x):
        z = 4 * torch.logit(x[:, :2, 0, 0].double())
        q0 = ((z[:, 0] - 1) / 2.5) ** 2 + ((z[:, 1] - 0.5) / 1.2) ** 2
        q1 = ((z[:, 0] + 1) / 1.2) ** 2 + ((z[:, 1] + 1.2) / 1.0) ** 2
        return z, torch.stack([1 - q0, 1 - q1, torch.zeros_like(q0)], 1)


def naive(y, a, steps):
    "BREP-MI for identity y, restart by restart in plain Python loops, read off the authors' code."
    label = lambda z: int(Ellipses()(Plane()(z[None]))[1].argmax(1))
    S, B = a.n_seeds, a.init_batch
    z, best = [torch.zeros(2) for _ in range(S)], [torch.zeros(2) for _ in range(S)]
    R, since, done = [torch.tensor(0.0) for _ in range(S)], [0] * S, [False] * S
    for t in range(steps):
        active = [r for r in range(S) if R[r] > 0 and not done[r]]
        pending = [r for r in range(S) if R[r] == 0]
        if pending:
            draws = initial_draws(a.seed, torch.tensor([y]), t, B, 2, a.clip)[0]
            hits = [j for j in range(B) if label(draws[j]) == y]
            for r in pending:
                found = bool(hits)
                j = hits.pop(0) if found else r % B
                z[r], best[r] = draws[j].clone(), draws[j].clone()
                R[r] = torch.tensor(a.radius if found else 0.0)
        for r in active:
            key = counter_key(a.seed, torch.tensor([y]), torch.tensor([r]))
            pts, u = sphere_points(z[r][None], R[r][None], key, t, a.points)
            inside = [label(p) == y for p in pts[0]]
            g = -sum(u[0, m] for m in range(a.points) if not inside[m]) / a.points
            grow = sum(inside) > a.grow_frac * a.points
            z1 = (z[r] + min(R[r] / 3, torch.tensor(a.max_step)) * g).clamp(-a.clip, a.clip)
            ok = bool((z1 == z[r]).all()) or label(z1) == y
            if ok: z[r] = z1
            if grow and ok: best[r] = z[r].clone()
            since[r] = 0 if grow else since[r] + ok
            R[r] = R[r] * a.growth if grow else R[r]
            done[r] = since[r] >= a.patience or (a.max_radius is not None and R[r] > a.max_radius)
    return torch.stack(best), torch.stack(R)


@pytest.mark.parametrize("patience,max_radius", [(1000, None), (3, None), (1000, 0.5)])
def test_the_batched_search_matches_a_naive_loop(patience, max_radius):
    a = BrepmiAttack(iters=25, n_seeds=3, z_dim=2, radius=0.1, clip=4.0, init_batch=4, points=16,
                     patience=patience, max_radius=max_radius)
    s = BrepmiSearch(Plane(), Oracle(Ellipses(), Threat("label"), device="cpu"), torch.tensor([0, 1]), a)
    for t in range(a.iters): s.step(t)
    for i, y in enumerate((0, 1)):
        best, R = naive(y, a, a.iters)
        assert torch.allclose(s.best()[i], best, atol=1e-5), (y, s.best()[i], best)
        assert torch.allclose(s.radius.view(2, 3)[i], R.float(), atol=1e-5)


@pytest.mark.parametrize("q", [17, 40, 100])
def test_a_budget_retires_each_identity_where_the_free_run_stood(q):
    "Each identity follows the run without a budget until it cannot pay for a step, and never passes `q`."
    G, T = tiny()
    run = lambda a, **kw: invert(G, None, T, [0, 1, 2], method="brepmi", attack=a, device="cpu", **kw)
    r, free = run(replace(SMALL, queries=q)), run(SMALL, records=Records(log_every=1))
    assert (r.queries <= q).all() and r.stopped is None
    for i in range(3):
        k = (free.query_trail[i] == r.queries[i]).nonzero()[0, 0]
        assert torch.equal(r.z[i], free.trail[i, k])
    if (free.queries <= q).all(): assert torch.equal(r.z, free.z)
