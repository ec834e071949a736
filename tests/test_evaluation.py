"Maintainer checks of rethinkmi.evaluation: metrics against independent numpy/scipy computations at larger sizes, the Inception path, tables."
import math
import numpy as np
import pytest
import torch
import torch.nn as nn
import torchvision
from scipy import linalg
from scipy.spatial.distance import cdist

from rethinkmi.core import fingerprint
from rethinkmi.evaluation import attack_accuracy, embed_images, knn_distance, private_features
from rethinkmi.frechet import FID_WEIGHTS, TV_INCEPTION_WEIGHTS, fid, frechet_distance, inception_pool, prdc
from rethinkmi.results import FidOptions, ResultsTable, evaluate_attack
from rethinkmi.losses import topk_hits
from rethinkmi.models import build_classifier

pytestmark = pytest.mark.numerics   # CI runs these again under other instruction sets and thread counts


def test_accuracy_against_numpy():
    g = np.random.default_rng(10)
    n, K, S = 600, 50, 5
    lg, y, s = g.normal(size=(n, K)), g.integers(0, K, n), np.repeat(np.arange(S), n // S)
    r = attack_accuracy(lg, y, s)
    rank = (lg >= lg[np.arange(n), y][:, None]).sum(1)
    for k in (1, 5):
        per = [100 * (rank[s == i] <= k).mean() for i in range(S)]
        assert r[f"top{k}"] == pytest.approx(np.mean(per)) and r[f"top{k}_std"] == pytest.approx(np.std(per, ddof=1))
    assert r["n_seeds"] == S


def test_accuracy_ties_and_bad_inputs():
    assert attack_accuracy(torch.zeros(4, 3), [0, 1, 2, 0])["top1"] == 0  # constant logits: no credit
    assert attack_accuracy(torch.zeros(4, 3), [0, 1, 2, 0])["top5"] == 100  # k >= K: everything is in the top k
    with pytest.raises(ValueError, match="seed_ids must hold 4 values"): attack_accuracy(torch.zeros(4, 3), [0, 1, 2, 0], [0, 1])
    with pytest.raises(ValueError, match="logits has NaN or inf"): attack_accuracy(torch.tensor([[0., math.nan]]), [0])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"): topk_hits(torch.zeros(2, 2), [0, -1])


def test_knn_against_scipy():
    g = np.random.default_rng(11)
    rl = np.repeat(np.arange(40), g.integers(1, 30, 40)); rf = g.normal(size=(len(rl), 64))
    fl = g.integers(0, 40, 500); ff = g.normal(size=(500, 64))
    want = [cdist(ff[i:i + 1], rf[rl == fl[i]], "sqeuclidean").min() for i in range(len(ff))]
    got = knn_distance(ff, fl, rf, rl, reduction="none")
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    assert knn_distance(torch.tensor(ff, dtype=torch.float32), fl, rf, rl) == pytest.approx(np.mean(want), rel=1e-5)


def test_knn_bad_inputs():
    with pytest.raises(ValueError, match="feature sizes differ"): knn_distance(torch.zeros(2, 3), [0, 0], torch.zeros(2, 4), [0, 0])
    with pytest.raises(ValueError, match="real_features has NaN or inf"): knn_distance(torch.zeros(2, 3), [0, 0], torch.full((2, 3), math.inf), [0, 0])
    with pytest.raises(ValueError, match="reduction"): knn_distance(torch.zeros(2, 3), [0, 0], torch.zeros(2, 3), [0, 0], reduction="sum")
    with pytest.raises(TypeError, match="fake_labels must be integers"): knn_distance(torch.zeros(2, 3), torch.zeros(2), torch.zeros(2, 3), [0, 0])


@pytest.mark.parametrize("n,d", [(500, 32), (40, 64)])  # full rank, and fewer samples than dimensions
def test_frechet_against_scipy(n, d):
    g = np.random.default_rng(n)
    a, b = g.normal(size=(n, d)) @ g.normal(size=(d, d)) / 4, g.normal(0.3, 1.5, size=(n + 13, d))
    ma, mb, ca, cb = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(ca @ cb)
    want = ((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.trace(covmean.real)
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-6)
    assert frechet_distance(b, a) == pytest.approx(want, rel=1e-6)


def test_prdc_against_scipy():
    g = np.random.default_rng(12)
    r, f, k = g.normal(size=(300, 8)), g.normal(0.4, 0.8, size=(200, 8)), 3
    drr, dff, drf = cdist(r, r), cdist(f, f), cdist(r, f)
    rr, rf = np.sort(drr, 1)[:, k], np.sort(dff, 1)[:, k]
    ins = drf <= rr[:, None]  # (real, fake)
    want = dict(precision=ins.any(0).mean(), recall=(drf <= rf[None, :]).any(1).mean(), density=ins.sum() / (k * len(f)), coverage=ins.any(1).mean())
    got = prdc(r, f, k, chunk_elems=1000)
    for key in want: assert got[key] == pytest.approx(want[key], abs=1e-12), key


def test_embed_keeps_mode_and_checks():
    m = build_classifier("tiny_vgg", 3, width=4, input_size=16).train()
    embed_images(m, torch.rand(2, 3, 8, 8))
    assert m.training
    with pytest.raises(ValueError, match="N x 3 x H x W"): embed_images(m, torch.rand(2, 8, 8))
    with pytest.raises(ValueError, match=r"floats in \[0, 1\]"): embed_images(m, torch.full((1, 3, 8, 8), math.nan))
    with pytest.raises(ValueError, match="no images"): embed_images(m, torch.rand(0, 3, 8, 8))


def test_private_features_key_on_data(tmp_path):
    m = build_classifier("tiny_vgg", 3, width=4, input_size=16)
    x, y = torch.rand(6, 3, 16, 16), torch.arange(6) % 3
    f1, _ = private_features(m, (x, y), tmp_path)
    x2 = x.clone(); x2[0, 0, 0, 0] = 0.5 if x[0, 0, 0, 0] != 0.5 else 0.25
    f2, _ = private_features(m, (x2, y), tmp_path)  # other data: recomputed, not the stale file
    assert len(list(tmp_path.glob("*.pt"))) == 2 and not torch.equal(f1, f2)
    assert fingerprint(m, n=16) == fingerprint(m, n=16)


# Inception: torchvision's layout, stored under a fake torch hub folder with random weights (offline).
@pytest.fixture
def hub(tmp_path, monkeypatch):
    old = torch.hub.get_dir(); torch.hub.set_dir(str(tmp_path))
    yield tmp_path
    torch.hub.set_dir(old)


def test_inception_missing(hub):
    with pytest.raises(FileNotFoundError, match="never downloads") as e: inception_pool()
    assert FID_WEIGHTS in str(e.value) and TV_INCEPTION_WEIGHTS in str(e.value)


def test_inception_torchvision_path(hub):
    torch.manual_seed(0)
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True).eval()
    (hub/"checkpoints").mkdir(); torch.save(net.state_dict(), hub/"checkpoints"/TV_INCEPTION_WEIGHTS)
    ext = inception_pool()
    assert ext.source == "torchvision" and "not the TF FID network" in ext.label
    x = torch.rand(2, 3, 32, 32)
    f, l = embed_images(ext, x, device="cpu")
    assert f.shape == (2, 2048) and l is None
    # what the Google weights must see is 2x - 1 of the [0, 1] image, resized to 299
    net.transform_input, net.fc = False, nn.Identity()
    x299 = nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    with torch.no_grad(): want = net(2 * x299 - 1)
    rel = lambda a, b: ((a - b).norm() / b.norm()).item()
    assert want.norm() > 0 and rel(f, want) < 1e-4
    with torch.no_grad(): bug = net(2 * ((x299[:1] + 1) / 2) - 1)  # the reference's mapping of [0, 1] as if [-1, 1]
    assert rel(bug, want[:1]) > 0.05
    fake = x.flip(-1)  # FID through the extractor = Frechet distance of its features (real given as features)
    assert fid(f, fake, extractor="inception") == pytest.approx(frechet_distance(f, embed_images(ext, fake)[0]), rel=1e-6)


def test_evaluate_attack_successful_and_prdc(tmp_path):
    torch.manual_seed(0)
    E = build_classifier("tiny_vgg", 4, width=4, input_size=16)
    priv = (torch.rand(20, 3, 16, 16), torch.arange(20) % 4)
    x, y, s = torch.rand(12, 3, 16, 16), torch.arange(12) % 4, torch.arange(12) // 4
    r = evaluate_attack(E, x, y, s, priv, FidOptions(images="successful", prdc_k=3), cache_dir=tmp_path)
    ok = int(round(r["top1"] / 100 * 12))
    assert r["n_fid"] == ok and r["fid_images"] == "successful" and r["n"] == 12
    assert (ok >= 2) == (not math.isnan(r["fid"]))
    with pytest.raises(ValueError, match="fid_images"): evaluate_attack(E, x, y, s, priv, FidOptions(images="some"))


def test_table_csv_json(tmp_path):
    t = ResultsTable([dict(method="KEDMI", variant="LOM", public="same", top1=1 / 3, top1_std=math.nan, n=7, note="a,b \"q\"")])
    for back in (ResultsTable.from_csv(t.to_csv(tmp_path/"t.csv")), ResultsTable.from_json(t.to_json(tmp_path/"t.json"))):
        row = back[0]
        assert row["top1"] == 1 / 3 and math.isnan(row["top1_std"]) and row["n"] == 7 and row["note"] == "a,b \"q\""
        assert list(row) == list(t[0])


def test_intervals_from_a_results_file(tmp_path):
    "Per-identity hits survive results.json; intervals and paired differences computed from the file match the fresh ones."
    torch.manual_seed(0)
    E = build_classifier("tiny_vgg", 4, width=4, input_size=16)
    priv = (torch.rand(20, 3, 16, 16), torch.arange(20) % 4)
    y, s = torch.arange(12) % 4, torch.arange(12) // 4  # 4 identities x 3 seeds
    t = ResultsTable()
    for v in ("baseline", "LOM"):
        r = evaluate_attack(E, torch.rand(12, 3, 16, 16), y, s, priv)
        assert (r["ids"], r["seeds"]) == ([0, 1, 2, 3], [0, 1, 2])
        assert r["top1"] == pytest.approx(sum(h.count("1") for h in r["top1_hits"]) / 12 * 100)
        t.add("GMI", v, "same", **r)
    back = ResultsTable.from_json(t.to_json(tmp_path/"r.json")).add_intervals(ks=(1, 5))
    t.add_intervals(ks=(1, 5))
    assert all(a[k] == b[k] for a, b in zip(t.rows, back.rows) for k in ("top1_ci", "top5_ci"))
    assert back[1]["d_top1"] == pytest.approx(t[1]["top1"] - t[0]["top1"]) and "d_top1" not in back[0]
    one_seed = evaluate_attack(E, torch.rand(12, 3, 16, 16), y, None, priv)  # 3 reconstructions per identity, all "seed 0"
    assert "ids" not in one_seed
    with pytest.raises(ValueError, match="GMI x \\(public same\\) has no per-identity results"):
        ResultsTable([dict(method="GMI", variant="x", public="same", **one_seed)]).add_intervals()
