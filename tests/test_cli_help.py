"""The `rethinkmi` command line's conventions: the stored description of the options is the live one,
`--help` loads no torch, `--version`, suggestions for unknown commands and options, required options, choices,
groups, defaults, and both spellings of an option (`--n-seeds`, `--n_seeds`)."""
import contextlib, io, subprocess, sys
from pathlib import Path

import pytest

from rethinkmi import __version__
from rethinkmi.cli import COMMANDS, SPEC_FILE, live_spec, main, spec_text, stored_spec

ROOT = Path(__file__).resolve().parents[1]


def cli(*args) -> tuple[int, str, str]:
    "Run `rethinkmi <args>` in this process: (exit status, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def words(text:str) -> str: return " ".join(text.split())   # the help's words, whatever the line breaks


def test_stored_description_is_the_live_one():
    "The help and parser come from rethinkmi/cli_spec.json: it must say what the signatures and docments say."
    assert SPEC_FILE.read_text(encoding="utf-8") == spec_text(live_spec()), \
        "rethinkmi/cli_spec.json differs from the commands' signatures: run python tools/make_cli_spec.py"


def test_the_spec_tool_checks():
    tool = str(ROOT/"tools"/"make_cli_spec.py")
    r = subprocess.run([sys.executable, tool, "--check"], capture_output=True, text=True)
    assert r.returncode == 0 and "up to date" in r.stdout, r.stdout + r.stderr


HELPS = [["--help"], ["attack", "--help"], ["train-classifier", "--help"], ["--version"]]


@pytest.mark.parametrize("args", HELPS)
def test_help_loads_no_torch(args):
    code = (f"import sys; from rethinkmi.cli import main; rc = main({args!r}); "
            "assert 'torch' not in sys.modules; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout or r.stdout == f"rethinkmi {__version__}\n"


def test_version():
    assert cli("--version") == (0, f"rethinkmi {__version__}\n", "")


def test_unknown_command_gets_a_suggestion():
    rc, out, err = cli("atack")
    assert rc == 2 and err.startswith("rethinkmi: unknown command 'atack'; did you mean 'attack'?\n")
    rc, out, err = cli("zzz")
    assert rc == 2 and err.startswith("rethinkmi: unknown command 'zzz'\n")


def test_unknown_option_gets_a_suggestion():
    rc, out, err = cli("attack", "x", "--target", "t", "--G", "g", "--n-sed", "3")
    assert rc == 2 and "unrecognized arguments: --n-sed 3; did you mean '--n-seeds'?" in err, err


def test_command_table_aligns():
    rc, out, err = cli("--help")
    rows = out.split("commands:\n")[1].splitlines()
    assert [l.split()[0] for l in rows] == list(COMMANDS)
    assert len({l.index(l.split()[1]) for l in rows}) == 1, out


def test_both_spellings_of_an_option():
    "A command takes --n-seeds, --n_seeds and --n-seeds=3; the help shows the hyphenated form only."
    from rethinkmi.cli import _parser
    p = _parser("attack", {})
    base = ["out", "--target", "t", "--G", "g"]
    for given in (["--n-seeds", "3"], ["--n_seeds", "3"], ["--n-seeds=3"], ["--n_seeds=3"]):
        assert p.parse_args(base + given).n_seeds == 3, given
    h = p.format_help()
    assert "--n-seeds N_SEEDS" in h and "--n_seeds" not in h and "--student-archs" in h


def test_required_options():
    rc, h, _ = cli("attack", "--help")
    usage = words(h.split("\n\n")[0])
    assert "--target TARGET" in usage and "[--target TARGET" not in usage and "[--G G" not in usage
    assert "[--D D]" in usage   # required for --method gmi and kedmi only: optional, said in its help
    h = words(h)
    assert "--G G the generator's checkpoint (required)" in h and "required for --method gmi and kedmi only" in h
    rc, h, _ = cli("train-gan", "--help")
    assert "[--target TARGET]" in words(h) and "required for --kind kedmi" in words(h)
    rc, out, err = cli("attack", "x", "--G", "g")
    assert rc == 2 and "the following arguments are required: --target" in err


CHOICES = {"attack": ["method", "variant", "space", "protocol", "public", "p_reg_mode"],
           "train-gan": ["kind", "dataset"], "train-classifier": ["dataset"],
           "distill": ["schedule", "protocol", "dataset"],
           "preg": ["protocol", "dataset"], "evaluate": ["fid_images", "convention", "protocol", "dataset"]}


@pytest.mark.parametrize("command", list(CHOICES))
def test_closed_sets_are_choices(command):
    spec = {a["name"]: a for a in stored_spec()[command]["arguments"]}
    found = {k: spec[k]["choices"] for k in CHOICES[command]}
    assert all(found.values()), found


@pytest.mark.parametrize("args, message", [
    (["attack", "x", "--target", "t", "--G", "g", "--variant", "lomma2"],
     "argument --variant: invalid choice: 'lomma2'"),
    (["evaluate", "x", "--attacks", "a", "--eval-model", "e", "--private", "p", "--root", "r",
      "--convention", "theirs"],
     "argument --convention: invalid choice: 'theirs'"),
])
def test_a_value_out_of_its_set_is_a_usage_error(tmp_path, args, message):
    rc, out, err = cli(*args)
    assert rc == 2 and message in err and "Traceback" not in err, err


def test_groups_in_order():
    rc, h, _ = cli("attack", "--help")
    titles = [l[:-1] for l in h.splitlines() if l.endswith(":") and not l.startswith(" ")]
    assert titles == ["options", "inputs", "attack", "speed", "output"], titles
    groups = {a["name"]: a["group"] for a in stored_spec()["attack"]["arguments"]}
    picked = (groups["target"], groups["public"], groups["device"], groups["out"])
    assert picked == ("inputs", "attack", "speed", "output")
    assert {a["group"] for a in stored_spec()["distill"]["arguments"] if a["name"] == "public"} == {"inputs"}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_says_its_default(command):
    "An option's help shows its default, what its None means, or that (or when) it is required."
    said = ("(default: ", "(required)", "required for", "required but")
    bad = [a["name"] for a in stored_spec()[command]["arguments"]
           if a["kind"] != "positional" and a["name"] != "config" and not any(s in a["help"] for s in said)]
    assert not bad, bad
    helps = {a["name"]: a["help"] for a in stored_spec()[command]["arguments"]}
    if command == "attack":
        assert helps["students"].endswith("(default: none)") and "None" not in helps["p_reg_mode"]


def test_old_records_keep_working(tmp_path):
    "A record's keys are the Python names: --config reads them, and they make required options optional."
    import json
    (tmp_path/"old").mkdir()
    given = dict(target="T.pt", G="G.pt", D="D.pt", n_seeds=2, p_reg_mode="fixed")
    rec = dict(command="attack", arguments=given)
    (tmp_path/"old"/"run.json").write_text(json.dumps(rec))
    from rethinkmi.cli import _config, _parser
    rest, recorded = _config("attack", ["o", "--config", str(tmp_path/"old")])
    ns = _parser("attack", recorded).parse_args(rest)
    assert (ns.target, ns.G, ns.n_seeds, ns.p_reg_mode) == ("T.pt", "G.pt", 2, "fixed")
