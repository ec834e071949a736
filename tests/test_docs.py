"""The documentation site: one `_quarto.yml` that nbdev's build uses, the offline build (tools/build_docs.py) gives
every notebook its page with navigation, rendered API docs and saved figures, its links resolve, and the notebooks
stay small. The build imports the package but executes no notebook."""
import configparser, importlib.util, json, os, re, subprocess, sys
from pathlib import Path

import pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
NOTEBOOKS = sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith(("_", ".")))

def _tool():
    spec = importlib.util.spec_from_file_location("build_docs", ROOT/"tools"/"build_docs.py")
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

def _settings():
    c = configparser.ConfigParser(); c.read(ROOT/"settings.ini"); return c["DEFAULT"]

def _page(nb: Path) -> str:
    "nbdev's page name: the leading number dropped (00_core.ipynb -> core.html)."
    return re.sub(r"^\d+[a-zA-Z0-9]*_", "", nb.name.lower())[:-len(".ipynb")] + ".html"

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_under_1mb(nb):
    size = nb.stat().st_size
    assert size <= 1_000_000, f"{nb.name} is {size/1e6:.2f} MB: save smaller figures (dpi 60-70) or fewer outputs"

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_docs_build_runs_no_test_or_slow_cell(nb):
    "nbdev_docs executes every cell holding an import (for show_doc); a cell that also runs code (a test, a slow demo) must not hold one."
    import warnings
    from nbdev.process import NBProcessor
    from nbdev.processors import _do_eval
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for c in NBProcessor(nb, procs=[]).nb.cells: _do_eval(c)
    mixed = [str(x.message).split("---")[1].strip().splitlines()[0] for x in w if "imports and other code" in str(x.message)]
    assert not mixed, f"{nb.name}: move the imports of these cells to the notebook's import cell: {mixed}"

def test_one_quarto_config():
    link, top = NBS/"_quarto.yml", ROOT/"_quarto.yml"
    assert link.is_symlink() and os.readlink(link) == "../_quarto.yml", "nbs/_quarto.yml must be a symlink to ../_quarto.yml"
    assert os.path.samefile(link, top)
    q, s = yaml.safe_load(top.read_text()), _settings()
    assert q["project"]["type"] == "website" and q["project"]["output-dir"] == s["doc_path"]
    w = q["website"]
    assert (w["title"], w["description"]) == (s["title"], s["description"])
    assert w["site-url"] == s["doc_host"] + s["doc_baseurl"] and w["repo-url"] == s["git_url"] and w["repo-branch"] == s["branch"]
    css = q["format"]["html"]["css"]
    assert all((NBS/c).is_file() for c in ([css] if isinstance(css, str) else css))
    assert s["custom_sidebar"] == "True", "with custom_sidebar False nbdev writes a second sidebar (nbs/sidebar.yml)"

def test_sidebar_lists_every_notebook():
    bd, q = _tool(), yaml.safe_load((ROOT/"_quarto.yml").read_text())
    names, missing = [p.name for p in NOTEBOOKS], []
    items = bd.parse_sidebar(q["website"]["sidebar"]["contents"], names, missing)
    assert not missing, f"_quarto.yml's sidebar lists notebooks that do not exist: {missing}"
    parts = ["Part I: the lesson", "Part II: more attacks", "Appendix: engineering", "Lab log"]
    assert [i.get("section") for i in items] == parts
    assert items[0]["contents"][0]["page"] == "index.ipynb"
    listed = bd.sidebar_pages(items)
    unlisted = sorted(set(names) - set(listed))
    assert not unlisted, f"add {unlisted} to the sidebar in _quarto.yml (in its part)"
    assert len(listed) == len(set(listed)), "a notebook is listed twice in the sidebar"

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")/"site"
    r = subprocess.run([sys.executable, str(ROOT/"tools"/"build_docs.py"), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return out

def test_every_notebook_has_a_page_with_navigation(site):
    assert (site/"index.html").is_file()
    pages = [_page(nb) for nb in NOTEBOOKS]
    for nb, pg in zip(NOTEBOOKS, pages):
        text = (site/pg).read_text(encoding="utf-8")
        nav = re.search(r'<nav class="sidebar".*?</nav>', text, re.S).group(0)
        linked = set(re.findall(r'href="([^"]+)"', nav))
        assert set(pages) <= linked, f"{pg}: the sidebar misses {set(pages) - linked}"
        assert f'class="active" href="{pg}"' in nav, f"{pg}: the current page is not marked in the sidebar"

def test_pages_are_processed_like_nbdev(site):
    for nb in NOTEBOOKS:
        text = (site/_page(nb)).read_text(encoding="utf-8")
        code = " ".join(re.findall(r'<div class="highlight[^"]*"><pre>(.*?)</pre>', text, re.S))
        code = re.sub(r"<[^>]+>", "", code)
        assert "#|" not in code, f"{nb.name}: a cell directive is shown"
        assert "nbdev_export()" not in code and "default_exp" not in code, f"{nb.name}: a hidden cell is shown"
        src = [("".join(c["source"]), c["cell_type"]) for c in json.loads(nb.read_text())["cells"]]
        for s, t in src:
            if t == "code" and s.startswith("#| hide") and len(s.splitlines()) > 1:
                line = max(s.splitlines()[1:], key=len).strip()
                if len(line) > 25: assert line not in code.replace("&quot;", '"').replace("&#39;", "'"), f"{nb.name}: hidden code shown: {line}"

def test_api_docs_rendered(site):
    "Every public function and class the package exports has its entry (heading anchor nbdev links to) on its page."
    from rethinkmi._modidx import d
    n = 0
    for mod, syms in d["syms"].items():
        for sym, (url, _) in syms.items():
            name = sym[len(mod)+1:]
            if "." in name or name.startswith("_"): continue
            pg, anchor = url.split("#")
            text = (site/pg).read_text(encoding="utf-8")
            assert f'id="{anchor}"' in text, f"{pg}: no show_doc entry for {sym}"
            n += 1
    assert n > 10
    core = (site/"core.html").read_text(encoding="utf-8")
    entry = core[core.index('id="load_checkpoint"'):]
    entry = entry[:entry.index("</table>")]
    assert "doc-signature" in entry and "map_location" in entry and "where tensors land" in entry

def test_saved_figures_shown(site):
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        shown = [c for c in cells if c["cell_type"] == "code" and not "".join(c["source"]).startswith("#| hide")
                 and any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
        text = (site/_page(nb)).read_text(encoding="utf-8")
        assert text.count('src="data:image/png;base64,') >= len(shown), f"{nb.name}: a saved figure is missing"

def test_links_resolve(site):
    errors, _ = _tool().check_links(site)
    assert errors == []
    idx = (site/"index.html").read_text(encoding="utf-8")
    assert re.search(r'<img[^>]+src="[^"]*synthfaces\.png"', idx), "the index shows the SynthFaces picture"

def test_link_check_catches_broken_links(tmp_path):
    (tmp_path/"a.html").write_text('<a href="b.html#x">b</a><img src="pics/missing.png"><a href="https://example.org/z">'
                                   '</a><a href="#top">top</a><a href="../outside.html">o</a><p id="top"></p>')
    (tmp_path/"b.html").write_text('<p id="y"></p>')
    errors, warns = _tool().check_links(tmp_path)
    assert len(errors) == 2 and any("missing.png" in e for e in errors) and any("outside" in e for e in errors)
    assert warns == ["a.html: b.html#x: no anchor #x"]
