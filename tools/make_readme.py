"""Render README.md from nbs/index.ipynb without quarto: markdown cells as they are, shown code cells as fenced
Python with their text output, hidden cells left out. `python tools/make_readme.py` writes README.md;
`--check` exits 1 when README.md is out of step (the test suite runs that). With quarto installed,
`nbdev_readme` renders the same notebook."""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def render(nb_path=ROOT/"nbs"/"index.ipynb") -> str:
    "The README text for the notebook at `nb_path`."
    parts = []
    for c in json.loads(Path(nb_path).read_text(encoding="utf-8"))["cells"]:
        src = "".join(c["source"]).strip()
        if not src: continue
        if c["cell_type"] == "markdown": parts.append(src); continue
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
