"""The `rethinkmi` experiment commands end to end on fabricated CelebA-format data (tiny networks, seconds), the
`--config` reruns, and bad inputs: one clear line on stderr and exit status 1, never a traceback."""
import contextlib, io, json, subprocess, sys
from pathlib import Path

import pytest
import torch

from rethinkmi.cli import main
from rethinkmi.core import load_checkpoint
from rethinkmi.protocol import fake_celeba
from rethinkmi.runs import read_run


def cli(*args) -> tuple[int, str, str]:
    "Run `rethinkmi <args>` in this process: (exit status, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def ok(*args) -> str:
    rc, out, err = cli(*args)
    assert rc == 0, err
    return out


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    "Every stage of the protocol through the CLI, once: data, target, evaluation model, GANs, students, P_reg."
    tmp = tmp_path_factory.mktemp("cli")
    data = fake_celeba(tmp/"celeba")
    common = ["--device", "cpu", "--seed", "0"]
    split = lambda s: data/f"{s}.txt"
    ok("train-classifier", tmp/"target", "--train", split("train"), "--test", split("test"), "--root", data, "--arch", "tiny_vgg",
       "--n_classes", 4, "--width", 4, "--size", 32, "--epochs", 2, "--batch_size", 8, *common)
    ok("train-classifier", tmp/"eval", "--train", split("train"), "--root", data, "--arch", "tiny_resnet", "--n_classes", 4,
       "--width", 4, "--size", 32, "--epochs", 2, "--batch_size", 8, *common)
    gan = ["--public", split("public"), "--root", data, "--size", 32, "--width", 4, "--epochs", 1, "--batch_size", 8, "--n_critic", 2]
    ok("train-gan", tmp/"gmi", "--kind", "gmi", *gan, *common)
    ok("train-gan", tmp/"kedmi", "--kind", "kedmi", "--target", tmp/"target/model.pt", *gan, *common)
    ok("train-gan", tmp/"plgmi", "--kind", "plgmi", "--target", tmp/"target/model.pt", "--top_n", 5, *gan, *common)
    ok("distill", tmp/"students", "--target", tmp/"target/model.pt", "--public", split("public"), "--root", data,
       "--archs", "tiny_student:2,tiny_student:3", "--size", 32, "--epochs", 1, "--batch_size", 8, "--l2_weight", 0.5,
       "--test", split("test"), *common)
    ok("preg", tmp/"preg", "--target", tmp/"target/model.pt", "--public", split("public"), "--root", data, "--n", 20, *common)
    students = ",".join(str(p) for p in sorted((tmp/"students").glob("student*.pt")))
    attack = ["--target", tmp/"target/model.pt", "--students", students, "--p_reg", tmp/"preg/p_reg.pt", "--ids", "0-3",
              "--n_seeds", 2, "--iters", 3, *common]
    return dict(tmp=tmp, data=data, attack=attack, common=common)


def test_training_stages_write_their_files(chain):
    tmp = chain["tmp"]
    for run, files in [("target", ["model.pt"]), ("gmi", ["G.pt", "D.pt"]), ("kedmi", ["G.pt", "D.pt"]), ("plgmi", ["G.pt", "D.pt"]), ("preg", ["p_reg.pt"]),
                       ("students", ["student0-tiny_student.pt", "student1-tiny_student.pt"])]:
        for f in files: assert (tmp/run/f).is_file(), (run, f)
        rec = read_run(tmp/run)
        assert rec["status"] == "done" and rec["seed"] == 0 and rec["environment"]["torch"] == torch.__version__
    assert not list(tmp.rglob("train.ckpt"))  # epoch checkpoints are removed once the result is saved
    assert read_run(tmp/"students")["arguments"]["l2_weight"] == 0.5


def test_attack_and_evaluate(chain):
    tmp = chain["tmp"]
    ok("attack", tmp/"a-gmi", "--G", tmp/"gmi/G.pt", "--D", tmp/"gmi/D.pt", "--method", "gmi", "--variant", "lomma+l2", *chain["attack"])
    ok("attack", tmp/"a-kedmi", "--G", tmp/"kedmi/G.pt", "--D", tmp/"kedmi/D.pt", "--method", "kedmi", "--variant", "lom",
       "--public", "shifted", *chain["attack"])
    x = load_checkpoint(tmp/"a-kedmi/images.pt", unwrap=False)
    assert x["images"].shape == (4, 2, 3, 32, 32) and x["images"].dtype == torch.uint8 and x["labels"].tolist() == [0, 1, 2, 3]
    ok("attack", tmp/"a-gmi-base", "--G", tmp/"gmi/G.pt", "--D", tmp/"gmi/D.pt", "--method", "gmi", "--variant", "baseline", *chain["attack"])
    ok("evaluate", tmp/"ev", "--attacks", f"{tmp/'a-gmi'},{tmp/'a-kedmi'},{tmp/'a-gmi-base'}", "--eval_model", tmp/"eval/model.pt",
       "--private", chain["data"]/"train.txt", "--root", chain["data"], "--convention", "both", *chain["common"])
    rows = json.loads((tmp/"ev/results.json").read_text())
    assert [(r["method"], r["variant"], r["public"]) for r in rows] == [("GMI", "LOMMA+L2", "same"), ("KEDMI", "LOM", "shifted"), ("GMI", "baseline", "same")]
    assert all(0 <= r["top1"] <= 100 and r["knn"] >= 0 and r["n"] == 8 for r in rows)
    assert all(r["top1_ci"][0] <= r["top1"] <= r["top1_ci"][1] and r["ids"] == [0, 1, 2, 3] and r["seeds"] == [0, 1] for r in rows)
    assert [("d_top1" in r) for r in rows] == [True, False, False]  # paired with the GMI baseline; KEDMI has none
    assert rows[0]["d_top1"] == pytest.approx(rows[0]["top1"] - rows[2]["top1"])
    head = (tmp/"ev/results.md").read_text().splitlines()[0]
    assert "top-1 (%) ± std over seeds [95% CI over identities]" in head and "Δ top-1 vs baseline" in head and "authors' std" in head
    assert sorted(p.name for p in (tmp/"ev/grids").iterdir()) == ["a-gmi-base.png", "a-gmi.png", "a-kedmi.png"]


def test_config_reruns_a_recorded_attack(chain):
    tmp = chain["tmp"]
    ok("attack", tmp/"b", "--G", tmp/"gmi/G.pt", "--D", tmp/"gmi/D.pt", "--method", "gmi", "--variant", "baseline", *chain["attack"])
    ok("attack", tmp/"b2", "--config", tmp/"b")                         # the same run, into another folder
    ok("attack", tmp/"b3", "--config", tmp/"b/run.json", "--seed", 1)   # an option beside --config wins
    img = lambda d: load_checkpoint(tmp/d/"images.pt", unwrap=False)["images"]
    assert torch.equal(img("b"), img("b2")) and not torch.equal(img("b"), img("b3"))
    assert read_run(tmp/"b3")["arguments"]["variant"] == "baseline" and read_run(tmp/"b3")["seed"] == 1


def test_demo_from_a_recorded_config(tmp_path, tiny_demo_record):
    "`rethinkmi demo --config` takes the full settings from a record (here: a tiny demo, so it runs in seconds)."
    record, s = tiny_demo_record
    out = ok("demo", "--config", record, "--out", tmp_path/"demo")
    rows = json.loads((tmp_path/"demo/results.json").read_text())
    assert len(rows) == 8 and "| + LOMMA+L2 |" in out
    assert read_run(tmp_path/"demo", "demo")["arguments"]["settings"] == s


@pytest.mark.parametrize("case, args, message", [
    ("missing file", ["--target", "{tmp}/nope.pt", "--variant", "baseline"], "nope.pt: no such checkpoint file"),
    ("identity out of range", ["--ids", "0-4"], "identity 4 out of range: the target has 4 classes (0..3)"),
    ("wrong number of classes", ["--D", "{tmp}/wrong_D.pt"], "the discriminator has 5 classes, the target 4"),
    ("variant without students", ["--students", ""], "variant 'lomma' attacks students too: give --students"),
    ("bad identities", ["--ids", "zero"], "identities must look like '0-299' or '0,3,9'"),
])
def test_bad_attack_inputs(chain, case, args, message):
    tmp = chain["tmp"]
    if case == "wrong number of classes":
        from rethinkmi.net_files import build_net, save_net
        kw = dict(n_classes=5, size=32, width=4, group_size=8)
        save_net(build_net("MinibatchDiscriminator", **kw), tmp/"wrong_D.pt", "MinibatchDiscriminator", **kw)
    base = ["attack", tmp/"bad", "--G", tmp/"kedmi/G.pt", "--D", tmp/"kedmi/D.pt", "--method", "kedmi", "--variant", "lomma", *chain["attack"]]
    for i in range(0, len(args), 2): base = base + [args[i], args[i + 1].format(tmp=tmp)]  # later options win in argparse
    rc, out, err = cli(*base)
    assert rc == 1, (case, err)
    assert err.count("\n") == 1 and err.startswith("rethinkmi attack: error: ") and message in err, err
    assert not (tmp/"bad").exists()  # nothing was started


@pytest.mark.parametrize("args, message", [
    (["train-classifier", "{tmp}/x", "--train", "{data}/train.txt", "--root", "{data}", "--arch", "tiny_vgg", "--size", "32", "--n_classes", "3"],
     "train.txt: labels span 0..3, but there are 3 classes"),
    (["train-classifier", "{tmp}/x", "--train", "{data}/absent.txt", "--root", "{data}", "--arch", "tiny_vgg"], "absent.txt: no such split file"),
    (["train-classifier", "{tmp}/x", "--train", "{data}/train.txt", "--root", "{tmp}", "--arch", "tiny_vgg"], "train.txt:1: image"),
    (["train-classifier", "{tmp}/x", "--train", "{data}/train.txt", "--root", "{data}", "--arch", "IR999"], "unknown classifier 'IR999'"),
    (["train-gan", "{tmp}/x", "--public", "{data}/public.txt", "--root", "{data}", "--kind", "kedmi"], "give --target"),
    (["train-gan", "{tmp}/x", "--public", "{data}/public.txt", "--root", "{data}", "--kind", "plgmi"],
     "a PLG-MI GAN learns the public images the target labels: give --target"),
    (["train-gan", "{tmp}/x", "--public", "{data}/public.txt", "--root", "{data}", "--kind", "plgmi", "--target", "{tmp}/target/model.pt",
      "--size", "32", "--top_n", "50"], "top-n selection keeps n=50 images per class, but the public set has only 24 images: take n <= 24"),
    (["evaluate", "{tmp}/x", "--attacks", "{tmp}/nowhere", "--eval_model", "{tmp}/eval/model.pt", "--private", "{data}/train.txt", "--root", "{data}"],
     "no such run record"),
    (["preg", "{tmp}/x", "--target", "{tmp}/gmi/G.pt", "--public", "{data}/public.txt", "--root", "{data}"], "G.pt: holds a Generator, not a classifier"),
])
def test_bad_inputs_of_other_commands(chain, args, message):
    rc, out, err = cli(*[a.format(tmp=chain["tmp"], data=chain["data"]) for a in args])
    assert rc == 1 and err.count("\n") == 1 and message in err, err
    assert not (chain["tmp"]/"x").exists()


def test_entry_point_exit_status(tmp_path):
    "The installed `rethinkmi` program: a usage error exits 2, a bad input 1 with one line, no traceback."
    exe = Path(sys.executable).with_name("rethinkmi")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from rethinkmi.cli import main; sys.exit(main())"]
    r = subprocess.run(cmd + ["attack", str(tmp_path/"a"), "--target", "t", "--G", "g", "--D", "d", "--variant", "baseline"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr == "rethinkmi attack: error: t: no such checkpoint file\n", r.stderr
    r = subprocess.run(cmd + ["attack", str(tmp_path/"a"), "--target", "t", "--G", "g", "--D", "d", "--variant", "nope"], capture_output=True, text=True)
    assert r.returncode == 2 and "argument --variant: invalid choice: 'nope'" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(cmd + ["attack"], capture_output=True, text=True)
    assert r.returncode == 2 and "required" in r.stderr


def test_attack_with_reference_format_checkpoints(tmp_path):
    "The authors' file formats ({'state_dict'} with `module.` keys; P_reg as {'fea_mean', 'fea_logvar'}) go straight into `attack`."
    from rethinkmi.net_files import fake_reference_checkpoint
    layouts = json.loads((Path(__file__).parents[1]/"nbs"/"reference_layouts.json").read_text())
    for name, file in [("VGG16", "VGG16_88.26.tar"), ("Generator", "improved_celeba_G.tar"), ("MinibatchDiscriminator", "improved_celeba_D.tar")]:
        fake_reference_checkpoint(layouts[name]["state_dict"], tmp_path/file)
    torch.save({"fea_mean": torch.zeros(1, 2048), "fea_logvar": torch.ones(1, 2048)}, tmp_path/"celeba_VGG16_p_reg.pt")
    rc, out, err = cli("attack", tmp_path/"a", "--target", tmp_path/"VGG16_88.26.tar", "--G", tmp_path/"improved_celeba_G.tar",
                       "--D", tmp_path/"improved_celeba_D.tar", "--method", "kedmi", "--variant", "baseline", "--ids", "0,999",
                       "--n_seeds", 1, "--iters", 2, "--device", "cpu")
    assert rc == 1 and "no rethinkmi record" in err  # the target's layout must be named
    ok("attack", tmp_path/"a", "--target", tmp_path/"VGG16_88.26.tar", "--target_arch", "VGG16", "--G", tmp_path/"improved_celeba_G.tar",
       "--D", tmp_path/"improved_celeba_D.tar", "--method", "kedmi", "--variant", "lom", "--p_reg", tmp_path/"celeba_VGG16_p_reg.pt",
       "--ids", "0,999", "--n_seeds", 1, "--iters", 2, "--device", "cpu")
    x = load_checkpoint(tmp_path/"a/images.pt", unwrap=False)
    assert x["images"].shape == (2, 1, 3, 64, 64) and x["labels"].tolist() == [0, 999]


def test_reference_protocol(chain, tmp_path, monkeypatch):
    """`--protocol reference` on attack, distill and evaluate, recorded in run.json; the distillation reads the authors'
    split files and starts an EfficientNet-B0 from a stand-in of torchvision's cached ImageNet file (never downloaded)."""
    import torchvision
    from rethinkmi.distill import imagenet_file
    tmp, data = chain["tmp"], chain["data"]
    ked = ["--G", tmp/"kedmi/G.pt", "--D", tmp/"kedmi/D.pt", "--method", "kedmi", "--variant", "lomma"]
    ok("attack", tmp_path/"a", *ked, "--protocol", "reference", *chain["attack"])
    rec = read_run(tmp_path/"a")
    assert rec["arguments"]["protocol"] == "reference" and rec["protocol"] == dict(name="reference", p_reg_mode="fixed", kedmi_group=60, amp=False)
    ok("attack", tmp_path/"a2", *ked, "--protocol", "reference", "--p_reg_mode", "sample", "--amp", *chain["attack"])  # explicit settings win
    assert read_run(tmp_path/"a2")["protocol"] == dict(name="reference", p_reg_mode="sample", kedmi_group=60, amp=True)
    ok("attack", tmp_path/"a3", *ked, *chain["attack"])
    assert read_run(tmp_path/"a3")["protocol"] == dict(name="ours", p_reg_mode="sample", kedmi_group=8, amp=False)  # D's training batch
    ok("evaluate", tmp_path/"ev", "--attacks", tmp_path/"a", "--eval_model", tmp/"eval/model.pt", "--private", data/"train.txt",
       "--root", data, "--protocol", "reference", *chain["common"])
    assert read_run(tmp_path/"ev")["protocol"] == dict(name="reference", convention="authors")
    assert "authors' std" in (tmp_path/"ev/results.md").read_text()

    meta = tmp_path/"meta"; meta.mkdir()  # the authors' split files: "<image> <label>" / "<image>" lines
    (meta/"testset.txt").write_text((data/"test.txt").read_text()); (meta/"ganset.txt").write_text((data/"public.txt").read_text())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path/"torch"))
    dist = ["--target", tmp/"target/model.pt", "--public", meta/"ganset.txt", "--test", meta/"testset.txt", "--root", data,
            "--archs", "efficientnet_b0", "--size", 32, "--epochs", 1, "--batch_size", 8, "--protocol", "reference", *chain["common"]]
    rc, out, err = cli("distill", tmp_path/"s", *dist)
    path = tmp_path/"torch/hub/checkpoints"/imagenet_file("efficientnet_b0")[1].rsplit("/", 1)[1]
    assert rc == 1 and err.count("\n") == 1 and f"{path}: no such file" in err and "IMAGENET1K_V1" in err, err
    assert not (tmp_path/"s").exists()  # nothing was started
    path.parent.mkdir(parents=True); torch.save(torchvision.models.efficientnet_b0().state_dict(), path)
    ok("distill", tmp_path/"s", *dist)
    rec = read_run(tmp_path/"s")
    reference = dict(name="reference", amp=False, pretrained=True, schedule="step", flip=False, l2_weight=0.0,
                     student_lr=0.01, student_epochs_celeba=1, student_epochs_ffhq=20)
    assert rec["protocol"] == reference and rec["test_top1"][0] is not None
    report = ["--target", tmp/"target/model.pt", "--public", meta/"ganset.txt", "--root", data, "--archs", "tiny_student:2",
              "--size", 32, "--epochs", 1, "--batch_size", 8, "--no-pretrained", "--protocol", "report", *chain["common"]]
    ok("distill", tmp_path/"s3", *report)  # the report's students: its L2 term, rate and schedule, recorded
    assert read_run(tmp_path/"s3")["protocol"] == reference | dict(name="report", pretrained=False, l2_weight=1.0,
                                                                   student_lr=0.02, student_epochs_ffhq=50)
    rc, out, err = cli("distill", tmp_path/"s2", *dist[:-6], "--archs", "tiny_student:2", "--protocol", "reference", *chain["common"])
    assert rc == 1 and "tiny_student has no ImageNet weights" in err and "--no-pretrained" in err, err
def test_stylegan_attack(chain):
    "`attack --method stylegan` with a synthetic-weight generator in the rosinality `g_ema` layout, drawing 64 x 64 for a 32 x 32 target."
    from rethinkmi.stylegan import StyleGANConfig, StyleGenerator, save_stylegan
    tmp = chain["tmp"]
    torch.manual_seed(0)
    save_stylegan(StyleGenerator(StyleGANConfig(size=64, style_dim=16, n_mlp=2, channel_max=16, channel_base=256)), tmp/"style.pt")
    for space in ("w", "z"):
        ok("attack", tmp/f"a-style-{space}", "--G", tmp/"style.pt", "--method", "stylegan", "--space", space, "--variant", "lomma", *chain["attack"])
        x = load_checkpoint(tmp/f"a-style-{space}/images.pt", unwrap=False)
        assert x["images"].shape == (4, 2, 3, 64, 64) and x["labels"].tolist() == [0, 1, 2, 3]
        assert read_run(tmp/f"a-style-{space}")["method"] == f"StyleGAN2 {space}"
    assert load_checkpoint(tmp/"a-style-w/attack.pt", unwrap=False)["z"].shape == (4, 2, 16)
    ok("evaluate", tmp/"ev-style", "--attacks", tmp/"a-style-w", "--eval_model", tmp/"eval/model.pt",
       "--private", chain["data"]/"train.txt", "--root", chain["data"], *chain["common"])
    assert json.loads((tmp/"ev-style/results.json").read_text())[0]["method"] == "StyleGAN2 w"
    rc, _, err = cli("attack", tmp/"bad-style", "--G", tmp/"gmi/G.pt", "--method", "stylegan", *chain["attack"])
    assert rc == 1 and "G.pt: not a StyleGAN2 generator file" in err and err.count("\n") == 1, err


def test_plgmi_train_attack_evaluate(chain):
    "`train-gan --kind plgmi` (in the chain) feeds `attack --method plgmi` (no --D), whose folder `evaluate` reads as any other."
    tmp = chain["tmp"]
    rec = read_run(tmp/"plgmi")
    assert rec["arguments"]["kind"] == "plgmi" and rec["arguments"]["top_n"] == 5 and "g_margin" in rec["last_epoch"]
    from rethinkmi.net_files import load_net
    G, D = load_net(tmp/"plgmi/G.pt"), load_net(tmp/"plgmi/D.pt")
    assert (type(G).__name__, type(D).__name__, G.n_classes, D.n_classes, G.z_dim, G.size) == \
        ("CondGenerator", "ProjectionDiscriminator", 4, 4, 128, 32)
    ok("attack", tmp/"a-plgmi", "--G", tmp/"plgmi/G.pt", "--method", "plgmi", "--variant", "lomma", *chain["attack"])
    ok("attack", tmp/"a-plgmi-base", "--G", tmp/"plgmi/G.pt", "--method", "plgmi", "--variant", "baseline", *chain["attack"])
    x = load_checkpoint(tmp/"a-plgmi/images.pt", unwrap=False)
    assert x["images"].shape == (4, 2, 3, 32, 32) and x["images"].dtype == torch.uint8 and x["labels"].tolist() == [0, 1, 2, 3]
    assert load_checkpoint(tmp/"a-plgmi/attack.pt", unwrap=False)["z"].shape == (4, 2, 128)
    assert read_run(tmp/"a-plgmi")["method"] == "PLG-MI" and read_run(tmp/"a-plgmi")["arguments"]["D"] is None
    ok("evaluate", tmp/"ev-plgmi", "--attacks", f"{tmp/'a-plgmi'},{tmp/'a-plgmi-base'}", "--eval_model", tmp/"eval/model.pt",
       "--private", chain["data"]/"train.txt", "--root", chain["data"], *chain["common"])
    rows = json.loads((tmp/"ev-plgmi/results.json").read_text())
    assert [(r["method"], r["variant"], r["n"]) for r in rows] == [("PLG-MI", "LOMMA", 8), ("PLG-MI", "baseline", 8)]
    assert [("d_top1" in r) for r in rows] == [True, False]  # paired with the PLG-MI baseline


@pytest.mark.parametrize("G, message", [
    ("gmi/G.pt", "gmi/G.pt: holds a Generator, not a CondGenerator"),  # GMI's generator given to --method plgmi
    ("plgmi5/G.pt", "plgmi5/G.pt: the conditional generator has 5 classes, the target 4"),
])
def test_bad_plgmi_attack_inputs(chain, G, message):
    tmp = chain["tmp"]
    if G.startswith("plgmi5"):  # PLG-MI's generator of a 5-class target
        from rethinkmi.net_files import save_net
        from rethinkmi.plgmi import CondGenerator
        kw = dict(n_classes=5, z_dim=128, size=32, width=4)
        (tmp/"plgmi5").mkdir(exist_ok=True)
        save_net(CondGenerator(**kw), tmp/"plgmi5/G.pt", "CondGenerator", **kw)
    rc, out, err = cli("attack", tmp/"bad", "--G", tmp/G, "--method", "plgmi", "--variant", "lomma", *chain["attack"])
    assert rc == 1 and err.count("\n") == 1 and err.startswith("rethinkmi attack: error: ") and message in err, err
    assert not (tmp/"bad").exists()


def test_plgmi_gan_resumes_from_its_checkpoint(chain, monkeypatch):
    """A `train-gan --kind plgmi` stopped after training keeps `train.ckpt`: a rerun with other settings is refused, the same
    one resumes and ends with the weights of the uninterrupted run (the chain's)."""
    import rethinkmi.protocol
    tmp = chain["tmp"]
    args = ["train-gan", tmp/"plgmi-resume", "--kind", "plgmi", "--target", tmp/"target/model.pt", "--top_n", 5, "--public",
            chain["data"]/"public.txt", "--root", chain["data"], "--size", 32, "--width", 4, "--epochs", 1, "--batch_size", 8,
            "--n_critic", 2, *chain["common"]]
    def disk_full(*a, **k): raise OSError(28, "No space left on device")
    monkeypatch.setattr(rethinkmi.protocol, "save_net", disk_full)
    rc, _, err = cli(*args)
    assert rc == 1 and (tmp/"plgmi-resume/train.ckpt").is_file() and not (tmp/"plgmi-resume/G.pt").exists(), err
    monkeypatch.undo()
    rc, _, err = cli(*args, "--alpha", 0.5)
    assert rc == 1 and "train.ckpt: this checkpoint was written with other settings" in err and "alpha" in err, err
    ok(*args)
    assert not (tmp/"plgmi-resume/train.ckpt").exists()
    sd = lambda d: load_checkpoint(tmp/d/"G.pt", unwrap=False)["state_dict"]
    assert all(torch.equal(v, sd("plgmi")[k]) for k, v in sd("plgmi-resume").items())


def test_blackbox_attack_and_evaluate(chain):
    "A black-box method through the CLI: its budget per identity, the queries in run.json and results.json."
    tmp = chain["tmp"]
    ids = ["--target", tmp/"target/model.pt", "--ids", "0-3", "--n_seeds", 2, *chain["common"]]
    ok("attack", tmp/"bb", "--G", tmp/"gmi/G.pt", "--method", "random", "--variant", "baseline", "--iters", 5, *ids)
    rec = read_run(tmp/"bb")   # 16 candidates per identity per step
    assert rec["method"] == "Random search" and rec["queries"] == [80] * 4 and rec["stopped"] is None
    rc, out, err = cli("attack", tmp/"bb-spent", "--G", tmp/"gmi/G.pt", "--method", "random", "--variant", "baseline",
                       "--iters", 5, "--queries", 20, *ids)
    assert rc == 0 and "the budget of 20 queries per identity is spent at step 1/5" in err, err
    assert read_run(tmp/"bb-spent")["queries"] == [16] * 4
    ok("evaluate", tmp/"ev-bb", "--attacks", f"{tmp/'bb'},{tmp/'bb-spent'}", "--eval_model", tmp/"eval/model.pt",
       "--private", chain["data"]/"train.txt", "--root", chain["data"], *chain["common"])
    rows = json.loads((tmp/"ev-bb/results.json").read_text())
    assert [(r["method"], r["queries"]) for r in rows] == [("Random search", 80), ("Random search", 16)]


@pytest.mark.parametrize("args, message", [
    (["--queries", "0"], "--queries must be at least 1 per identity, got 0"),
    (["--queries", "-5"], "--queries must be at least 1 per identity, got -5"),
    (["--variant", "lomma"], "random sees the target through an oracle: it runs --variant baseline or ma"),
    (["--p_reg", "{tmp}/preg/p_reg.pt"], "without --p_reg"),
    (["--method", "gmi", "--D", "{tmp}/gmi/D.pt", "--queries", "10"], "--queries and --top_k are for black-box methods"),
])
def test_bad_blackbox_inputs(chain, args, message):
    tmp = chain["tmp"]
    base = ["attack", tmp/"bad-bb", "--G", tmp/"gmi/G.pt", "--method", "random", "--variant", "baseline",
            "--target", tmp/"target/model.pt", "--ids", "0-3", *chain["common"]]
    rc, out, err = cli(*base, *[a.format(tmp=tmp) for a in args])
    assert rc == 1 and err.count("\n") == 1 and message in err, err
    assert not (tmp/"bad-bb").exists()


@pytest.mark.parametrize("method, G, name", [("brepmi", "gmi/G.pt", "BREP-MI"), ("c2fmi", "style-bb.pt", "C2FMI")])
def test_blackbox_methods_through_the_cli(chain, method, G, name):
    "BREP-MI (GMI's generator) and C2FMI (a StyleGAN2 file) with a budget, then `evaluate` on their folders."
    from rethinkmi.stylegan import StyleGANConfig, StyleGenerator, save_stylegan
    tmp = chain["tmp"]
    torch.manual_seed(0)
    save_stylegan(StyleGenerator(StyleGANConfig(size=32, style_dim=8, n_mlp=2, channel_max=8, channel_base=64)),
                  tmp/"style-bb.pt")
    ok("attack", tmp/f"bb-{method}", "--G", tmp/G, "--method", method, "--variant", "baseline", "--iters", 3,
       "--queries", 5000, "--target", tmp/"target/model.pt", "--ids", "0-3", "--n_seeds", 2, *chain["common"])
    rec = read_run(tmp/f"bb-{method}")
    assert rec["method"] == name and len(rec["queries"]) == 4 and max(rec["queries"]) <= 5000
    x = load_checkpoint(tmp/f"bb-{method}/images.pt", unwrap=False)
    assert x["images"].shape == (4, 2, 3, 32, 32) and x["labels"].tolist() == [0, 1, 2, 3]
    ok("evaluate", tmp/f"ev-{method}", "--attacks", tmp/f"bb-{method}", "--eval_model", tmp/"eval/model.pt",
       "--private", chain["data"]/"train.txt", "--root", chain["data"], *chain["common"])
    row = json.loads((tmp/f"ev-{method}/results.json").read_text())[0]
    assert row["method"] == name and row["queries"] == sum(rec["queries"]) / 4


def _defended(chain, out, *defense) -> tuple[int, str, str]:
    "train-classifier with a defense on the fabricated data."
    data, split = chain["data"], lambda s: chain["data"]/f"{s}.txt"
    return cli("train-classifier", chain["tmp"]/out, "--train", split("train"), "--test", split("test"), "--root", data,
               "--arch", "tiny_vgg", "--n_classes", 4, "--width", 4, "--size", 32, "--epochs", 1, "--batch_size", 8,
               *defense, *chain["common"])


def test_defended_targets_train_and_are_attacked(chain):
    "Each defense trains through the CLI, records its strength; an attack loads the MID target like any other."
    tmp = chain["tmp"]
    for out, args, used in [("mid", ["--defense", "mid", "--beta", 0.05], {"defense": "mid", "beta": 0.05}),
                            ("bido", ["--defense", "bido", "--measure", "coco"],
                             {"defense": "bido", "lambda_x": 1.0, "lambda_y": 10.0, "measure": "coco", "sigma": 0.5}),
                            ("nls", ["--defense", "nls", "--alpha", -0.1], {"defense": "nls", "alpha": -0.1}),
                            ("tl", ["--defense", "tl", "--tuned", 2, "--init", tmp/"target/model.pt"],
                             {"defense": "tl", "tuned": 2})]:
        rc, _, err = _defended(chain, out, *args)
        assert rc == 0, err
        rec = read_run(tmp/out)
        assert rec["defense"] == used and rec["arguments"]["defense"] == used["defense"], out
    attack = [a if a != tmp/"target/model.pt" else tmp/"mid/model.pt" for a in chain["attack"]]
    i = attack.index("--p_reg")
    del attack[i:i + 2]   # P_reg is the plain target's: features of another size (LOMMA would need the MID one's)
    ok("attack", tmp/"att-mid", "--G", tmp/"gmi/G.pt", "--D", tmp/"gmi/D.pt", "--method", "gmi", "--variant", "ma",
       *attack)
    x = load_checkpoint(tmp/"att-mid/images.pt", unwrap=False)
    assert x["images"].shape == (4, 2, 3, 32, 32) and read_run(tmp/"att-mid")["status"] == "done"


@pytest.mark.parametrize("args, message", [
    (["--defense", "dp"], "unknown defense 'dp'; known: none, mid, bido, nls, tl"),
    (["--defense", "nls", "--alpha", 0.1], "nls: negative label smoothing needs alpha < 0, got 0.1"),
    (["--defense", "mid", "--beta", -1], "mid: beta must be positive, got -1.0"),
    (["--defense", "bido", "--measure", "mmd"], "bido: measure must be 'hsic' or 'coco', got 'mmd'"),
    (["--defense", "tl"], "tl: --init FILE is required"),
])
def test_bad_defenses(chain, args, message):
    rc, out, err = _defended(chain, "bad-defense", *args)
    assert rc == 1 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (chain["tmp"]/"bad-defense").exists()


def test_bad_defenses_command(tmp_path):
    rc, _, err = cli("defenses", "--out", tmp_path/"out", "--demo", tmp_path/"nodemo", "--defenses", "mid,dp")
    assert rc == 1 and "unknown defense 'dp'; known: mid, bido, nls, tl" in err and len(err.strip().splitlines()) == 1
