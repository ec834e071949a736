"Maintainer checks of rethinkmi.rlbmi beyond the notebook's examples: invert end to end, 'ma', re-batched resumes."
import copy
from dataclasses import replace

import pytest, torch
import torch.nn.functional as F
from torch import nn
from rethinkmi.core import counter_key, counter_normal, counter_uniform, float64, load_checkpoint, seed_everything
from rethinkmi.inversion import Records, invert
from rethinkmi.models import Generator, build_classifier
from rethinkmi.rlbmi import RlbmiAttack, SacAgents, noise

TINY = RlbmiAttack(iters=8, n_seeds=2, z_dim=8, hidden=16, batch=3)


@pytest.fixture(scope="module")
def nets():
    seed_everything(0)
    G = Generator(z_dim=8, size=32, width=4).eval()
    T = build_classifier("tiny_vgg", 4, width=4, input_size=32).eval()
    S = build_classifier("tiny_student", 4, width=4, input_size=32).eval()
    return G, T, S


def probs_of_best(r, G, models):
    "(n_ids,) the mean over each identity's best latents of the models' averaged probability of the identity."
    x = r.images(G).flatten(0, 1)
    with torch.no_grad():
        p = torch.stack([m(x)[1].softmax(1) for m in models]).mean(0)
    y = r.labels.repeat_interleave(r.z.shape[1])
    return p.gather(1, y[:, None]).view(len(r.labels), -1).mean(1)


def test_invert_end_to_end(nets):
    "invert(method='rlbmi'): shapes, queries (1 + n_seeds an episode), latents in (-1, 1), the score by hand."
    G, T, _ = nets
    r = invert(G, None, [T], [0, 3], method="rlbmi", attack=TINY, records=Records(log_every=2), device="cpu")
    assert r.method == "rlbmi" and r.z.shape == (2, 2, 8) and r.stopped is None
    assert r.queries.tolist() == [8 * 3, 8 * 3] and r.history["queries"][-1] == 24
    assert r.history["step"] == [0, 2, 4, 6, 7] and r.trail.shape == (2, 5, 2, 8)
    assert r.z.abs().max() < 1   # alpha = 0: the latent is the tanh-squashed action
    scores = r.history["score"]
    assert all(a <= b for a, b in zip(scores, scores[1:]))
    assert abs(probs_of_best(r, G, [T]).mean().item() - scores[-1]) < 1e-5


def test_variant_ma_scores_with_the_students(nets, tmp_path):
    "'ma': the score and the rewards are the oracle's probabilities averaged with the student's."
    G, T, S = nets
    kw = dict(method="rlbmi", attack=TINY, device="cpu")
    ma = invert(G, None, [T, S], [1, 2], variant="ma", records=Records(tmp_path/"ma.pt"), **kw)
    base = invert(G, None, [T, S], [1, 2], variant="baseline", records=Records(tmp_path/"b.pt"), **kw)
    assert abs(probs_of_best(ma, G, [T, S]).mean().item() - ma.history["score"][-1]) < 1e-5
    assert abs(probs_of_best(base, G, [T]).mean().item() - base.history["score"][-1]) < 1e-5
    mem = [load_checkpoint(tmp_path/f, unwrap=False)["state"]["own"]["mem"] for f in ("ma.pt", "b.pt")]
    assert torch.equal(mem[0]["a"][:, 0], mem[1]["a"][:, 0])   # the first action: before any update
    assert not torch.equal(mem[0]["r"][:, 0], mem[1]["r"][:, 0])   # rewarded by other probabilities
    assert ma.queries.tolist() == base.queries.tolist() == [24, 24]


def test_resumed_in_other_batches_equals_the_straight_run(nets, tmp_path):
    "[0, 1, 2, 3] straight = [0, 2] and [1, 3] each stopped at 4 and resumed to 8 (float64, to 1e-9)."
    G, T, S = nets
    def stop_at_5(t):
        if t == 5: raise InterruptedError("stop")
    kw = dict(method="rlbmi", variant="ma", attack=TINY, device="cpu")
    with float64(G, T, S):
        straight = invert(G, None, [T, S], [0, 1, 2, 3], **kw)
        parts = {}
        for ids in ([0, 2], [1, 3]):
            rec = Records(tmp_path/f"{ids}.pt", ckpt_every=4, log_every=100)
            with pytest.raises(InterruptedError):
                invert(G, None, [T, S], ids, records=rec, callback=stop_at_5, **kw)
            assert load_checkpoint(rec.ckpt_path, unwrap=False)["step"] == 4
            parts[tuple(ids)] = invert(G, None, [T, S], ids, records=rec, **kw)
    for ids, r in parts.items():
        assert (straight.z[list(ids)] - r.z).abs().max() < 1e-9
        assert straight.queries[list(ids)].tolist() == r.queries.tolist()


def test_other_settings_run(nets):
    "alpha > 0 (two images a step), two steps an episode, independent noise, a top-2 oracle, a budget."
    G, T, _ = nets
    a = replace(TINY, alpha=0.5, max_step=2, shared_noise=False, top_k=2, iters=4)
    r = invert(G, None, [T], [0, 1], method="rlbmi", attack=a, device="cpu")
    assert r.queries.tolist() == [4 * (2 * 2 + 2)] * 2
    cut = invert(G, None, [T], [0, 1], method="rlbmi", attack=replace(a, queries=13), device="cpu")
    assert cut.stopped == 2 and cut.queries.tolist() == [12, 12]


def linear_copy(stack, i):
    "Net `i` of a `BatchedMLP` as nn.Linear layers with ReLUs between."
    layers = []
    for w, b in zip(stack.w, stack.b):
        lin = nn.Linear(*w.shape[1:])
        with torch.no_grad():
            lin.weight.copy_(w[i].T)
            lin.bias.copy_(b[i, 0])
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class NaiveAgent:
    "One identity's SAC agent as the authors' SAC.py writes it: nn.Linear nets, four Adams, a list as buffer."
    def __init__(self, y, a):
        ref = SacAgents(counter_key(a.seed, 41, torch.tensor([y])), a.z_dim, a.hidden)   # the first weights
        self.actor, self.q1, self.q2 = (linear_copy(m, 0) for m in (ref.actor, ref.q1, ref.q2))
        self.q1b, self.q2b = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        self.log_beta, self.beta, self.memory, self.a, self.y = torch.zeros(1, requires_grad=True), 1.0, [], a, y
        adam = lambda ps: torch.optim.Adam(ps, lr=a.lr)
        self.opts = [adam(self.actor.parameters()), adam(self.q1.parameters()), adam(self.q2.parameters()),
                     adam([self.log_beta])]

    def evaluate(self, s, e):
        mu, log_std = self.actor(s).chunk(2, -1)
        std = log_std.clamp(-20, 2).exp()
        act = torch.tanh(mu + e * std)
        logp = torch.distributions.Normal(mu, std).log_prob(mu + e * std) - torch.log(1 - act**2 + 1e-6)
        return act, logp.mean(-1)

    def eps(self, t, k, role, rows):
        cols = 1 if self.a.shared_noise else self.a.z_dim
        return noise(counter_key(self.a.seed, 43, torch.tensor([self.y]), t, k, role), rows, cols)[0]

    def learn(self, t, k):
        a, n = self.a, len(self.memory)
        idx = counter_uniform(counter_key(a.seed, 44, torch.tensor([self.y]), t, k), n).argsort(dim=1, stable=True)
        s, act, r, s2, d = (torch.stack(x) for x in zip(*[self.memory[i] for i in idx[0, :a.batch].tolist()]))
        rows = 1 if a.shared_noise else a.batch
        with torch.no_grad():
            a2, logp2 = self.evaluate(s2, self.eps(t, k, 1, rows))
            q_next = torch.min(self.q1b(torch.cat([s2, a2], -1)), self.q2b(torch.cat([s2, a2], -1)))[:, 0]
            target = r + a.gamma * (1 - d) * (q_next - self.beta * logp2)
        for q, opt in ((self.q1, self.opts[1]), (self.q2, self.opts[2])):
            opt.zero_grad()
            (0.5 * F.mse_loss(q(torch.cat([s, act], -1))[:, 0], target)).backward()
            opt.step()
        beta = self.log_beta.exp()
        pred, logp = self.evaluate(s, self.eps(t, k, 2, rows))
        self.opts[3].zero_grad()
        (-(self.log_beta * (logp - a.z_dim).detach()).mean()).backward()
        self.opts[3].step()
        self.beta = beta.item()
        self.opts[0].zero_grad()
        (beta.detach() * logp - self.q1(torch.cat([s, pred], -1))[:, 0]).mean().backward()
        self.opts[0].step()
        with torch.no_grad():
            for q, qb in ((self.q1, self.q1b), (self.q2, self.q2b)):
                for p, pb in zip(q.parameters(), qb.parameters()):
                    pb.copy_(a.tau * p + (1 - a.tau) * pb)


def reward(p_state, p_action, y):
    "The authors' reward, from two probability vectors (K,)."
    margin = max(1e-7, (p_state[y] - torch.cat([p_state[:y], p_state[y + 1:]]).max()).item())
    return 2 * p_state[y].log() + 2 * p_action[y].log() + 8 * torch.tensor(margin).log()


def naive_rlbmi(G, T, y, a):
    "RLB-MI's attack.py for one identity: its best test latents after a.iters episodes, and its agent."
    ag, best, best_z = NaiveAgent(y, a), 0.0, None
    probs = lambda z: T(G(z))[1].float().softmax(1)
    start = lambda t, c: counter_normal(counter_key(a.seed, 42, torch.tensor([y]), t, c), a.z_dim)
    for t in range(a.iters):
        z = start(t, 0)
        for k in range(a.max_step):
            with torch.no_grad():
                act = ag.evaluate(z, ag.eps(t, k, 0, 1))[0]
                z2 = a.alpha * z + (1 - a.alpha) * act
                r = reward(probs(z2)[0], probs(act)[0], y)
            ag.memory.append((z[0], act[0], r.to(z), z2[0], torch.tensor(float(k == a.max_step - 1))))
            if len(ag.memory) > a.batch: ag.learn(t, k)
            z = z2
        z = start(t, torch.arange(1, a.n_seeds + 1))
        with torch.no_grad():
            for k in range(a.max_step):
                z = a.alpha * z + (1 - a.alpha) * ag.evaluate(z, ag.eps(t, k, 3, a.n_seeds))[0]
            score = probs(z)[:, y].mean().item()
        if score >= best: best, best_z = score, z
    return best_z, ag


@pytest.mark.parametrize("kw", [dict(), dict(alpha=0.5, max_step=2, shared_noise=False)])
def test_the_batched_agents_are_the_authors_sac(nets, kw, tmp_path):
    "invert(method='rlbmi') on two identities = the authors' SAC and attack loop per identity (float64, 1e-9)."
    G, T, _ = nets
    a = replace(TINY, iters=10, batch=3, **kw)
    with float64(G, T):
        r = invert(G, None, [T], [1, 3], method="rlbmi", attack=a, device="cpu", records=Records(tmp_path/"c.pt"))
        agents = load_checkpoint(tmp_path/"c.pt", unwrap=False)["state"]["own"]["agents"]
        for i, y in enumerate((1, 3)):
            z, ag = naive_rlbmi(G, T, y, a)
            assert (r.z[i] - z).abs().max() < 1e-9
            assert (agents["actor.w.0"][i] - ag.actor[0].weight.T).abs().max() < 1e-9
            assert (agents["q2_bar.w.2"][i] - ag.q2b[4].weight.T).abs().max() < 1e-9
            assert abs(agents["log_beta"][i] - ag.log_beta[0]) < 1e-9
