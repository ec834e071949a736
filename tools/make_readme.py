"""Render README.md from nbs/index.ipynb without quarto: markdown cells as they are, shown code cells as fenced
Python with their text output, hidden cells left out. `python tools/make_readme.py` writes README.md;
`--check` exits 1 when README.md is out of step (the test suite runs that). With quarto installed,
`nbdev_readme` renders the same notebook."""
import configparser, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _site() -> str:
    "The published documentation site (settings.ini doc_host + doc_baseurl)."
    c = configparser.ConfigParser(); c.read(ROOT/"settings.ini")
    return c["DEFAULT"]["doc_host"].rstrip("/") + "/" + c["DEFAULT"]["doc_baseurl"].strip("/")

def _page(stem: str) -> str:
    "nbdev's page for a notebook: the leading number dropped (00_core -> core.html)."
    return re.sub(r"^\d+[a-zA-Z0-9]*_", "", stem.lower()) + ".html"

def for_github(md: str, nbs=ROOT/"nbs") -> str:
    """Markdown of the index notebook as the README needs it: `images/..` (relative to nbs/, what the site needs)
    becomes `nbs/images/..`; notebook names in backticks and links to notebooks point at their pages on the site."""
    stems = sorted((p.stem for p in Path(nbs).glob("*.ipynb")), key=len, reverse=True)
    md = re.sub(r"\]\((images/[^)\s]+)\)", r"](nbs/\1)", md)
    md = re.sub(r"\]\((\d+[a-zA-Z0-9]*_\w+)\.ipynb(#[^)]*)?\)", lambda m: f"]({_site()}/{_page(m.group(1))}{m.group(2) or ''})", md)
    if stems:
        pat = re.compile(r"(?<!\[)`(" + "|".join(map(re.escape, stems)) + r")(?:\.ipynb)?`(?!\])")
        md = pat.sub(lambda m: f"[`{m.group(0)[1:-1]}`]({_site()}/{_page(m.group(1))})", md)
    return md

def render(nb_path=ROOT/"nbs"/"index.ipynb") -> str:
    "The README text for the notebook at `nb_path`."
    parts = []
    for c in json.loads(Path(nb_path).read_text(encoding="utf-8"))["cells"]:
        src = "".join(c["source"]).strip()
        if not src: continue
        if c["cell_type"] == "markdown":
            parts.append(for_github(src))
            if len(parts) == 1: parts.append(f"Documentation: <{_site()}> (the notebooks rendered; `python tools/build_docs.py` builds it "
                                              "offline into `_docs/`).")
            continue
        first = src.splitlines()[0]
        if first.startswith("#|") and any(k in first for k in ("hide", "export")): continue
        parts.append(f"```python\n{src}\n```")
        out = "".join("".join(o.get("text", "")) for o in c.get("outputs", []) if o.get("output_type") == "stream").strip()
        if out: parts.append(f"```\n{out}\n```")
    return "<!-- generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file -->\n\n" + "\n\n".join(parts) + "\n"

if __name__ == "__main__":
    text, readme = render(), ROOT/"README.md"
    if "--check" in sys.argv:
        if readme.read_text(encoding="utf-8") != text: sys.exit("README.md is out of step with nbs/index.ipynb: run `python tools/make_readme.py`")
    else: readme.write_text(text, encoding="utf-8"); print(f"wrote {readme}")
