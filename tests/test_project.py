"The project's own plumbing: the README is in step with nbs/index.ipynb and the `rethinkmi` command works."
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_readme_in_step():
    r = subprocess.run([sys.executable, str(ROOT/"tools"/"make_readme.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

def test_cli_faces(tmp_path):
    exe = Path(sys.executable).with_name("rethinkmi")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from rethinkmi.cli import main; sys.exit(main())"]
    r = subprocess.run(cmd + ["faces", "--out", str(tmp_path/"g.png"), "--n_ids", "2", "--per_id", "2", "--size", "32"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path/"g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = subprocess.run(cmd + ["faces", "--n_ids", "0", "--out", str(tmp_path/"h.png")], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().startswith("rethinkmi faces: error:") and "Traceback" not in r.stderr

def _prose_lines():
    "(file, line) of the README and every notebook's markdown, code blocks left out."
    import json
    texts = [("README.md", (ROOT/"README.md").read_text(encoding="utf-8"))]
    for nb in sorted((ROOT/"nbs").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        texts += [(nb.name, "".join(c["source"])) for c in cells if c["cell_type"] == "markdown"]
    for name, text in texts:
        fenced = False
        for line in text.splitlines():
            fenced ^= line.lstrip().startswith("```")
            if not fenced: yield name, line

def test_no_bullet_starts_mid_sentence():
    "A line starting `+ ` inside a paragraph (\"+ LOMMA + L2\" after a re-wrap) turns into a list item in markdown."
    bad, prev = [], ""
    for name, line in _prose_lines():
        if line.startswith("+ ") and prev.strip() and not prev.lstrip().startswith(("+ ", "- ", "* ")):
            bad.append(f"{name}: {line[:60]}")
        prev = line
    assert not bad, f"re-wrap these so no line starts with '+ ': {bad}"
