"PLG-MI's GAN training (`rethinkmi.plgmi_gan`): views, the generator's loss, and the target left as it was."
from dataclasses import replace

import torch

from rethinkmi.core import seed_everything
from rethinkmi.models import build_classifier
from rethinkmi.plgmi import CondGenerator, ProjectionDiscriminator
from rethinkmi.plgmi_gan import PlgmiAugment, PlgmiRecipe, plgmi_augment, plgmi_g_loss, train_plgmi_gan
from rethinkmi.train_loop import TrainOptions

NONE = PlgmiAugment(scale=(1., 1.), degrees=0., brightness=0., contrast=0., jitter_p=0., flip_p=0.)


def test_closed_ranges_give_the_image_and_its_mirror():
    x = torch.rand(3, 3, 10, 10, dtype=torch.float64)
    g = lambda: torch.Generator().manual_seed(0)
    assert (plgmi_augment(x, g(), NONE) - x).abs().max() < 1e-12
    assert (plgmi_augment(x, g(), replace(NONE, flip_p=1.)) - x.flip(3)).abs().max() < 1e-12
    assert (plgmi_augment(x, g()) - x).abs().max() > 1e-3      # the default ranges do change it


def test_generator_loss_by_hand():
    total, adv, mm = plgmi_g_loss(torch.tensor([1., -2., 4.]), torch.tensor([[0., 3.], [2., 1.], [5., 5.]]),
                                  torch.tensor([1, 1, 0]), alpha=.5)
    # hinge: -(1 - 2 + 4)/3 = -1; max-margin: (0 - 3, 2 - 1, 5 - 5)/3 = -2/3
    assert torch.allclose(torch.stack([total, adv, mm]), torch.tensor([-1 - 1 / 3, -1., -2 / 3]))


def test_target_keeps_its_flags_mode_and_weights():
    seed_everything(0)
    T = build_classifier("tiny_vgg", 3, width=4, input_size=32)
    next(T.parameters()).requires_grad_(False)                 # mixed flags: each must come back as it was
    flags = [p.requires_grad for p in T.parameters()]
    before = [p.detach().clone() for p in T.parameters()]
    pairs = torch.rand(6, 3, 32, 32), torch.tensor([0, 0, 1, 1, 2, 2])
    G, D = CondGenerator(3, 8, 32, 4), ProjectionDiscriminator(3, 32, 4)
    train_plgmi_gan(G, D, T, pairs, TrainOptions(epochs=1, batch_size=3, device="cpu"), PlgmiRecipe(n_dis=1))
    assert [p.requires_grad for p in T.parameters()] == flags and T.training
    assert all(p.grad is None and torch.equal(p, b) for p, b in zip(T.parameters(), before))
