"""How readable the code is, in the numbers the project holds itself to.

Lines are those a person wrote (nbdev's generated `__all__` block is left out of the line measures), and a
module's length counts its non-blank lines without nbdev's `# %%` cell markers, so that splitting a notebook
into small cells does not count against it. The same measures run on any nbdev project (its notebooks and its
package), so ours can be set beside the projects we hold up as models (fastcore, nbdev, fastai's course22p2):

    python tools/code_metrics.py                      # this project: the measures and every offender
    python tools/code_metrics.py --check              # exit 1 when a limit is broken
    python tools/code_metrics.py --root DIR --pkg P --nbs N   # another project: its package P/, notebooks N/
"""
import argparse, ast, io, json, re, statistics, sys, tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMITS = dict(median_cell_chars=400, function_lines=40, public_params=12, many_params=10,
              max_many_param_functions=3, line_chars=110, module_lines=400)
EXPORT = re.compile(r"#\|\s*export(i|s)?\b")


def exported_cells(nbs:Path) -> list[tuple[str, str]]:
    "(notebook, source without the `#| export` line) of every exported code cell."
    out = []
    for nb in sorted(nbs.glob("*.ipynb")):
        for c in json.loads(nb.read_text())["cells"]:
            lines = "".join(c["source"]).splitlines()
            if c["cell_type"] == "code" and lines and EXPORT.match(lines[0].strip()):
                out.append((nb.name, "\n".join(lines[1:]).strip("\n")))
    return out


def prose_words(nbs:Path) -> int:
    "Words in the markdown cells of the notebooks."
    return sum(len("".join(c["source"]).split()) for nb in sorted(nbs.glob("*.ipynb"))
               for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "markdown")


def measured_sections(nbs:Path) -> list[str]:
    "Notebooks with a heading that opens a lab-log section (\"Measured ...\")."
    heading = re.compile(r"^#+\s+Measured", re.M)
    return [nb.name for nb in sorted(nbs.glob("*.ipynb"))
            if any(c["cell_type"] == "markdown" and heading.search("".join(c["source"]))
                   for c in json.loads(nb.read_text())["cells"])]


def n_params(f:ast.FunctionDef) -> int:
    "Parameters a caller can pass (`self`/`cls` excluded; `*args` and `**kwargs` count one each)."
    a = f.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    names += [p.arg for p in (a.vararg, a.kwarg) if p]
    return len([n for n in names if n not in ("self", "cls")])


def written_lines(text:str) -> list[tuple[int, str]]:
    "(line number, line) of the lines a person wrote: nbdev's `__all__` block (`# %% auto`) left out."
    out, generated = [], False
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith("# %%"):
            generated = line.startswith("# %% auto")
        if not generated:
            out.append((i, line))
    return out


def code_lines(text:str) -> int:
    "A module's length: its non-blank lines, without nbdev's cell markers (`# %% ...`)."
    return sum(1 for l in text.splitlines() if l.strip() and not l.startswith("# %%"))


def modules(pkg:Path) -> list[Path]:
    "The package's modules, generated index (`_modidx.py`) and private modules left out."
    return [py for py in sorted(pkg.glob("*.py")) if not py.name.startswith("_")]


def functions(pkg:Path):
    "(module, qualified name, lines, parameters, public, documented) of every function and method."
    for py in modules(pkg):
        tree = ast.parse(py.read_text())
        def walk(node, prefix="", public=True):
            for n in ast.iter_child_nodes(node):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    pub = public and not n.name.startswith("_")
                    doc = ast.get_docstring(n) is not None
                    yield py.stem, prefix + n.name, n.end_lineno - n.lineno + 1, n_params(n), pub, doc
                elif isinstance(n, ast.ClassDef):
                    yield from walk(n, prefix + n.name + ".", public and not n.name.startswith("_"))
        yield from walk(tree)


def joined_lines(src:str) -> set[int]:
    "Line numbers holding a `;` that joins two statements (a `;` token, not one inside a string or comment)."
    toks = tokenize.generate_tokens(io.StringIO(src).readline)
    return {t.start[0] for t in toks if t.type == tokenize.OP and t.string == ";"}


def report(root:Path=ROOT, pkg:str="rethinkmi", nbs:str="nbs") -> tuple[dict, list[str]]:
    "The measures and the list of what breaks a limit."
    nbs, pkg_dir = root/nbs, root/pkg
    cells, fns, mods = exported_cells(nbs), list(functions(pkg_dir)), modules(pkg_dir)
    cell_lines = [sum(1 for l in s.splitlines() if l.strip()) for _, s in cells]
    texts = {py.stem: py.read_text() for py in mods}
    lines = [(m, i, l) for m, t in texts.items() for i, l in written_lines(t)]
    long_lines = [(m, i, len(l)) for m, i, l in lines if len(l) > LIMITS["line_chars"]]
    joins = [(m, i) for m, t in texts.items() for i in sorted(joined_lines(t))]
    public = [f for f in fns if f[4]]
    many = [f for f in public if f[3] >= LIMITS["many_params"]]
    mod_lines = {m: code_lines(t) for m, t in texts.items()}
    m = dict(notebooks=len(list(nbs.glob("*.ipynb"))), modules=len(mods),
             median_cell_lines=statistics.median(cell_lines),
             median_cell_chars=statistics.median(len(s) for _, s in cells),
             share_lines_over_120=round(sum(len(l) > 120 for *_, l in lines) / len(lines), 3),
             share_lines_over_110=round(len(long_lines) / len(lines), 3),
             share_lines_joined=round(len(joins) / len(lines), 3),
             public_functions_10_params=len(many),
             modules_over_300_code_lines=sum(n > 300 for n in mod_lines.values()),
             share_public_documented=round(sum(f[5] for f in public) / len(public), 2),
             prose_words_per_code_line=round(prose_words(nbs) / sum(cell_lines), 1),
             notebooks_measured_section=len(measured_sections(nbs)),
             longest_function=max(f[2] for f in fns), longest_module=max(mod_lines.values()))
    bad = [f"median exported cell {m['median_cell_chars']} characters > {LIMITS['median_cell_chars']}"] \
        if m["median_cell_chars"] > LIMITS["median_cell_chars"] else []
    bad += [f"{mod}.py:{i}: {n} characters > {LIMITS['line_chars']}" for mod, i, n in long_lines]
    bad += [f"{mod}.py:{i}: statements joined with ';'" for mod, i in joins]
    bad += [f"function {mod}.{q}: {n} lines > {LIMITS['function_lines']}"
            for mod, q, n, *_ in fns if n > LIMITS["function_lines"]]
    bad += [f"public function {mod}.{q}: {p} parameters > {LIMITS['public_params']}"
            for mod, q, _, p, pub, _ in fns if pub and p > LIMITS["public_params"]]
    if len(many) > LIMITS["max_many_param_functions"]:
        names = ", ".join(f"{f[0]}.{f[1]}" for f in many)
        bad.append(f"{len(many)} public functions with {LIMITS['many_params']}+ parameters "
                   f"> {LIMITS['max_many_param_functions']}: {names}")
    bad += [f"module {mod}: {n} lines > {LIMITS['module_lines']}"
            for mod, n in mod_lines.items() if n > LIMITS["module_lines"]]
    bad += [f"{nb}: a lab-log section (measurements belong in the lab log)" for nb in measured_sections(nbs)]
    return m, bad


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a limit is broken")
    ap.add_argument("--root", type=Path, default=ROOT, help="the project's checkout (holds nbs/)")
    ap.add_argument("--pkg", default="rethinkmi", help="the package's folder in the checkout")
    ap.add_argument("--nbs", default="nbs", help="the notebooks' folder in the checkout")
    args = ap.parse_args()
    measures, bad = report(args.root, args.pkg, args.nbs)
    print(json.dumps(measures))
    for b in bad:
        print(b)
    sys.exit(1 if bad and args.check else 0)
