"The package's shape, read with `ast`: no import cycles between modules, and no private name imported across modules."
import ast, re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1]/"rethinkmi"


def imports(py: Path) -> list[tuple[str, list[str]]]:
    "(module imported from the package, names taken from it) for every import of `py` that stays inside the package."
    out = []
    for n in ast.walk(ast.parse(py.read_text())):
        if isinstance(n, ast.ImportFrom) and (n.level or (n.module or "").startswith("rethinkmi")):
            mod = (n.module or "").removeprefix("rethinkmi").lstrip(".")
            if mod: out.append((mod.split(".")[0], [a.name for a in n.names]))
            else: out += [(a.name, []) for a in n.names]   # from . import x
        elif isinstance(n, ast.Import):
            out += [(a.name.split(".")[1], []) for a in n.names if a.name.startswith("rethinkmi.")]
    return out


def graph() -> dict[str, set[str]]:
    return {py.stem: {m for m, _ in imports(py)} for py in PKG.glob("*.py") if py.stem != "_modidx"}


def find_cycle(g: dict[str, set[str]]) -> list[str]:
    "A cycle of `g` (module -> modules it imports) as a path that returns to its start, or []."
    seen, done = [], set()
    def visit(m):
        if m in done: return []
        if m in seen: return seen[seen.index(m):] + [m]
        seen.append(m)
        for d in sorted(g.get(m, ())):
            if c := visit(d): return c
        seen.pop(); done.add(m); return []
    return next((c for m in sorted(g) if (c := visit(m))), [])


def test_no_import_cycles():
    assert find_cycle(graph()) == []


def test_no_private_names_across_modules():
    bad = [f"{py.stem} imports {name} from {mod}" for py in PKG.glob("*.py") for mod, names in imports(py)
           for name in names if name.startswith("_") and not name.startswith("__")]
    assert not bad, bad


def test_the_checks_can_fail(tmp_path):
    "The reader sees cycles and private imports when they are there."
    (tmp_path/"a.py").write_text("from .b import _x\n"); (tmp_path/"b.py").write_text("from rethinkmi.a import y\n")
    assert imports(tmp_path/"a.py") == [("b", ["_x"])] and imports(tmp_path/"b.py") == [("a", ["y"])]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def notebook_of() -> dict[str, str]:
    "Module -> the stem of the notebook that exports it (its `#| default_exp`)."
    out = {}
    for nb in sorted((PKG.parent/"nbs").glob("*.ipynb")):
        if m := re.search(r"#\| default_exp (\w+)", nb.read_text()):
            out[m.group(1)] = nb.stem
    return out


def later_imports(g: dict[str, set[str]], order: dict[str, str]) -> list[str]:
    "The imports of `g` that reach a module whose notebook sorts after the importer's."
    pairs = [(m, d) for m in sorted(g) for d in sorted(g[m])]
    return [f"{m} ({order[m]}) imports {d} ({order[d]})" for m, d in pairs if order[d] > order[m]]


def test_modules_follow_the_book():
    "The notebooks are numbered in dependency order: no module imports one whose notebook comes later."
    order = notebook_of()
    g = {m: deps for m, deps in graph().items() if m != "__init__"}
    assert set(order) == set(g), "every module comes from one notebook"
    assert later_imports(g, order) == []


def test_the_order_check_can_fail():
    order = {"a": "01_a", "b": "02_b"}
    assert later_imports({"a": {"b"}, "b": set()}, order) == ["a (01_a) imports b (02_b)"]
    assert later_imports({"a": set(), "b": {"a"}}, order) == []


def _code_metrics():
    "tools/code_metrics.py, loaded as a module."
    import importlib.util
    spec = importlib.util.spec_from_file_location("code_metrics", PKG.parent/"tools"/"code_metrics.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def test_code_is_airy():
    "The limits of `tools/code_metrics.py --check`: line length, no `;` joins, small cells, short signatures."
    measures, bad = _code_metrics().report()
    assert not bad, "\n".join(bad)


def test_the_metrics_see_offenders():
    cm = _code_metrics()
    assert cm.joined_lines("a = 1; b = 2\ns = 'x; y'  # c; d\n") == {1}
    assert cm.code_lines("# %% ../nbs/x.ipynb 3\ndef f():\n\n    return 1\n") == 2
    module = "x = 1\n# %% auto #0\n__all__ = ['f']\n# %% a 1\ny = 2\n"
    assert [i for i, _ in cm.written_lines(module)] == [1, 4, 5]
