"""Time one training epoch of each paper-scale classifier at batch 64 on 64x64 inputs (FaceNet: its native 112x112),
with AMP (bfloat16 autocast + channels_last) on and off, through `rethinkmi.training.train_classifier`.
An "epoch" is the paper's private training set, 27,000 images = 422 steps of 64; to keep the run short we time
`--steps` steps on random images after a warm-up and scale to 422 steps. Prints one JSON line per model.
usage: python tools/gpu_time_models.py [--steps 60] [--archs VGG16,IR152,...]"""
import argparse, json, time
import torch
from rethinkmi.models import build_classifier
from rethinkmi.train_loop import TrainOptions
from rethinkmi.training import train_classifier

ARCHS = ["VGG16", "IR152", "FaceNet64", "FaceNet", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2",
         "densenet121", "densenet161", "densenet169"]

def time_steps(arch, steps, amp, device, n_classes=1000, bs=64):
    "Seconds for `steps` training steps of `arch` (after one warm-up epoch of 5 steps)."
    model = build_classifier(arch, n_classes)
    side = model.input_size
    x = torch.rand(bs * steps, 3, side, side); y = torch.randint(0, n_classes, (bs * steps,))
    train_classifier(model, (x[:bs * 5], y[:bs * 5]), opts=TrainOptions(1, device=device, amp=amp, channels_last=amp), flip=False)
    if device.type == "cuda": torch.cuda.synchronize()
    t0 = time.perf_counter()
    train_classifier(model, (x, y), opts=TrainOptions(1, device=device, amp=amp, channels_last=amp), flip=False)
    if device.type == "cuda": torch.cuda.synchronize()
    return time.perf_counter() - t0, side

if __name__ == "__main__":
    p = argparse.ArgumentParser(); p.add_argument("--steps", type=int, default=60); p.add_argument("--archs", default=",".join(ARCHS))
    a = p.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    for arch in a.archs.split(","):
        row = dict(arch=arch, device=name, steps_timed=a.steps, batch=64)
        for amp in (False, True):
            s, side = time_steps(arch, a.steps, amp, dev)
            row.update(input=side, **{f"epoch_s_{'amp' if amp else 'fp32'}": round(s / a.steps * 422, 2)})
        row["amp_speedup"] = round(row["epoch_s_fp32"] / row["epoch_s_amp"], 2)
        print(json.dumps(row), flush=True)
