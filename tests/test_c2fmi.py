"Maintainer checks of rethinkmi.c2fmi beyond the notebook's examples: a plain DE loop, the 'ma' variant, shards."
from dataclasses import replace

import pytest, torch
from rethinkmi.c2fmi import (C2fmiAttack, C2fmiResult, InverseNet, coarse_latents, fit_inverse,
                             initial_population, prior_queries)
from rethinkmi.core import counter_key, counter_uniform, float64, seed_everything
from rethinkmi.inversion import Records, invert
from rethinkmi.models import build_classifier
from rethinkmi.oracle import Oracle
from rethinkmi.stylegan import StyleGANConfig, StyleGenerator

_PICK, _CROSS = 55, 56   # the attack's counter streams of the differences' members and of the crossover


@pytest.fixture(scope="module")
def nets():
    seed_everything(0)
    G = StyleGenerator(StyleGANConfig(size=32, style_dim=8, n_mlp=1, channel_max=4, channel_base=32)).eval()
    T = build_classifier("tiny_vgg", 4, width=4, input_size=32).eval()
    S = build_classifier("tiny_student", 4, width=4, input_size=32).eval()
    return G, T, S


A = C2fmiAttack(iters=4, n_seeds=2, z_dim=8, pop_size=6, inv_samples=64, inv_epochs=2, inv_hidden=16,
                inv_batch=32)


def fitness(G, models, x, c):
    "The probability of class c of each latent of x (P, d): the oracle's and the students' softmax, averaged."
    with torch.no_grad():
        imgs = G.images(G.broadcast(x))
        return torch.stack([m(imgs)[1].float().softmax(1)[:, c] for m in models]).mean(0).to(x)


def plain_de(G, T, labels, a, students=()):
    "C2FMI's search as plain loops over identities and members, each draw taken from its own key."
    w, p = prior_queries(G, Oracle(T), a.inv_samples, a.seed)
    net = InverseNet(p.shape[1], w.shape[1], a.inv_hidden, a.top_k, a.seed).to(w)
    fit_inverse(net, w, p, a)
    y = torch.tensor(labels)
    pop, P, m = initial_population(G, coarse_latents(net, y), y, a), a.pop_size, a.n_diff
    out = []
    for i, c in enumerate(labels):
        X = pop[i].clone()
        f = fitness(G, [T, *students], X, c)
        for t in range(1, a.iters):
            beta, b = a.beta * min(1.0, (a.iters - t) / a.anneal), int(f.argmax())
            trials = []
            for j in range(P):
                u = counter_uniform(counter_key(a.seed, _PICK, torch.tensor([c]), torch.tensor([j]), t), 2 * m)[0]
                r = [min(int(v * P), P - 1) for v in u]
                v = X[j] + a.pull * (X[b] - X[j]) + beta * sum(X[r[k]] - X[r[m + k]] for k in range(m))
                take = counter_uniform(counter_key(a.seed, _CROSS, torch.tensor([c]), torch.tensor([j]), t),
                                       X.shape[1])[0] < a.cross
                trials.append(torch.where(take, v, X[j]))
            U = torch.stack(trials)
            fu = fitness(G, [T, *students], U, c)
            for j in range(P):
                if fu[j] > f[j]:
                    X[j], f[j] = U[j], fu[j]
        order = sorted(range(P), key=lambda j: -float(f[j]))[:a.n_seeds]
        out.append(X[order])
    return torch.stack(out)


@pytest.mark.parametrize("variant", ["baseline", "ma"])
def test_invert_is_a_plain_de_loop(nets, variant):
    "invert(method='c2fmi') ends where plain loops end, with the students' scores in 'ma' (float64, 1e-9)."
    G, T, S = nets
    students = [S] if variant == "ma" else []
    with float64(G, T, S):
        r = invert(G, None, [T, *students], [1, 3], method="c2fmi", variant=variant, attack=A, device="cpu")
        ref = plain_de(G, T, [1, 3], A, students)
    assert isinstance(r, C2fmiResult) and r.z.shape == (2, 2, 8)
    torch.testing.assert_close(r.z, ref, atol=1e-9, rtol=0)
    assert r.queries.tolist() == [A.pop_size * A.iters] * 2 and r.shared_queries == A.inv_samples
    x = r.images(G)
    assert x.shape == (2, 2, 3, 32, 32) and 0 <= x.min() and x.max() <= 1


def test_ma_scores_average_the_students(nets):
    "The score of 'ma' is the mean of the target's and the student's probability at the best latents."
    G, T, S = nets
    r = invert(G, None, [T, S], [0, 2], method="c2fmi", variant="ma", attack=A, device="cpu")
    best = r.z[:, 0]
    by_hand = torch.stack([fitness(G, [T, S], best[i:i + 1], c)[0] for i, c in enumerate((0, 2))]).mean()
    torch.testing.assert_close(torch.tensor(r.history["score"][-1]), by_hand.float(), atol=1e-6, rtol=0)
    base = invert(G, None, [T], [0, 2], method="c2fmi", attack=A, device="cpu")
    assert not torch.equal(base.z, r.z)


def test_shards_resumed_equal_the_straight_run(nets, tmp_path):
    "Identities split in two shards, each stopped after 2 steps and resumed, end where one straight run ends."
    G, T, _ = nets
    def stop(t):
        if t == 2: raise InterruptedError
    with float64(G, T):
        straight = invert(G, None, T, [0, 1, 2, 3], method="c2fmi", attack=A, device="cpu")
        parts = []
        for shard in ([0, 1], [2, 3]):
            rec = Records(tmp_path/f"shard{shard[0]}.pt", ckpt_every=1)
            with pytest.raises(InterruptedError):
                invert(G, None, T, shard, method="c2fmi", attack=A, records=rec, callback=stop, device="cpu")
            parts.append(invert(G, None, T, shard, method="c2fmi", attack=A, records=rec, device="cpu"))
    torch.testing.assert_close(torch.cat([p.z for p in parts]), straight.z, atol=1e-9, rtol=0)
    assert torch.cat([p.queries for p in parts]).tolist() == straight.queries.tolist()


def test_shared_queries_spend_no_budget(nets):
    "The inversion network's queries are outside the budget: a budget of two steps, far below them, runs two."
    G, T, _ = nets
    a = replace(A, inv_samples=200, queries=2 * A.pop_size)
    r = invert(G, None, T, [0, 3], method="c2fmi", attack=a, device="cpu")
    assert r.stopped == 2 and r.shared_queries == 200 and r.queries.tolist() == [12, 12]
