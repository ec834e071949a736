"StyleGAN2 files: the rosinality `g_ema` key layout pinned independently of the module, and files that must be refused."
import argparse, math

import pytest
import torch

from rethinkmi.core import CheckpointError
from rethinkmi.stylegan import StyleGANConfig, StyleGenerator, load_stylegan, save_stylegan


def rosinality_keys(size: int, n_mlp: int) -> set[str]:
    "The state-dict keys of rosinality's `Generator(size, style_dim, n_mlp)`, enumerated from its layout."
    mod = lambda p: {f"{p}.weight", f"{p}.modulation.weight", f"{p}.modulation.bias"}
    keys = {k for i in range(1, n_mlp + 1) for k in (f"style.{i}.weight", f"style.{i}.bias")} | {"input.input"}
    keys |= mod("conv1.conv") | {"conv1.noise.weight", "conv1.activate.bias"} | mod("to_rgb1.conv") | {"to_rgb1.bias"}
    n_res = int(math.log2(size)) - 2
    for i in range(2 * n_res):
        keys |= mod(f"convs.{i}.conv") | {f"convs.{i}.noise.weight", f"convs.{i}.activate.bias"} | ({f"convs.{i}.conv.blur.kernel"} if i % 2 == 0 else set())
    for j in range(n_res):
        keys |= mod(f"to_rgbs.{j}.conv") | {f"to_rgbs.{j}.bias", f"to_rgbs.{j}.upsample.kernel"}
    return keys | {f"noises.noise_{k}" for k in range(2 * n_res + 1)}


@pytest.mark.parametrize("size", [32, 64])
def test_key_layout(size):
    G = StyleGenerator(StyleGANConfig(size=size, style_dim=8, n_mlp=3, channel_max=8, channel_base=128))
    assert set(G.state_dict()) == rosinality_keys(size, 3)
    assert G.state_dict()["conv1.conv.weight"].shape == (1, 8, 8, 3, 3) and G.state_dict()["to_rgbs.0.conv.weight"].shape == (1, 3, 8, 1, 1)


def test_training_checkpoint_with_python_objects_is_refused(tmp_path):
    "A rosinality training checkpoint carries `args` (an argparse.Namespace): refused, never unpickled; its g_ema alone loads."
    G = StyleGenerator(StyleGANConfig(size=16, style_dim=8, n_mlp=2, channel_max=8, channel_base=64))
    torch.save({"g_ema": G.state_dict(), "args": argparse.Namespace(size=16)}, tmp_path/"train.pt")
    with pytest.raises(CheckpointError, match="train.pt: refused, the file holds pickled Python objects"):
        load_stylegan(tmp_path/"train.pt")
    torch.save({"g_ema": G.state_dict()}, tmp_path/"g_ema.pt")
    G2 = load_stylegan(tmp_path/"g_ema.pt", device="cpu")
    assert G2.w_avg is None and torch.equal(G2(torch.ones(1, 8)), G.eval()(torch.ones(1, 8)).detach())


def test_wrong_shapes_name_the_file_and_keys(tmp_path):
    G = StyleGenerator(StyleGANConfig(size=16, style_dim=8, n_mlp=2, channel_max=8, channel_base=64))
    sd = G.state_dict(); sd["conv1.conv.modulation.weight"] = torch.zeros(4, 8)
    torch.save({"g_ema": sd}, tmp_path/"bad.pt")
    with pytest.raises(CheckpointError, match=r"bad.pt as a StyleGAN2 g_ema .*1 wrong shape: conv1.conv.modulation.weight \(file \[4, 8\], model \[8, 8\]\)"):
        load_stylegan(tmp_path/"bad.pt")
    save_stylegan(G, tmp_path/"ok.pt")
    assert load_stylegan(tmp_path/"ok.pt").w_avg.shape == (8,)
