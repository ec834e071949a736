"""Write `rethinkmi/cli_spec.json`, the stored description of the `rethinkmi` commands' options, from their live
signatures and docments (`live_spec` of nbs/43_cli.ipynb). Run it after changing a command's parameters or docments;
`tests/test_cli_help.py` fails until then. The `rethinkmi` command builds its help and parser from the file, so that
`rethinkmi --help` and `rethinkmi <command> --help` import no command's module (nor torch).

    python tools/make_cli_spec.py           # write the file
    python tools/make_cli_spec.py --check   # exit 1 when the file differs from the live description
"""
import sys

from rethinkmi.cli import SPEC_FILE, live_spec, spec_text


def main(check:bool) -> int:
    text = spec_text(live_spec())
    if check:
        same = SPEC_FILE.exists() and SPEC_FILE.read_text(encoding="utf-8") == text
        print(f"{SPEC_FILE}: " + ("up to date" if same else "out of date: run python tools/make_cli_spec.py"))
        return 0 if same else 1
    SPEC_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {SPEC_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
