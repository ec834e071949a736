"""The documentation site: one `_quarto.yml` that nbdev's build uses, the offline build (tools/build_docs.py) gives
every notebook its page with navigation, rendered API docs and saved figures, its links resolve, and the notebooks
stay small. The build imports the package but executes no notebook."""
import configparser, importlib.util, json, os, re, shutil, subprocess, sys
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
    parts = ["Part I: the lesson", "Part II: more attacks", "Part III: defenses", "Appendix: engineering", "Lab log"]
    assert [i.get("section") for i in items] == parts
    assert items[0]["contents"][0]["page"] == "index.ipynb"
    listed = bd.sidebar_pages(items)
    unlisted = sorted(set(names) - set(listed))
    assert not unlisted, f"add {unlisted} to the sidebar in _quarto.yml (in its part)"
    assert len(listed) == len(set(listed)), "a notebook is listed twice in the sidebar"

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    "The offline site and the builder's output (stderr)."
    out = tmp_path_factory.mktemp("docs")/"site"
    r = subprocess.run([sys.executable, str(ROOT/"tools"/"build_docs.py"), "--out", str(out),
                        "--empty-details", str(out.parent/"empty.txt")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return out, r.stderr

@pytest.fixture(scope="module")
def site(built): return built[0]

def test_build_has_no_warning(built):
    assert "warning:" not in built[1], built[1]
    assert re.search(r"links checked \(0 warning\(s\)\)", built[1]), built[1]

def test_builder_documents_its_own_checkout(tmp_path):
    "A builder whose checkout lacks the package (which then comes from another copy, here this one) stops: one line, both paths."
    (tmp_path/"tools").mkdir()
    shutil.copy2(ROOT/"tools"/"build_docs.py", tmp_path/"tools"/"build_docs.py")
    shutil.copy2(ROOT/"settings.ini", tmp_path/"settings.ini")
    r = subprocess.run([sys.executable, str(tmp_path/"tools"/"build_docs.py"), "--out", str(tmp_path/"site")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0] and str(ROOT/"rethinkmi") in lines[0], r.stderr
    assert not (tmp_path/"site").exists()
    assert _tool().check_checkout("rethinkmi") is None  # here the package is the checkout's

def test_maths_typeset_offline(site):
    "MathJax 3 is copied into the site and every page loads that copy; no page loads anything from the network."
    assert (site/"mathjax"/"tex-mml-chtml.js").is_file() and (site/"mathjax"/"output"/"chtml"/"fonts"/"woff-v2").is_dir()
    for pg in site.glob("*.html"):
        text = pg.read_text(encoding="utf-8")
        assert 'src="mathjax/tex-mml-chtml.js"' in text, f"{pg.name} does not load the site's MathJax"
        assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', text), f"{pg.name} loads from the network"
    assert _tool().vendor_mathjax(site.parent/"cdn", cdn=True)[0] is None  # --mathjax-cdn: nothing copied, the CDN loaded
    assert not (site.parent/"cdn").exists()

def test_maths_reach_mathjax_intact(site):
    "`_`, `*` and `<` inside $...$ are not markdown or html: docstrings, docments and prose keep the TeX as written."
    bd = _tool()
    h = bd.md2html("x $a_i * b_j$ and $c_k*d_k < e$ `_x` $$\\frac{a_1}{b_2}$$")
    assert "$a_i * b_j$" in h and "$c_k*d_k &lt; e$" in h and "$$\\frac{a_1}{b_2}$$" in h and "<em>" not in h
    losses = (site/"losses.html").read_text(encoding="utf-8")
    assert "$-\\log\\operatorname{softmax}(f(x_i))_{y_i}$" in losses  # a docstring
    preg = (site/"preg.html").read_text(encoding="utf-8")
    entry = preg[preg.index('id="preg"'):]
    assert "per-dimension mean $\\mu$" in entry[:entry.index("</table>")]  # a docment

def test_placeholders_in_docstrings_are_text():
    bd = _tool()
    assert bd.escape_placeholders('"<image> <label>" per line, `<x>`, <code>_y</code>') == \
        '"&lt;image&gt; &lt;label&gt;" per line, `<x>`, <code>_y</code>'

def test_search_index_and_names_page(site):
    "Every page loads the search (an index script: works from file://); it holds every API entry and every page's sections."
    idx = (site/"search_index.js").read_text(encoding="utf-8")
    assert idx.startswith("window.SEARCH_INDEX = ")
    docs = json.loads(idx[len("window.SEARCH_INDEX = "):].rstrip().rstrip(";"))
    urls = {d["u"] for d in docs}
    assert "inversion.html#invert" in urls and "losses.html" in urls and (site/"search.js").is_file()
    names = (site/"names.html").read_text(encoding="utf-8")
    from rethinkmi._modidx import d
    n = 0
    for mod, syms in d["syms"].items():
        for sym, (url, _) in syms.items():
            name = sym[len(mod)+1:]
            if any(part.startswith("_") for part in name.split(".")): continue
            pg, anchor = url.split("#")
            if f'id="{anchor}"' not in (site/pg).read_text(encoding="utf-8"):  # a method shown in its class's entry
                url = f'{pg}#{name.rsplit(".", 1)[0].lower()}'
            assert f'href="{url}"' in names, f"names.html: no link to {sym} ({url})"
            assert url in urls, f"the search index misses {sym}"
            n += 1
    assert n > 100
    for nb in NOTEBOOKS:
        text = (site/_page(nb)).read_text(encoding="utf-8")
        assert 'id="search-input"' in text and 'src="search_index.js"' in text and 'href="names.html"' in text, nb.name
        for h in re.findall(r'<h2 id="([^"]+)"', text): assert f"{_page(nb)}#{h}" in urls, f"{_page(nb)}#{h} is not searchable"

def test_every_callable_has_a_parameter_table(site, built):
    "A table wherever a public callable has parameters, docments or not; special methods (`__repr__`) get no entry."
    bd, rec = _tool(), []
    def f(a, b:int=1, *c, **d): "Nothing documented."
    h = bd.doc_html(f, "f", 3, {"git_url": "", "branch": ""}, lambda s: s, rec)
    assert re.findall(r"<tr><td><code>([^<]+)</code>", h) == ["a", "b", "*c", "**d"]
    assert rec[0]["empty"] == ["a", "b", "*c", "**d"]
    def g(a, # the first
          b=2): "One documented."
    rec = []
    assert '<table class="doc-params">' in bd.doc_html(g, "g", 3, {"git_url": "", "branch": ""}, lambda s: s, rec)
    assert rec[0]["empty"] == ["b"]
    assert '<table' not in bd.doc_html(lambda: 1, "h", 3, {"git_url": "", "branch": ""}, lambda s: s)
    import argparse
    class P(argparse.ArgumentParser): "A constructor from another package: its parameters are not documented here."
    assert '<table' not in bd.doc_html(P, "P", 3, {"git_url": "", "branch": ""}, lambda s: s)
    assert bd.is_dunder("RunView.__repr__") and bd.is_dunder("__call__") and not bd.is_dunder("RunView._x")
    for pg in site.glob("*.html"): assert not re.search(r'id="[^"]*__\w+__"', pg.read_text(encoding="utf-8")), pg.name
    n = int(re.search(r"parameters without a docment: (\d+)", built[1]).group(1))
    assert len((site.parent/"empty.txt").read_text().splitlines()) == n

def test_saved_image_sizes_honoured(site):
    "A saved output's width/height metadata (retina PNGs: twice the pixels) set the image's size on the page."
    n = 0
    for nb in NOTEBOOKS:
        sizes = [o["metadata"]["image/png"] for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"
                 for o in c.get("outputs", []) if "image/png" in o.get("metadata", {}) and "width" in o["metadata"]["image/png"]]
        if not sizes: continue
        text = (site/_page(nb)).read_text(encoding="utf-8")
        imgs = re.findall(r'<img\b[^>]*src="data:image/png[^>]*>', text)
        for s in sizes:
            assert any(f'width="{s["width"]}"' in i for i in imgs), f"{nb.name}: no image {s['width']} px wide"
            n += 1
    css = (ROOT/"tools"/"docs_site.css").read_text()
    assert re.search(r"img \{ max-width: 100%; height: auto; \}", css)

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
    src = re.findall(r'class="doc-source" href="([^"]+)"', core)
    assert src and all(u.startswith(_settings()["git_url"] + "/blob/") for u in src), "API entries link to their source"

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
