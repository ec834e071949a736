"Every exported module imports on its own: an import that lives only in a notebook cell must fail here."
import subprocess, sys
from pathlib import Path
import pytest

PKG = Path(__file__).resolve().parents[1]/"rethinkmi"
MODULES = sorted(f"rethinkmi.{p.stem}" for p in PKG.glob("*.py") if not p.stem.startswith("_"))

def test_modules_found(): assert "rethinkmi.core" in MODULES and "rethinkmi.data" in MODULES

@pytest.mark.parametrize("module", MODULES)
def test_imports_alone(module):
    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
