"""Build the documentation site into `_docs/` (settings.ini `doc_path`).

With `quarto` on PATH this runs `nbdev_docs`, nbdev's own build, configured by the top-level `_quarto.yml` that
nbdev finds through the symlink `nbs/_quarto.yml`. Without quarto (CI, offline machines) it builds a static site
itself, with no network and without executing any notebook:

- one page per notebook in `nbs/`, named as nbdev names it (`00_core.ipynb` -> `core.html`), processed by nbdev's
  own notebook processors: `#| hide`, `#| export` and `## ... -` cells removed, nbdev directives stripped, a
  `show_doc` entry added after each exported definition;
- `show_doc` entries rendered from the installed package (signature, docstring, a table of the parameters'
  types, defaults and docments, a link to the source), where nbdev would execute the exported cells;
- quarto cell options honoured (`echo`, `output`, `include`, `fig-cap`) and stripped from the shown code; saved
  outputs (figures, tables, text) shown as saved;
- the sidebar, title and css of `_quarto.yml`, a table of contents and previous/next links on every page;
- a link check: every local `href`/`src` must resolve (exit 1 otherwise); missing `#anchors` are reported.

    python tools/build_docs.py                      # quarto if installed, else the offline build, into _docs/
    python tools/build_docs.py --offline            # the offline build even where quarto is installed
    python tools/build_docs.py --out /tmp/site      # the offline build into another folder
"""
from __future__ import annotations
import argparse, ast, fnmatch, html, importlib, inspect, json, os, re, shutil, subprocess, sys, warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path[:1]: sys.path.insert(0, str(ROOT))  # the checkout's package, never an installed copy
MARKER = ".build_docs"  # written into an offline build's folder: the only non-default folders it will empty
MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
MATHJAX_CACHE = ROOT/".cache"/"mathjax"  # `npm pack mathjax@3` lands here (ignored by git)
# what of MathJax 3's es5/ folder the site carries: the one combined component and what it loads on demand
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input", "ui", "a11y")
SEARCH_JS = "search.js"             # tools/docs_search.js, copied
SEARCH_INDEX = "search_index.js"    # `window.SEARCH_INDEX = {...}`: a script, so search works from file:// too
NAMES_PAGE = "names.html"           # every public name, linked to its entry

def say(*a): print("build_docs:", *a, file=sys.stderr)

def check_checkout(lib: str) -> str | None:
    "Why `lib` is not this checkout's package (imported from elsewhere, or not at all), or None when it is."
    try: mod = importlib.import_module(lib)
    except Exception as e: return f"cannot import {lib} from the checkout {ROOT}: {e!r}"
    f = Path(getattr(mod, "__file__", None) or "").resolve()
    if not f.is_relative_to(ROOT):
        return f"{lib} is imported from {f.parent}, not from this checkout {ROOT}: its pages would document another copy"
    return None

def _mathjax_root(d: Path) -> Path | None:
    "The folder of MathJax 3's combined components under `d` (es5/ in the npm package), if any."
    for r in (d/"es5", d):
        if (r/"tex-mml-chtml.js").is_file() and (r/"output"/"chtml"/"fonts"/"woff-v2").is_dir(): return r
    return None

def _mathjax_npm() -> Path | None:
    "MathJax 3 from the npm registry, cached in `MATHJAX_CACHE` (`npm pack`, unpacked once); None without npm or network."
    unpacked = MATHJAX_CACHE/"package"
    if (r := _mathjax_root(unpacked)): return r
    npm = shutil.which("npm")
    if not npm: return None
    MATHJAX_CACHE.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run([npm, "pack", "mathjax@3", "--pack-destination", str(MATHJAX_CACHE)],
                           capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired): return None
    tgz = sorted(MATHJAX_CACHE.glob("mathjax-3*.tgz"))
    if r.returncode or not tgz: return None
    import tarfile
    with tarfile.open(tgz[-1]) as t: t.extractall(MATHJAX_CACHE, filter="data")
    return _mathjax_root(unpacked)

def vendor_mathjax(out: Path, cdn=False) -> tuple[str | None, str]:
    "Copy MathJax 3 into `out`/mathjax: (site path of its script or None for the CDN, where it came from)."
    src = None if cdn else (_mathjax_root(Path("/usr/share/javascript/mathjax")) or _mathjax_npm())
    if src is None: return None, "the CDN (" + ("--mathjax-cdn" if cdn else
                                "no MathJax 3 in /usr/share/javascript/mathjax, and `npm pack mathjax@3` failed") + ")"
    dest = out/"mathjax"
    for part in MATHJAX_PARTS:
        s = src/part
        if s.is_dir(): shutil.copytree(s, dest/part, dirs_exist_ok=True)
        elif s.is_file():
            (dest/part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, dest/part)
    lic = next((p for p in (src/"LICENSE", src.parent/"LICENSE") if p.is_file()), None)
    if lic: shutil.copy2(lic, dest/"LICENSE")
    version = json.loads((src.parent/"package.json").read_text()).get("version", "3") if (src.parent/"package.json").is_file() else "3"
    return "mathjax/tex-mml-chtml.js", f"MathJax {version} from {src}, copied into the site"

# ---------------------------------------------------------------------------------------------------------- config
def load_config():
    "nbdev's settings and the site configuration of `_quarto.yml`, read from the repository root."
    from nbdev.config import get_config
    cfg = get_config(path=ROOT)
    q = yaml.safe_load((ROOT/"_quarto.yml").read_text(encoding="utf-8")) or {}
    return cfg, q

def notebooks(cfg) -> list[Path]:
    "The notebooks nbdev documents (its own glob: files and folders starting with `_` or `.` are skipped)."
    from nbdev.doclinks import nbglob
    return sorted(Path(p) for p in nbglob(cfg.nbs_path, as_path=True))

def page_name(rel: Path) -> str:
    "The page nbdev writes for the notebook at `rel` (relative to nbs/): leading number dropped, `.html`."
    from nbdev.doclinks import _nbpath2html
    return _nbpath2html(Path(rel)).as_posix()

def parse_sidebar(contents, nbs: list[str], missing: list[str]) -> list[dict]:
    "The `website.sidebar.contents` of _quarto.yml as nested dicts: {'page', 'text'}, {'link', 'text'}, {'section', 'contents'}."
    out = []
    def files(pat, text=None):
        if any(ch in pat for ch in "*?["): return [{"page": n, "text": None} for n in nbs if fnmatch.fnmatch(n, pat)]
        if pat in nbs: return [{"page": pat, "text": text}]
        missing.append(pat); return []
    for e in contents or []:
        if isinstance(e, str): out += files(e)
        elif isinstance(e, dict) and "section" in e:
            sec = {"section": e["section"], "contents": parse_sidebar(e.get("contents", []), nbs, missing)}
            if isinstance(e.get("contents"), str): sec["contents"] = files(e["contents"])
            out.append(sec)
        elif isinstance(e, dict) and "auto" in e:
            a = e["auto"]
            out += files("*") if a is True else files(a if "*" in str(a) else str(a).rstrip("/") + "/*")
        elif isinstance(e, dict) and "href" in e:
            h = e["href"]
            if urlsplit(h).scheme: out.append({"link": h, "text": e.get("text", h)})
            else: out += files(h, e.get("text"))
    return out

def sidebar_pages(items) -> list[str]:
    "The notebooks of a parsed sidebar, in order."
    res = []
    for it in items:
        if "page" in it: res.append(it["page"])
        elif "section" in it: res += sidebar_pages(it["contents"])
    return res

# -------------------------------------------------------------------------------------------------------- show_doc
class DocNamespace:
    "Names `show_doc` cells refer to: the package's modules, imported (never the notebooks executed)."
    def __init__(self, lib: str):
        self.lib, self._all, self.errors = lib, None, []
    def _modules(self):
        try: syms = importlib.import_module(f"{self.lib}._modidx").d["syms"]
        except Exception as e: self.errors.append(f"{self.lib}._modidx: {e!r}"); return []
        return sorted(syms)
    def all(self) -> dict:
        if self._all is None:
            self._all = {}
            for m in self._modules():
                try: mod = importlib.import_module(m)
                except Exception as e: self.errors.append(f"import {m}: {e!r}"); continue
                self._all.update({k: v for k, v in vars(mod).items() if not k.startswith("__")})
        return self._all
    def ns(self, default_exp: str | None) -> dict:
        d = dict(self.all())
        if default_exp: d.update(vars(importlib.import_module(f"{self.lib}.{default_exp}")))
        return d

def md2html(s: str, inline=False) -> str:
    "Markdown (with maths left for MathJax) to HTML, as nbconvert renders notebook markdown."
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    h = markdown2html_mistune(s or "").strip()
    if inline and h.startswith("<p>") and h.endswith("</p>") and h.count("<p>") == 1: h = h[3:-4]
    return h

_INLINE_TAGS = {"a", "b", "br", "code", "em", "i", "kbd", "s", "samp", "small", "span", "strong", "sub", "sup", "u", "var"}

def escape_placeholders(s: str) -> str:
    "`<name> <label>` in a docstring or docment is text, not html (a browser reads `<image>` as an `<img>`): written out,\n    outside code spans and maths; inline tags (`<code>`, `<b>`, ...) stay html."
    def esc(part):
        return re.sub(r"<(/?)([A-Za-z][\w-]*)([^<>]*)>",
                      lambda m: m.group(0) if m.group(2).lower() in _INLINE_TAGS else "&lt;" + m.group(0)[1:-1] + "&gt;", part)
    return "".join(x if x.startswith(("`", "$")) else esc(x) for x in re.split(r"(`+[^`]*`+|\$\$.*?\$\$|\$[^$]*\$)", s or "", flags=re.S))

def _anno(a) -> str:
    "An annotation as written (string annotations and ForwardRefs, from `from __future__ import annotations`, unquoted)."
    if a is inspect.Parameter.empty: return ""
    s = a if isinstance(a, str) else inspect.formatannotation(a)
    return re.sub(r"ForwardRef\('([^']*)'\)", r"\1", s)

def _params(name, obj, sig):
    "The parameters a reader passes: `self`/`cls` of a method (a `@patch`ed one shows it) left out."
    ps = list(sig.parameters.values())
    if ps and "." in name and not inspect.isclass(obj) and ps[0].name in ("self", "cls"): ps = ps[1:]
    return ps

def signature_text(name: str, obj) -> str | None:
    "`f(p:type=default, ...)->ret` (`f`: the last part of `name`, unless `obj` is a class), wrapped one parameter a line when long."
    try: sig = inspect.signature(obj)
    except (TypeError, ValueError): return None
    parts, star, ps = [], False, _params(name, obj, sig)
    name = name if inspect.isclass(obj) else name.split(".")[-1]
    for i, p in enumerate(ps):
        if p.kind == p.KEYWORD_ONLY and not star: parts.append("*"); star = True
        s = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.kind == p.VAR_POSITIONAL: star = True
        if p.annotation is not p.empty: s += ":" + _anno(p.annotation)
        if p.default is not p.empty: s += "=" + repr(p.default)
        parts.append(s)
        if p.kind == p.POSITIONAL_ONLY and (i+1 == len(ps) or ps[i+1].kind != p.POSITIONAL_ONLY): parts.append("/")
    ret = "" if sig.return_annotation is sig.empty else "->" + _anno(sig.return_annotation)
    one = f"{name}({', '.join(parts)}){ret}"
    if len(one) <= 100: return one
    return f"{name}(\n" + "".join(f"    {x},\n" for x in parts) + f"){ret}"

def _source_url(obj, settings) -> str | None:
    try:
        o = inspect.unwrap(obj.fget if isinstance(obj, property) else obj)
        f, (_, ln) = inspect.getsourcefile(o), inspect.getsourcelines(o)
        rel = Path(f).resolve().relative_to(ROOT)
    except (TypeError, OSError, ValueError): return None
    return f"{settings['git_url'].rstrip('/')}/blob/{settings['branch']}/{rel.as_posix()}#L{ln}"

def is_dunder(name: str) -> bool:
    "`RunView.__repr__`, `__call__`: a special method, which gets no entry of its own (nbdev's show_doc would give one)."
    last = name.split(".")[-1]
    return len(last) > 4 and last.startswith("__") and last.endswith("__")

def doc_html(obj, name: str, level: int, settings, linkify, record: list | None = None) -> str:
    "nbdev's `show_doc` entry for `obj`: heading (anchor = lower-cased name, as nbdev links it), signature, docstring, parameter table."
    anchor = name.lower()
    head = f'<h{level} id="{html.escape(anchor)}" class="doc-name">{html.escape(name)}</h{level}>'
    src = _source_url(obj, settings)
    if src: head += f'<a class="doc-source" href="{html.escape(src)}">source</a>'
    out = [f'<div class="doc-entry"><div class="doc-head">{head}</div>']
    sig = signature_text(name, obj)
    if sig: out.append(f'<pre class="doc-signature"><code>{html.escape(sig)}</code></pre>')
    doc = inspect.getdoc(obj)
    if doc: out.append(f'<div class="doc-string">{md2html(linkify(escape_placeholders(doc)))}</div>')
    rows = _doc_rows(obj, name)
    if rows:
        body = "".join(f"<tr><td><code>{html.escape(n)}</code></td><td>{html.escape(t)}</td><td>{d}</td><td>{m}</td></tr>"
                       for n, t, d, m in rows)
        out.append('<table class="doc-params"><thead><tr><th></th><th>Type</th><th>Default</th><th>Details</th></tr></thead>'
                   f"<tbody>{body}</tbody></table>")
    if record is not None:
        record.append(dict(name=name, anchor=anchor, signature=sig or name, summary=(doc or "").split("\n\n")[0], source=src,
                           empty=[n for n, _, _, m in rows if n != "returns" and not m.strip()]))
    return "\n".join(out) + "</div>"

def _doc_rows(obj, name):
    "(name, type, default html, details html) per parameter (with or without docments, as nbdev's show_doc), and the return."
    from fastcore.docments import docments
    try: sig = inspect.signature(obj)
    except (TypeError, ValueError): return []
    init = obj.__init__ if inspect.isclass(obj) and obj.__init__ is not object.__init__ else None
    if init and not (getattr(init, "__module__", None) or "").startswith(obj.__module__.split(".")[0]):
        return []   # a constructor inherited from another package (argparse's, say): its parameters are not ours
    dm = {}
    # a dataclass inherits fields, and their docments, from its bases: the class's own docments win
    for o in reversed(obj.__mro__[:-1] if inspect.isclass(obj) else (obj,)):
        try: dm |= {k: v for k, v in docments(o, full=True, args_kwargs=True).items() if v.get("docment")}
        except Exception: pass
    rows, empty = [], inspect.Parameter.empty
    for p in _params(name, obj, sig):
        d = dm.get(p.name, {})
        star = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        dflt = "" if p.default is empty else f"<code>{html.escape(repr(p.default))}</code>"
        rows.append((star + p.name, _anno(p.annotation), dflt, md2html(escape_placeholders(d.get("docment")), inline=True)))
    r = dm.get("return", {})
    if rows and (r.get("docment") or sig.return_annotation is not empty):
        rows.append(("returns", _anno(sig.return_annotation), "", md2html(escape_placeholders(r.get("docment")), inline=True)))
    return rows

def _showdoc_calls(code: str):
    "The `show_doc(...)` calls of a cell whose every statement is one; else None."
    try: tree = ast.parse(code)
    except SyntaxError: return None
    calls = [s.value for s in tree.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
             and getattr(s.value.func, "id", None) == "show_doc"]
    return calls if calls and len(calls) == len(tree.body) else None

# ------------------------------------------------------------------------------------------------ notebook -> page
_re_qopt = re.compile(r"^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$")

def split_options(src: str):
    "Quarto cell options (`#| key: value` lines at the top, left in place by nbdev) and the code after them."
    lines, opts = src.splitlines(), {}
    i = 0
    while i < len(lines) and (m := _re_qopt.match(lines[i])):
        try: opts[m.group(1)] = yaml.safe_load(m.group(2))
        except yaml.YAMLError: opts[m.group(1)] = m.group(2)
        i += 1
    return opts, "\n".join(lines[i:]).strip("\n")

def link_notebook_names(md: str, stems: dict) -> str:
    "`00_core` or `00_core.ipynb` in backticks, naming a notebook (`stems`: name -> link), links to it (outside code fences)."
    if not stems: return md
    pat = re.compile(r"(?<!\[)`(" + "|".join(map(re.escape, sorted(stems, key=len, reverse=True))) + r")(?:\.ipynb)?`(?!\])")
    lines, fence = md.splitlines(), False
    for i, l in enumerate(lines):
        if l.lstrip().startswith("```"): fence = not fence
        elif not fence: lines[i] = pat.sub(lambda m: f"[`{m.group(0)[1:-1]}`]({stems[m.group(1)]})", l)
    return "\n".join(lines)

def _output(o):
    "A saved output as nbformat holds it in memory (multi-line strings joined, as `nbformat.read` does)."
    import nbformat
    o = json.loads(json.dumps(o))
    j = lambda v: "".join(v) if isinstance(v, list) else v
    if "text" in o: o["text"] = j(o["text"])
    if "data" in o: o["data"] = {k: (v if k.endswith("json") else j(v)) for k, v in o["data"].items()}
    if o.get("output_type") == "execute_result": o.setdefault("execution_count", None)
    return nbformat.from_dict(o)

def _plain(h: str) -> str:
    "Text of an html (or markdown) fragment: tags, images and styles dropped, entities decoded, spaces collapsed."
    h = re.sub(r"<(style|script|svg)\b.*?</\1>", " ", h, flags=re.S|re.I)
    h = re.sub(r"</?(p|div|li|ul|ol|tr|td|th|table|pre|br|h\d|blockquote)\b[^>]*>", " ", h, flags=re.I)
    h = re.sub(r"<[^>]+>", "", h)
    return re.sub(r"\s+", " ", html.unescape(h).replace("¶", "")).strip()

def page_sections(body: str, page: str, title: str, chars=300) -> list[dict]:
    "Search entries of a page: the page itself and each h2-h4 section with an id (show_doc entries have their own)."
    hs = [m for m in re.finditer(r'<h([1-4])\b([^>]*)>(.*?)</h\1>', body, flags=re.S)]
    res = [dict(t=title, u=page, k="page", p=title, x=_plain(body[:hs[0].start()] if hs else body)[:chars])]
    for i, m in enumerate(hs):
        ident = re.search(r'\bid="([^"]+)"', m.group(2))
        if not ident or "doc-name" in m.group(2): continue
        end = hs[i+1].start() if i+1 < len(hs) else len(body)
        res.append(dict(t=_plain(m.group(3)), u=f"{page}#{html.unescape(ident.group(1))}", k="section", p=title,
                        x=_plain(body[m.end():end])[:chars]))
    return res

class Site:
    "The offline build of the documentation site."
    def __init__(self, out: Path, mathjax_cdn=False):
        import nbdev.processors as P
        self.cfg, self.q = load_config()
        self.out, self.nbs_path = Path(out), Path(self.cfg.nbs_path)
        self.nbs = [p.relative_to(self.nbs_path).as_posix() for p in notebooks(self.cfg)]
        self.pages = {n: page_name(n) for n in self.nbs}
        self.stems = {Path(n).stem: n for n in self.nbs}
        self.settings = {k: self.cfg.get(k, "") for k in ("git_url", "branch", "doc_host", "doc_baseurl")}
        self.docns = DocNamespace(self.cfg.lib_name)
        self.errors, self.warnings, self.titles, self.entries, self.sections = [], [], {}, [], []
        self.mathjax_cdn, self.mathjax, self.mathjax_from = mathjax_cdn, None, ""
        site = self.q.get("website", {})
        missing = []
        self.sidebar = parse_sidebar(site.get("sidebar", {}).get("contents", []), self.nbs, missing)
        for m in missing: self.errors.append(f"_quarto.yml: the sidebar lists {m}, which is not a notebook in {self.nbs_path.name}/")
        unlisted = [n for n in self.nbs if n not in sidebar_pages(self.sidebar)]
        if unlisted:
            self.warnings.append("not in the sidebar of _quarto.yml (shown under 'More' here, missing from quarto's sidebar): " + ", ".join(unlisted))
            self.sidebar.append({"section": "More", "contents": [{"page": n, "text": None} for n in unlisted]})
        self.order = sidebar_pages(self.sidebar)
        self.sidebar.append({"site_page": NAMES_PAGE, "text": "Index of names"})
        self.P = P
        from nbdev.doclinks import NbdevLookup
        self.lookup = NbdevLookup()

    # ---- processing (nbdev's processors, show_doc rendered from the package) ----
    def procs(self, rel: str):
        P, site = self.P, self
        class render_show_docs(P.Processor):
            "Stands in for nbdev's `exec_show_docs`: renders each `show_doc(...)` cell's output from the installed package."
            def begin(self):
                self.default_exp = P._default_exp(self.nb)
            def __call__(self, cell):
                if cell.cell_type != "code": return
                if getattr(self.nb, "has_docs_", None):  # what nbdev_docs would execute: a slow or test cell there breaks the site build
                    with warnings.catch_warnings(record=True) as w:
                        warnings.simplefilter("always")
                        try: P._do_eval(cell)
                        except Exception: pass
                    if w:
                        first = next((l for l in cell.source.splitlines() if l.strip() and not l.startswith("#|")), "")
                        site.errors.append(f"{rel}: nbdev_docs (quarto) would execute this cell, as it mixes imports with other code "
                                             f"(nbdev FAQ; move the imports to an import cell): {first.strip()[:70]}")
                if not P._is_showdoc(cell): return
                calls = _showdoc_calls(split_options(cell.source)[1])
                if calls is None: return
                try: ns = site.docns.ns(self.default_exp)
                except Exception as e: site.errors.append(f"{rel}: cannot import the module of `show_doc`: {e!r}"); return
                ns = {**ns, "show_doc": None}
                parts = []
                for c in calls:
                    expr = ast.unparse(c.args[0]) if c.args else ""
                    try:
                        kw = {k.arg: ast.literal_eval(k.value) for k in c.keywords if k.arg in ("name", "title_level")}
                        obj = eval(expr, ns)
                    except Exception as e:
                        site.errors.append(f"{rel}: show_doc({expr}) cannot be resolved from the package ({e!r}); is the notebook exported?")
                        continue
                    name = kw.get("name") or expr
                    if is_dunder(name): continue
                    n0 = len(site.entries)
                    parts.append(doc_html(obj, name, kw.get("title_level", 3), site.settings, site.lookup.linkify, site.entries))
                    for e in site.entries[n0:]: e.update(page=site.pages[rel], module=self.default_exp or "")
                cell.outputs = [dict(output_type="display_data", metadata={}, data={"text/html": "\n".join(parts)})] if parts else []
        res = []
        for p in P.FilterDefaults().procs():
            if p is P.exec_show_docs: res.append(render_show_docs)
            elif p is not P.insert_warning: res.append(p)
        return res

    def process(self, rel: str):
        "The notebook `rel` after nbdev's processing: (frontmatter dict, list of nbformat cells)."
        import nbformat
        from execnb.nbio import read_nb
        from nbdev.process import NBProcessor
        nb = read_nb(self.nbs_path/rel)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            NBProcessor(nb=nb, procs=self.procs(rel)).process()
        for x in w: self.warnings.append(f"{rel}: nbdev: {str(x.message).strip().splitlines()[0]}")
        fm, cells = dict(getattr(nb, "frontmatter_", {}) or {}), []
        v4 = nbformat.v4
        for c in nb.cells:
            if c.cell_type == "raw": continue  # the frontmatter nbdev inserted
            if c.cell_type == "markdown":
                src = link_notebook_names(c.source, {s: os.path.relpath(n, Path(rel).parent.as_posix() or ".") for s, n in self.stems.items()})
                cells.append(v4.new_markdown_cell(src, attachments=c.get("attachments")) if c.get("attachments") else v4.new_markdown_cell(src))
                continue
            opts, code = split_options(c.source)
            if opts.get("include") is False: continue
            outs = [] if opts.get("output") is False else [_output(o) for o in c.get("outputs", [])]
            if opts.get("fig-cap") and any("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {}) for o in outs):
                outs.append(nbformat.from_dict(dict(output_type="display_data", metadata={},
                            data={"text/html": f'<p class="figure-caption">{md2html(str(opts["fig-cap"]), inline=True)}</p>'})))
            hide_input = opts.get("echo") is False or not code.strip()
            if hide_input and not outs: continue
            cell = v4.new_code_cell(code, outputs=outs)
            if hide_input: cell.metadata["tags"] = ["remove_input"]
            cells.append(cell)
        return fm, cells

    def exporter(self):
        from nbconvert import HTMLExporter
        from traitlets.config import Config
        c = Config()
        c.TagRemovePreprocessor.enabled = True
        c.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
        c.HTMLExporter.exclude_input_prompt = c.HTMLExporter.exclude_output_prompt = True
        return HTMLExporter(config=c, template_name="basic")

    # ---- page ----
    def rel_href(self, frm: str, to: str) -> str:
        "Link from page `frm` to site file `to` (both relative to the site root)."
        return os.path.relpath(to, Path(frm).parent.as_posix() or ".").replace(os.sep, "/")

    def nav_html(self, cur: str) -> str:
        def items(its):
            res = []
            for it in its:
                if "section" in it: res.append(f'<li class="nav-section"><span>{html.escape(str(it["section"]))}</span><ul>{items(it["contents"])}</ul></li>')
                elif "link" in it: res.append(f'<li><a href="{html.escape(it["link"])}">{html.escape(str(it["text"]))}</a></li>')
                elif "site_page" in it:  # a page of this build, not a notebook's (the index of names)
                    cls = ' class="active"' if it["site_page"] == cur else ""
                    res.append(f'<li><a{cls} href="{self.rel_href(cur, it["site_page"])}">{html.escape(it["text"])}</a></li>')
                else:
                    pg = self.pages[it["page"]]
                    cls = ' class="active"' if pg == cur else ""
                    txt = it.get("text") or self.titles.get(it["page"], Path(it["page"]).stem)
                    res.append(f'<li><a{cls} href="{self.rel_href(cur, pg)}">{html.escape(str(txt))}</a></li>')
            return "".join(res)
        return f'<nav class="sidebar" aria-label="pages"><ul>{items(self.sidebar)}</ul></nav>'

    def toc_html(self, body: str) -> str:
        hs = re.findall(r'<h([23])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', body, flags=re.S)
        if len(hs) < 2: return ""
        lis = "".join(f'<li class="toc-h{l}"><a href="#{i}">{html.escape(html.unescape(re.sub("<[^>]+>", "", t)).replace("¶", "").strip())}</a></li>'
                      for l, i, t in hs)
        return f'<nav class="toc" aria-label="on this page"><h2>On this page</h2><ul>{lis}</ul></nav>'

    def pager_html(self, rel: str) -> str:
        if rel not in self.order: return ""
        i, cur = self.order.index(rel), self.pages[rel]
        def a(j, cls, arrow):
            n = self.order[j]
            return f'<a class="{cls}" href="{self.rel_href(cur, self.pages[n])}">{arrow} {html.escape(self.titles.get(n, n))}</a>'
        prev = a(i-1, "prev", "&larr;") if i > 0 else "<span></span>"
        nxt = a(i+1, "next", "&rarr;") if i+1 < len(self.order) else "<span></span>"
        return f'<nav class="pager">{prev}{nxt}</nav>'

    def fix_refs(self, page_html: str, rel: str, cur: str) -> str:
        "Notebook links -> pages, links into the published site -> relative, assets copied beside the page."
        base = (self.settings["doc_host"].rstrip("/") + "/" + self.settings["doc_baseurl"].strip("/")).rstrip("/") + "/"
        nbdir = (self.nbs_path/rel).parent
        def fix(m):
            attr, url = m.group(1), html.unescape(m.group(2))
            if url.startswith(base):  # a link nbdev made into the published site: the page here
                path, _, frag = url[len(base):].partition("#")
                url = self.rel_href(cur, path or "index.html") + ("#" + frag if frag else "")
            sp = urlsplit(url)
            if not (sp.scheme or url.startswith(("#", "//")) or not sp.path):
                path = unquote(sp.path)
                if path.endswith(".ipynb"):
                    try: nbrel = (nbdir/path).resolve().relative_to(self.nbs_path.resolve()).as_posix()
                    except ValueError: nbrel = None
                    if nbrel in self.pages: url = self.rel_href(cur, self.pages[nbrel]) + ("#" + sp.fragment if sp.fragment else "")
                elif not path.endswith(".html"): self.copy_asset(rel, cur, path)
            return f'{attr}="{html.escape(url)}"'
        return re.sub(r'\b(href|src)="([^"]*)"', fix, page_html)

    def copy_asset(self, rel: str, cur: str, path: str):
        "Copy a file a page refers to into the site, beside the page (as quarto does); from the repository root as a last resort."
        dest = (self.out/Path(cur).parent/path).resolve()
        if dest.exists() or not dest.is_relative_to(self.out.resolve()): return
        src = (self.nbs_path/rel).parent/path
        if not src.is_file() and (ROOT/path).is_file():
            src = ROOT/path
            self.warnings.append(f"{rel}: {path} resolves from the repository root only: quarto's site will not find it "
                                 f"(write it relative to {self.nbs_path.name}/, e.g. {Path(path).relative_to(self.nbs_path.name).as_posix() if path.startswith(self.nbs_path.name + '/') else path})")
        if src.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)

    def page(self, rel: str | None, fm: dict, body: str, cur: str | None = None) -> str:
        "The html page of notebook `rel` (or of the site page `cur`, with `rel` None)."
        cur = cur or self.pages[rel]
        site = self.q.get("website", {})
        sitetitle = str(site.get("title") or self.cfg.get("title", "docs"))
        title = str(fm.get("title") or Path(rel or cur).stem)
        desc = fm.get("description")
        root = self.rel_href(cur, "index.html")
        css = "".join(f'<link rel="stylesheet" href="{self.rel_href(cur, c)}">' for c in ["site.css"] + self.css_files())
        repo = site.get("repo-url") or self.cfg.get("git_url")
        repo_a = f'<a class="repo" href="{html.escape(repo)}">GitHub</a>' if repo else ""
        head_desc = f'<div class="description">{md2html(str(desc), inline=True)}</div>' if desc else ""
        mathjax = self.rel_href(cur, self.mathjax) if self.mathjax else MATHJAX
        here = self.rel_href(cur, ".")
        search = (f'<form class="search" role="search" onsubmit="return false"><input type="search" id="search-input" '
                  f'placeholder="Search" aria-label="Search the site" autocomplete="off">'
                  f'<div id="search-results" class="search-results" hidden></div></form>')
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} – {html.escape(sitetitle)}</title>{css}
<script>window.MathJax = {{tex: {{inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true}}}};</script>
<script async id="MathJax-script" src="{mathjax}"></script>
<script defer src="{self.rel_href(cur, SEARCH_INDEX)}"></script>
<script defer src="{self.rel_href(cur, SEARCH_JS)}" data-root="{'' if here == '.' else here + '/'}"></script>
</head><body>
<header class="navbar"><a class="brand" href="{root}">{html.escape(sitetitle)}</a>{search}{repo_a}</header>
<div class="layout">{self.nav_html(cur)}
<main class="content"><header class="page-title"><h1 class="title">{html.escape(title)}</h1>{head_desc}</header>
{body}
{self.pager_html(rel) if rel else ""}</main>
{self.toc_html(body)}</div>
</body></html>
"""
        return self.fix_refs(page, rel, cur) if rel else page

    def css_files(self) -> list[str]:
        css = self.q.get("format", {}).get("html", {}).get("css", [])
        return [c for c in ([css] if isinstance(css, str) else css) if (self.nbs_path/c).is_file()]

    # ---- build ----
    def build(self):
        out = self.out
        if out.exists():
            default = (ROOT/self.cfg.doc_path.name).resolve() == out.resolve()
            if not (default or (out/MARKER).exists() or not any(out.iterdir())):
                sys.exit(f"build_docs: {out} exists and was not written by this tool; choose an empty folder")
            shutil.rmtree(out)
        out.mkdir(parents=True)
        (out/MARKER).write_text("written by tools/build_docs.py\n")
        (out/".nojekyll").write_text("")
        self.mathjax, self.mathjax_from = vendor_mathjax(out, self.mathjax_cdn)
        if self.mathjax is None and not self.mathjax_cdn: self.warnings.append(f"maths need the network: MathJax from {self.mathjax_from}")
        if NAMES_PAGE in self.pages.values(): self.errors.append(f"a notebook's page is {NAMES_PAGE}, the index of names")
        old = os.getcwd(); os.chdir(ROOT)  # nbdev's processors read settings.ini from the working folder
        try:
            done = [(rel, *self.process(rel)) for rel in self.nbs]
            for rel, fm, _ in done: self.titles[rel] = str(fm.get("title") or Path(rel).stem)
            ex = self.exporter()
            import nbformat
            for rel, fm, cells in done:
                body, _ = ex.from_notebook_node(nbformat.v4.new_notebook(cells=cells, metadata={
                    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                    "language_info": {"name": "python", "pygments_lexer": "python3"}}))
                dest = out/self.pages[rel]
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(self.page(rel, fm, body), encoding="utf-8")
                self.sections += page_sections(body, self.pages[rel], self.titles[rel])
        finally: os.chdir(old)
        self.add_members()
        (out/NAMES_PAGE).write_text(self.page(None, {"title": "Index of names"}, self.names_html(), cur=NAMES_PAGE),
                                    encoding="utf-8")
        self.write_search()
        self.write_css()
        self.errors += [f"show_doc namespace: {e}" for e in self.docns.errors]
        if self.entries and not any(e["source"] for e in self.entries):
            self.errors.append(f"no API entry links to its source: is {self.cfg.lib_name} imported from this checkout ({ROOT})?")
        for n in self.nbs:
            if not (out/self.pages[n]).is_file(): self.errors.append(f"{n} has no page {self.pages[n]}")
        if not (out/"index.html").is_file(): self.errors.append("no index.html (nbs/index.ipynb is missing)")
        errs, warns = check_links(out)
        self.errors += errs; self.warnings += warns
        return self

    def names_html(self) -> str:
        "The body of the index of names: every API entry of the site, A to Z, linked to it, with its summary."
        rows = []
        for e in sorted(self.entries, key=lambda e: (e["name"].lower(), e["page"])):
            href = f'{e["page"]}#{e["anchor"]}'
            summ = md2html(self.lookup.linkify(escape_placeholders(e["summary"])), inline=True) if e["summary"] else ""
            member = f' <small>(in {html.escape(e["name"].rsplit(".", 1)[0])})</small>' if e.get("member") else ""
            rows.append(f'<tr><td><a href="{html.escape(href)}"><code>{html.escape(e["name"])}</code></a>{member}</td>'
                        f'<td>{html.escape(self.lib_module(e))}</td><td>{summ}</td></tr>')
        return (f'<p>Every public function, class and method of <code>{html.escape(self.cfg.lib_name)}</code> '
                f'({len(rows)} entries), linked to its documentation.</p>'
                '<table class="names"><thead><tr><th>Name</th><th>Module</th><th>Summary</th></tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table>')

    def add_members(self):
        "Public methods and attributes with no entry of their own (defined in a class body, as nbdev shows them): in the\n        index of names and the search, linked to their class's entry."
        try: syms = importlib.import_module(f"{self.cfg.lib_name}._modidx").d["syms"]
        except Exception: return
        have = {(e["page"], e["anchor"]) for e in self.entries}
        for mod, ss in syms.items():
            for sym, (url, _) in ss.items():
                name = sym[len(mod)+1:]
                page, _, anchor = url.partition("#")
                if any(p.startswith("_") for p in name.split(".")) or (page, anchor) in have: continue
                owner = name.rsplit(".", 1)[0].lower()
                if "." not in name or (page, owner) not in have:
                    self.warnings.append(f"{sym} has no entry on {page}, nor has its class")
                    continue
                try: member = vars(getattr(importlib.import_module(mod), name.split(".")[0])).get(name.split(".")[1])
                except Exception: member = None
                doc = member.__doc__ if callable(member) or isinstance(member, property) else None  # its own, not inherited
                doc = inspect.cleandoc(doc) if doc else ""
                self.entries.append(dict(name=name, anchor=owner, signature=name, summary=(doc or "").split("\n\n")[0],
                                         source=None, empty=[], page=page, module=mod[len(self.cfg.lib_name)+1:], member=True))

    def lib_module(self, e) -> str:
        return f'{self.cfg.lib_name}.{e["module"]}' if e["module"] else self.cfg.lib_name

    def write_search(self):
        "The search index (a script defining `window.SEARCH_INDEX`: no fetch, so file:// works) and the search script."
        docs = [dict(t=e["name"], u=f'{e["page"]}#{e["anchor"]}', k="api",
                     p=f'{self.lib_module(e)} · {self.titles.get(next((r for r, pg in self.pages.items() if pg == e["page"]), ""), e["page"])}',
                     x=_plain(md2html(escape_placeholders(e["summary"])))[:200]) for e in self.entries]
        docs += self.sections
        (self.out/SEARCH_INDEX).write_text("window.SEARCH_INDEX = " + json.dumps(docs, ensure_ascii=False, separators=(",", ":"))
                                           + ";\n", encoding="utf-8")
        shutil.copy2(Path(__file__).with_name("docs_search.js"), self.out/SEARCH_JS)

    def empty_details(self) -> list[str]:
        "`page: entry: parameter` for each parameter whose Details column is empty (no docment)."
        return [f'{e["page"]}: {e["name"]}: {p}' for e in self.entries for p in e["empty"]]

    def write_css(self):
        from pygments.formatters import HtmlFormatter
        here = Path(__file__).with_name("docs_site.css")
        (self.out/"site.css").write_text(here.read_text(encoding="utf-8") + "\n/* pygments */\n" +
                                         HtmlFormatter(style="default").get_style_defs(".highlight"), encoding="utf-8")
        for c in self.css_files():
            (self.out/c).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.nbs_path/c, self.out/c)

# ------------------------------------------------------------------------------------------------------ link check
class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(); self.ids, self.refs = set(), []
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("id", "name") and v: self.ids.add(v)
            if k in ("href", "src") and v is not None: self.refs.append(v)

def _parse(p: Path) -> _Refs:
    r = _Refs(); r.feed(p.read_text(encoding="utf-8", errors="replace")); return r

def check_links(out: Path):
    "Every local href/src of every page under `out` must name a file in `out` (errors); missing #anchors are warnings."
    out, errors, warns, parsed = Path(out).resolve(), [], [], {}
    def get(p):
        if p not in parsed: parsed[p] = _parse(p)
        return parsed[p]
    for page in sorted(out.rglob("*.html")):
        name = page.relative_to(out).as_posix()
        for ref in get(page).refs:
            sp = urlsplit(ref)
            if sp.scheme or ref.startswith("//"): continue
            target = (page.parent/unquote(sp.path)).resolve() if sp.path else page
            if target.is_dir(): target = target/"index.html"
            if not target.is_relative_to(out): errors.append(f"{name}: {ref} points outside the site"); continue
            if not target.is_file(): errors.append(f"{name}: {ref} does not resolve"); continue
            ids = get(target).ids if sp.fragment and target.suffix == ".html" else ()
            if sp.fragment and target.suffix == ".html" and sp.fragment not in ids and unquote(sp.fragment) not in ids:
                warns.append(f"{name}: {ref}: no anchor #{sp.fragment}")
    return errors, warns

# ---------------------------------------------------------------------------------------------------------- quarto
def build_with_quarto(cfg) -> int:
    "nbdev_docs, with nbs/_quarto.yml being the top-level one; README.md stays tools/make_readme.py's."
    link, top = Path(cfg.nbs_path)/"_quarto.yml", ROOT/"_quarto.yml"
    if not (link.exists() and os.path.samefile(link, top)):
        say(f"{link} must be a symlink to ../_quarto.yml (the one site configuration); "
            f"e.g. `ln -sf ../_quarto.yml {link.relative_to(ROOT)}`")
        return 1
    readme, files = ROOT/"README.md", ROOT/"index_files"
    saved, had_files = (readme.read_bytes() if readme.exists() else None), files.exists()
    exe = Path(sys.executable).with_name("nbdev_docs")
    try: r = subprocess.run([str(exe) if exe.exists() else "nbdev_docs"], cwd=ROOT)
    finally:
        if saved is not None: readme.write_bytes(saved)  # nbdev_docs re-renders it with quarto; ours comes from make_readme
        if files.exists() and not had_files: shutil.rmtree(files)
    if r.returncode: return r.returncode
    out, bad = ROOT/cfg.doc_path.name, []
    for n in notebooks(cfg):
        pg = page_name(n.relative_to(cfg.nbs_path))
        if not (out/pg).is_file(): bad.append(f"{n.name} has no page {pg}")
    errs, warns = check_links(out)
    for w in errs + warns: say("warning:", w)  # quarto's own pages: reported, not fatal
    for b in bad: say("error:", b)
    return 1 if bad else 0

# ------------------------------------------------------------------------------------------------------------ main
def _lib_name() -> str:
    "settings.ini's `lib_name`, read without nbdev (which the checkout check must precede)."
    import configparser
    c = configparser.ConfigParser()
    c.read(ROOT/"settings.ini")
    return c["DEFAULT"].get("lib_name", ROOT.name) if "DEFAULT" in c else ROOT.name

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--offline", action="store_true", help="build without quarto even when it is installed")
    ap.add_argument("--out", help="folder of the offline build (implies --offline; default: settings.ini doc_path)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    ap.add_argument("--mathjax-cdn", action="store_true", help="load MathJax from its CDN instead of copying it into the site")
    ap.add_argument("--empty-details", metavar="FILE",
                    help="write the API entries' parameters that have no docment (page: entry: parameter) to FILE")
    a = ap.parse_args(argv)
    lib = _lib_name()
    if (why := check_checkout(lib)):
        print(f"build_docs: {why}", file=sys.stderr)
        return 1
    if not (a.offline or a.out) and shutil.which("quarto"):
        os.chdir(ROOT)
        cfg, _ = load_config()
        say("quarto found: running nbdev_docs")
        return build_with_quarto(cfg)
    out = Path(a.out).resolve() if a.out else None
    os.chdir(ROOT)  # nbdev reads settings.ini from the working folder
    cfg, _ = load_config()
    out = out or ROOT/cfg.doc_path.name
    s = Site(out, mathjax_cdn=a.mathjax_cdn).build()
    empty = s.empty_details()
    if a.empty_details: Path(a.empty_details).write_text("".join(l + "\n" for l in empty), encoding="utf-8")
    if not a.quiet:
        say(f"maths: {s.mathjax_from}")
        say(f"search: {len(s.entries)} API entries and {len(s.sections)} page sections indexed; {NAMES_PAGE} lists the entries")
        say(f"parameters without a docment: {len(empty)}" + (f" (listed in {a.empty_details})" if a.empty_details else
                                                          " (--empty-details FILE lists them)"))
        for w in s.warnings: say("warning:", w)
    for e in s.errors: say("error:", e)
    n = len(list(out.rglob("*.html")))
    if s.errors:
        say(f"FAILED: {len(s.errors)} error(s); {n} pages in {out}"); return 1
    say(f"{n} pages ({len(s.nbs)} notebooks) in {out}; links checked ({len(s.warnings)} warning(s))")
    return 0

if __name__ == "__main__": sys.exit(main())
