"""The documentation site in a real browser: tools/check_site.py builds the offline site and checks it in headless
Chromium (MathJax typeset the formulas, the search finds `invert`, every image loads, internal links resolve, a
110-character code line fits the column at 1400 px). Skipped where chromium, chromedriver or selenium are missing
(Debian: `apt-get install chromium chromium-driver`; selenium is a dev requirement)."""
import importlib.util, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

def _check_site():
    spec = importlib.util.spec_from_file_location("check_site", ROOT/"tools"/"check_site.py")
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m

def test_site_in_a_browser(tmp_path):
    missing = _check_site().missing()
    if missing: pytest.skip(f"needs {', '.join(missing)}")
    r = subprocess.run([sys.executable, str(ROOT/"tools"/"check_site.py"), "--shots", str(tmp_path/"shots")],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "check_site: 0 failure(s)" in r.stdout
    shots = {p.name for p in (tmp_path/"shots").glob("*.png")}
    assert {"index.png", "losses.png", "inversion.png", "demo.png", "search-http.png", "search-file.png"} <= shots
