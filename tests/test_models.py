"""Maintainer checks of rethinkmi.models that are too slow for the notebook: the ten reference layouts.

Each reference layout (reference_layouts.json, every key and shape of the authors' released checkpoints) is
written as a synthetic checkpoint in the authors' format, loaded strictly with `load_reference`, and checked:
state-dict keys and shapes equal to the file's, output shapes equal to the reference ones, determinism in eval
mode, and that every tensor is used. Random weights make deep nets badly scaled (in IR-152 the residual stream
doubles at each of its 50 units when the running variances do not match the activations, drowning the early
layers' contributions), so before the "used" checks the BatchNorm running statistics are re-estimated on random
images, as a trained network's would match its activations. "Used" is then checked two ways:
- gradients: one backward pass of a random projection of all outputs; every parameter must get a nonzero
  gradient, except the convolution biases that feed an InstanceNorm (which cancels them, `dead_tensors`);
- perturbations (`unused_tensors`): each tensor in turn, running statistics included. For the generator and both
  discriminators every tensor; for the classifiers (up to 689 tensors, up to seconds per
  forward pass on a 2-core CPU) the running statistics of the last layers plus a random sample of 8 other
  tensors (their parameters are all covered by the gradient check).
"""
import json, random
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from rethinkmi.net_files import (REFERENCE_LAYOUTS, LayoutMismatchError, dead_tensors, fake_reference_checkpoint,
                                 load_reference, unused_tensors)

pytestmark = pytest.mark.numerics   # CI runs these again under other instruction sets and thread counts

LAYOUTS = json.loads((Path(__file__).parents[1]/"nbs"/"reference_layouts.json").read_text())
SMALL = {"Generator", "DGWGAN", "MinibatchDiscriminator"}
LAST = ("fc_layer.", "bn.", "output_layer.", "feature.output_layer.", "feature.0.8.")


@pytest.fixture(scope="module", params=REFERENCE_LAYOUTS)
def loaded(request, tmp_path_factory):
    "(arch, model loaded from a synthetic reference file, input batch of the reference shape)."
    arch, layout = request.param, LAYOUTS[request.param]
    path = fake_reference_checkpoint(layout["state_dict"], tmp_path_factory.mktemp(arch)/f"{arch}.tar", seed=0)
    torch.manual_seed(0)
    model = load_reference(arch, path, device="cpu")
    path.unlink()
    x = (torch.randn if arch == "Generator" else torch.rand)(layout["input_shape"])
    assert not model.training
    return arch, model, x


def _calibrate(model, x):
    "Re-estimate every BatchNorm's running statistics on the batch `x` (cumulative average), then back to eval mode."
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm): m.reset_running_stats(); m.momentum = None
    with torch.no_grad(): model.train()(x)
    return model.eval()


@pytest.fixture(scope="module")
def calibrated(loaded):
    "(arch, the loaded model with calibrated BatchNorm statistics, the input to check it on: 1 image for the big nets)."
    arch, model, x = loaded
    x_cal = (torch.randn if arch == "Generator" else torch.rand)(4, *x.shape[1:], generator=torch.Generator().manual_seed(2))
    return arch, _calibrate(model, x_cal), x if arch in SMALL else x[:1]


def _outs(model, x):
    out = model(x)
    return out if isinstance(out, tuple) else (out,)


def test_keys_shapes_outputs(loaded):
    arch, model, x = loaded
    assert not model.training
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == LAYOUTS[arch]["state_dict"]
    with torch.no_grad(): a, b = _outs(model, x), _outs(model, x)
    assert [list(o.shape) for o in a] == LAYOUTS[arch]["output_shapes"]
    assert all(torch.isfinite(o).all() for o in a)
    assert all(torch.equal(o, p) for o, p in zip(a, b))  # deterministic in eval mode


def test_every_parameter_has_a_gradient(calibrated):
    arch, model, x = calibrated
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    for p in model.parameters(): p.requires_grad_(True); p.grad = None  # VGG16's frozen BN bias too
    try:
        out = torch.cat([o.flatten() for o in _outs(model, x)])
        (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
        grads = {n: p.grad.abs().max().item() if p.grad is not None else 0. for n, p in model.named_parameters()}
    finally:
        for n, p in model.named_parameters(): p.requires_grad_(flags[n]); p.grad = None
    dead = set(dead_tensors(model))
    scale = max(grads.values())
    assert [n for n, g in grads.items() if g <= 1e-6 * scale and n not in dead] == []
    assert [n for n in dead if grads[n] > 1e-4 * scale] == []  # cancelled by InstanceNorm: (numerically) no gradient


def test_every_tensor_matters(calibrated):
    arch, model, x = calibrated
    names = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    if arch not in SMALL:
        last = [k for k in names if k.startswith(LAST) and k.endswith(("running_mean", "running_var"))]
        names = last + random.Random(0).sample([k for k in names if k not in last], 8)
    assert sorted(unused_tensors(model, x, names, seed=1)) == sorted(set(dead_tensors(model)) & set(names))


def test_mismatch_lists_keys(tmp_path):
    sd = dict(LAYOUTS["efficientnet_b0"]["state_dict"], **{"extra.weight": [3]})
    del sd["feature.0.8.0.weight"]
    sd["fc_layer.weight"] = [10, 1280]
    path = fake_reference_checkpoint(sd, tmp_path/"b0_bad.tar")
    with pytest.raises(LayoutMismatchError, match=r"b0_bad.tar as efficientnet_b0: .*1 missing: feature.0.8.0.weight; "
                                                  r"1 unexpected: extra.weight; 1 wrong shape: fc_layer.weight \(file \[10, 1280\], model \[1000, 1280\]\)"):
        load_reference("efficientnet_b0", path)
