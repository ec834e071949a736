"""Execute notebooks in place, slow cells included, keeping their outputs (what the docs show): `python tools/run_notebook.py nbs/10_demo.ipynb ...`.

`nbdev_test` skips the cells flagged `slow`; this runs every cell in order from the notebook's folder, stops at the
first error (naming the notebook and the cell), writes the outputs into the notebook, and cleans it with `nbdev_clean`.
Skip cells with `--skip cuda` (cells whose first line flags `cuda`: they need a GPU)."""
import argparse, os, subprocess, sys, time
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

def run(path:Path, skip:list[str]):
    nb = read_nb(path)
    flagged = lambda c: c.cell_type == "code" and any(c.source.startswith(f"#| {f}") for f in skip)
    cwd = os.getcwd(); os.chdir(path.parent)
    try:
        t0 = time.perf_counter()
        CaptureShell(path, mpl_format="retina").run_all(nb, exc_stop=True, preproc=flagged)
    finally: os.chdir(cwd)
    write_nb(nb, path)
    print(f"{path}: ran in {time.perf_counter() - t0:.0f} s", flush=True)

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--skip", nargs="*", default=["cuda"], help="cell flags to skip (default: cuda)")
    a = p.parse_args()
    for nbp in a.notebooks: run(nbp, a.skip)
    sys.exit(max(subprocess.call(["nbdev_clean", "--fname", str(n)]) for n in a.notebooks))
