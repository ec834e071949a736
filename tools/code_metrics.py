"""How readable the code is, in the numbers the project holds itself to: exported-cell length in the notebooks,
function length, parameter count of public functions and module length in the package.

    python tools/code_metrics.py            # the summary and every offender
    python tools/code_metrics.py --check    # exit 1 when a limit is broken
"""
import argparse, ast, json, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMITS = dict(median_cell_lines=10, function_lines=40, public_params=12, module_lines=400)


def exported_cells(nbs: Path = ROOT/"nbs") -> list[tuple[str, int]]:
    "(notebook, lines) of every exported code cell; the `#| export` line and blank lines do not count."
    out = []
    for nb in sorted(nbs.glob("*.ipynb")):
        for c in json.loads(nb.read_text())["cells"]:
            lines = "".join(c["source"]).splitlines()
            if c["cell_type"] == "code" and lines and lines[0].replace(" ", "") in ("#|export", "#|exporti"):
                out.append((nb.name, sum(1 for l in lines[1:] if l.strip())))
    return out


def n_params(f: ast.FunctionDef) -> int:
    "Parameters a caller can pass (`self`/`cls` excluded; `*args` and `**kwargs` count one each)."
    a = f.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs] + [p.arg for p in (a.vararg, a.kwarg) if p]
    return len([n for n in names if n not in ("self", "cls")])


def functions(pkg: Path = ROOT/"rethinkmi"):
    "(module, qualified name, lines, parameters, public) of every function and method of the package."
    for py in sorted(pkg.glob("*.py")):
        if py.name.startswith("_"): continue
        tree = ast.parse(py.read_text())
        def walk(node, prefix="", public=True):
            for n in ast.iter_child_nodes(node):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    pub = public and not n.name.startswith("_")
                    yield py.stem, prefix + n.name, n.end_lineno - n.lineno + 1, n_params(n), pub
                elif isinstance(n, ast.ClassDef):
                    yield from walk(n, prefix + n.name + ".", public and not n.name.startswith("_"))
        yield from walk(tree)


def module_lines(pkg: Path = ROOT/"rethinkmi") -> dict[str, int]:
    return {py.stem: len(py.read_text().splitlines()) for py in sorted(pkg.glob("*.py")) if not py.name.startswith("_")}


def report() -> tuple[dict, list[str]]:
    "The summary numbers and the list of what breaks a limit."
    cells, fns, mods = exported_cells(), list(functions()), module_lines()
    lens = [n for _, n in cells]
    summary = dict(exported_cells=len(lens), median_cell_lines=statistics.median(lens),
                   share_cells_le_10=round(sum(n <= 10 for n in lens) / len(lens), 2),
                   longest_function=max(f[2] for f in fns), most_public_params=max(f[3] for f in fns if f[4]),
                   longest_module=max(mods.values()), modules=len(mods))
    bad = [f"median exported cell {summary['median_cell_lines']} lines > {LIMITS['median_cell_lines']}"] \
        if summary["median_cell_lines"] > LIMITS["median_cell_lines"] else []
    bad += [f"function {m}.{q}: {n} lines > {LIMITS['function_lines']}" for m, q, n, _, _ in fns if n > LIMITS["function_lines"]]
    bad += [f"public function {m}.{q}: {p} parameters > {LIMITS['public_params']}" for m, q, _, p, pub in fns
            if pub and p > LIMITS["public_params"]]
    bad += [f"module {m}: {n} lines > {LIMITS['module_lines']}" for m, n in mods.items() if n > LIMITS["module_lines"]]
    return summary, bad


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a limit is broken")
    summary, bad = report()
    print(json.dumps(summary))
    for b in bad: print(b)
    sys.exit(1 if bad and ap.parse_args().check else 0)
