"""Every path argument of every `rethinkmi` command, replaced in turn by a bad path (missing, a folder where a file goes,
a file where a folder goes, an empty file, garbage bytes, a path under a file): exit status 1, one line on stderr naming
the path, no traceback, and no run folder started (or the bad output left as it was)."""
import contextlib, errno, io, os, subprocess, sys
from pathlib import Path

import pytest

import rethinkmi.demo as demo
import rethinkmi.protocol as protocol
import rethinkmi.protocol_attack as protocol_attack
import rethinkmi.runs as runs
from rethinkmi.cli import main
from rethinkmi.protocol import fake_celeba


def cli(*args) -> tuple[int, str, str]:
    "Run `rethinkmi <args>` in this process: (exit status, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def ok(*args):
    rc, out, err = cli(*args)
    assert rc == 0, err


DEV = ["--device", "cpu", "--seed", "0"]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    "Valid inputs of every command, made once: data, a target, a GMI GAN, a student, P_reg, an attack run."
    tmp = tmp_path_factory.mktemp("good")
    data = fake_celeba(tmp/"celeba", n_ids=2, per_id=3, n_public=8)
    ok("train-classifier", tmp/"target", "--train", data/"train.txt", "--root", data, "--arch", "tiny_vgg", "--n_classes", 2,
       "--width", 4, "--size", 32, "--epochs", 1, "--batch_size", 4, *DEV)
    T = tmp/"target/model.pt"
    ok("train-gan", tmp/"gmi", "--kind", "gmi", "--public", data/"public.txt", "--root", data, "--size", 32, "--width", 4,
       "--epochs", 1, "--batch_size", 4, "--n_critic", 1, *DEV)
    ok("distill", tmp/"students", "--target", T, "--public", data/"public.txt", "--root", data, "--archs", "tiny_student:2",
       "--size", 32, "--epochs", 1, "--batch_size", 4, *DEV)
    ok("preg", tmp/"preg", "--target", T, "--public", data/"public.txt", "--root", data, "--n", 8, *DEV)
    S = tmp/"students/student0-tiny_student.pt"
    ok("attack", tmp/"att", "--target", T, "--G", tmp/"gmi/G.pt", "--D", tmp/"gmi/D.pt", "--method", "gmi", "--variant", "baseline",
       "--ids", "0-1", "--n_seeds", 1, "--iters", 1, *DEV)
    return dict(tmp=tmp, data=data, T=T, G=tmp/"gmi/G.pt", D=tmp/"gmi/D.pt", S=S, P=tmp/"preg/p_reg.pt", A=tmp/"att")


def commands(g:dict, run:Path) -> dict[str, list]:
    "The valid command line of every command, writing into `run`."
    d, T = g["data"], g["T"]
    return {
        "faces": ["faces", "--out", run/"faces.png", "--n_ids", 1, "--per_id", 1, "--size", 16],
        "demo": ["demo", "--quick", "--out", run, *DEV],
        "train-classifier": ["train-classifier", run, "--train", d/"train.txt", "--test", d/"test.txt", "--root", d, "--arch", "tiny_vgg",
                             "--n_classes", 2, "--width", 4, "--size", 32, "--epochs", 1, "--batch_size", 4, *DEV],
        "train-gan": ["train-gan", run, "--kind", "kedmi", "--public", d/"public.txt", "--root", d, "--target", T, "--size", 32,
                      "--width", 4, "--epochs", 1, "--batch_size", 4, "--n_critic", 1, *DEV],
        "distill": ["distill", run, "--target", T, "--public", d/"public.txt", "--root", d, "--archs", "tiny_student:2", "--size", 32,
                    "--epochs", 1, "--batch_size", 4, "--test", d/"test.txt", *DEV],
        "preg": ["preg", run, "--target", T, "--public", d/"public.txt", "--root", d, "--n", 8, *DEV],
        "attack": ["attack", run, "--target", T, "--G", g["G"], "--D", g["D"], "--method", "gmi", "--variant", "lomma",
                   "--students", g["S"], "--p_reg", g["P"], "--ids", "0-1", "--n_seeds", 1, "--iters", 1, *DEV],
        "evaluate": ["evaluate", run, "--attacks", g["A"], "--eval_model", T, "--private", d/"train.txt", "--root", d, *DEV],
    }


# the bad paths each kind of argument is given
INPUT_FILE = ["missing", "folder", "empty", "garbage"]        # split files, checkpoints, --config
FOLDER_IN = ["missing", "file", "empty", "garbage"]           # --root
LISTED = ["missing", "folder", "empty", "garbage"]            # the second entry of --students, --attacks
OUT_FOLDER = ["file", "under-file"]                           # the run folder
OUT_FILE = ["folder", "under-file"]                           # faces' PNG
ROLES = {  # command -> {argument: kinds}; "out" is the run folder (positional, or --out)
    "faces": {"--out": OUT_FILE},
    "demo": {"--out": OUT_FOLDER, "--config": INPUT_FILE},
    "train-classifier": {"out": OUT_FOLDER, "--train": INPUT_FILE, "--test": INPUT_FILE, "--root": FOLDER_IN, "--config": INPUT_FILE},
    "train-gan": {"out": OUT_FOLDER, "--public": INPUT_FILE, "--root": FOLDER_IN, "--target": INPUT_FILE, "--config": INPUT_FILE},
    "distill": {"out": OUT_FOLDER, "--target": INPUT_FILE, "--public": INPUT_FILE, "--root": FOLDER_IN, "--test": INPUT_FILE,
                "--config": INPUT_FILE},
    "preg": {"out": OUT_FOLDER, "--target": INPUT_FILE, "--public": INPUT_FILE, "--root": FOLDER_IN, "--config": INPUT_FILE},
    "attack": {"out": OUT_FOLDER, "--target": INPUT_FILE, "--G": INPUT_FILE, "--D": INPUT_FILE, "--students": LISTED,
               "--p_reg": INPUT_FILE, "--config": INPUT_FILE},
    "evaluate": {"out": OUT_FOLDER, "--attacks": LISTED, "--eval_model": INPUT_FILE, "--private": INPUT_FILE, "--root": FOLDER_IN,
                 "--config": INPUT_FILE},
}
CASES = [(c, a, k) for c, roles in ROLES.items() for a, kinds in roles.items() for k in kinds]


def bad_path(tmp:Path, kind:str) -> Path:
    "A fresh bad path of `kind` under `tmp`."
    tmp.mkdir()
    if kind == "missing": return tmp/"absent"/"nope"
    if kind == "folder": (tmp/"a-folder").mkdir(); return tmp/"a-folder"
    if kind in ("file", "under-file"):
        (tmp/"a-file").write_text("a file\n"); return tmp/"a-file" if kind == "file" else tmp/"a-file"/"x"
    if kind == "empty": (tmp/"empty").write_bytes(b""); return tmp/"empty"
    (tmp/"garbage").write_bytes(bytes(range(256))[::-1] * 4); return tmp/"garbage"


def snapshot(p:Path):
    "What is at `p` (and, for a path under a file, at that file): to check it is left as it was."
    p = p.parent if p.name == "x" and p.parent.is_file() else p
    return (p, p.read_bytes() if p.is_file() else sorted(x.name for x in p.iterdir()) if p.is_dir() else None)


class Started(BaseException): "A run got as far as writing its record: it should have stopped before."


@pytest.fixture
def no_start(monkeypatch):
    "Make a run that gets past its checks stop at once (so a missed case cannot train for minutes)."
    def start_run(*a, **k): raise Started()
    for m in (demo, protocol, protocol_attack):   # the modules whose runs start a record
        monkeypatch.setattr(m, "start_run", start_run)


@pytest.mark.parametrize("command, arg, kind", CASES, ids=[f"{c} {a} {k}" for c, a, k in CASES])
def test_bad_path(good, tmp_path, no_start, command, arg, kind):
    run = tmp_path/"run"
    args = commands(good, run)[command]
    bad = bad_path(tmp_path/"bad", kind)
    before = snapshot(bad)
    value = f"{good['S'] if arg == '--students' else good['A']},{bad}" if arg in ("--students", "--attacks") else bad
    if arg == "out": args[1] = value
    elif arg in args: args[args.index(arg) + 1] = value
    else: args += [arg, value]
    rc, out, err = cli(*args)
    assert rc == 1, (out, err)
    assert err.count("\n") == 1 and err.startswith(f"rethinkmi {command}: error: ") and "Traceback" not in err, err
    assert str(bad) in err, err
    assert not run.exists() and snapshot(bad) == before


@pytest.mark.parametrize("err, message", [
    (PermissionError(errno.EACCES, "Permission denied", "/some/where"), "/some/where: Permission denied"),
    (OSError(errno.ENOSPC, "No space left on device"), "{run}: No space left on device"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/a/dir"), "/a/dir: Is a directory"),
])
def test_os_errors_during_a_run(good, tmp_path, monkeypatch, err, message):
    "An error of the operating system while a run writes (no permission, a full disk) is one line naming the path."
    def fail(*a, **k): raise err
    for m in (demo, protocol, protocol_attack):
        monkeypatch.setattr(m, "start_run", fail)
    rc, out, e = cli(*commands(good, tmp_path/"run")["preg"])
    assert rc == 1 and e == f"rethinkmi preg: error: {message.format(run=tmp_path/'run')}\n", e


def test_unwritable_folder(good, tmp_path, monkeypatch):
    "A folder where nothing can be created (checked with `os.access`, which is always true for root: faked here)."
    monkeypatch.setattr(runs.os, "access", lambda p, mode: False)
    rc, out, err = cli(*commands(good, tmp_path/"run")["preg"])
    assert rc == 1 and err == f"rethinkmi preg: error: {tmp_path/'run'}: cannot write in {tmp_path}\n", err
    assert not (tmp_path/"run").exists()


def test_installed_demo_with_bad_out(tmp_path):
    "The installed program: `rethinkmi demo --quick --out FILE` is one line and exit status 1, and FILE is untouched."
    exe = Path(sys.executable).with_name("rethinkmi")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from rethinkmi.cli import main; sys.exit(main())"]
    f = tmp_path/"f"; f.write_text("keep\n")
    for out, why in [(f, "exists and is not a folder"), (f/"x", f"{f} is not a folder")]:
        r = subprocess.run(cmd + ["demo", "--quick", "--out", str(out)], capture_output=True, text=True, timeout=120)
        assert (r.returncode, r.stderr) == (1, f"rethinkmi demo: error: {out}: {why}\n")
    assert f.read_text() == "keep\n"


@pytest.mark.parametrize("command, arg, value, message", [
    ("attack", "--p_reg", "{T}", "model.pt: not a PReg file"),
    ("train-classifier", "--train", "{data}/public.txt", "public.txt: lists images without labels"),
    ("train-classifier", "--train", "{data}/p0.jpg", "p0.jpg: not a text split file"),
    ("preg", "--target", "{data}/p0.jpg", "p0.jpg: truncated or corrupt checkpoint"),
    ("evaluate", "--attacks", "{tmp}/target", "a record of `train-classifier`, not of `attack`"),
    ("faces", "--out", "{run}/faces.xyz", "faces.xyz: unknown image format .xyz"),
])
def test_a_file_of_the_wrong_kind(good, tmp_path, no_start, command, arg, value, message):
    "A real file, but not the one wanted: one line that says what it is."
    run = tmp_path/"run"; args = commands(good, run)[command]
    args[args.index(arg) + 1] = value.format(T=good["T"], data=good["data"], tmp=good["tmp"], run=run)
    rc, out, err = cli(*args)
    assert rc == 1 and err.count("\n") == 1 and message in err, err
    assert not run.exists()


def test_evaluate_takes_a_run_json(good, tmp_path):
    "An attack given as its run.json is its run folder."
    ok("evaluate", tmp_path/"ev", "--attacks", good["A"]/"run.json", "--eval_model", good["T"], "--private", good["data"]/"train.txt",
       "--root", good["data"], *DEV)
    assert [p.name for p in (tmp_path/"ev/grids").iterdir()] == ["att.png"]
