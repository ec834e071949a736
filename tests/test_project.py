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
