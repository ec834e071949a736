"Maintainer checks of rethinkmi.plgmi beyond the notebook's examples: naive references, ties, batch independence."
import pytest, torch
from rethinkmi.core import float64
from rethinkmi.plgmi import (CondGenerator, ProjectionDiscriminator, hinge_d_loss, max_margin_loss,
                             pseudo_labels, top_n_selection)


def naive_top_n(probs, n):
    "Per class, sort the images by (-probability, index) in plain Python and keep the first n."
    out = []
    for k in range(probs.shape[1]):
        col = probs[:, k].tolist()
        out.append(sorted(range(len(col)), key=lambda i: (-col[i], i))[:n])
    return torch.tensor(out)


@pytest.mark.parametrize("n", [1, 3, 17])
def test_top_n_matches_a_naive_sort_with_ties(n):
    g = torch.Generator().manual_seed(n)
    probs = (torch.randint(0, 5, (17, 4), generator=g).float() / 4).softmax(1)   # many equal values
    assert torch.equal(top_n_selection(probs, n), naive_top_n(probs, n))


def test_pseudo_labels_keep_the_n_most_probable():
    probs = torch.rand(50, 6, generator=torch.Generator().manual_seed(0)).softmax(1)
    idx, y = pseudo_labels(probs, 7)
    assert idx.shape == y.shape == (42,) and torch.equal(y.bincount(), torch.full((6,), 7))
    kth = probs.sort(0, descending=True).values[6]                  # the 7th highest of each column
    assert (probs[idx, y] >= kth[y]).all()


def naive_margin(logits, labels):
    "-l_y + max over the other classes, row by row in plain Python."
    rows = []
    for l, y in zip(logits.tolist(), labels.tolist()):
        rows.append(-l[y] + max(v for k, v in enumerate(l) if k != y))
    return torch.tensor(rows, dtype=torch.float64)


def test_max_margin_matches_a_naive_loop_with_ties():
    g = torch.Generator().manual_seed(0)
    logits = torch.randint(-2, 3, (40, 5), generator=g).double()      # ties at the top are common
    labels = torch.randint(0, 5, (40,), generator=g)
    torch.testing.assert_close(max_margin_loss(logits, labels, reduction="none"), naive_margin(logits, labels))


def test_max_margin_gradient_independent_of_batch():
    "Summed per-latent losses over a fixed reference size give each row the gradient it has alone (float64)."
    g = torch.Generator().manual_seed(1)
    W, z, y = torch.randn(6, 4, generator=g).double(), torch.randn(7, 4, generator=g).double(), torch.arange(7) % 6
    def grad(zz, yy):
        zz = zz.clone().requires_grad_()
        (max_margin_loss(zz @ W.T, yy, reduction="none").sum() / 60).backward()
        return zz.grad
    full = grad(z, y)
    for i in range(7):
        torch.testing.assert_close(full[i:i+1], grad(z[i:i+1], y[i:i+1]), atol=1e-12, rtol=0)


def test_hinge_d_loss_against_a_naive_loop():
    real, fake = torch.tensor([1.5, 0.2, -0.4]), torch.tensor([-2.0, 0.7])
    hand = sum(max(0, 1 - r) for r in real.tolist()) / 3 + sum(max(0, 1 + f) for f in fake.tolist()) / 2
    torch.testing.assert_close(hinge_d_loss(real, fake), torch.tensor(hand))


@pytest.mark.parametrize("size", [32, 64])
def test_networks_are_batch_independent_in_eval_mode(size):
    torch.manual_seed(0)
    G = CondGenerator(7, z_dim=8, size=size, width=4).eval().requires_grad_(False)
    D = ProjectionDiscriminator(7, size=size, width=4).eval().requires_grad_(False)
    for m in G.modules():                                       # class tables as after training
        if isinstance(m, torch.nn.Embedding): torch.nn.init.normal_(m.weight, 1, 0.5)
    with float64(G, D):
        z, y = torch.randn(6, 8), torch.tensor([0, 6, 2, 2, 5, 1])
        x = G(z, y)
        torch.testing.assert_close(x[3:5], G(z[3:5], y[3:5]), atol=1e-10, rtol=0)
        torch.testing.assert_close(D(x, y)[3:5], D(x[3:5], y[3:5]), atol=1e-10, rtol=0)
