"Every exported module imports on its own: an import that lives only in a notebook cell must fail here."
import os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest

PKG = Path(__file__).resolve().parents[1]/"rethinkmi"
MODULES = sorted(f"rethinkmi.{p.stem}" for p in PKG.glob("*.py") if not p.stem.startswith("_"))

def test_modules_found(): assert "rethinkmi.core" in MODULES and "rethinkmi.data" in MODULES

@pytest.fixture(scope="module")
def imported() -> dict:
    "Each module imported in a fresh interpreter, as many at a time as there are CPUs."
    run = lambda m: subprocess.run([sys.executable, "-c", f"import {m}"], capture_output=True, text=True)
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool: return dict(zip(MODULES, pool.map(run, MODULES)))

@pytest.mark.parametrize("module", MODULES)
def test_imports_alone(module, imported):
    assert imported[module].returncode == 0, imported[module].stderr[-2000:]
