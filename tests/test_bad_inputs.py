"Bad files and inputs end in one clear error that names the file (and line), and never run code."
import pickle, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image

from rethinkmi.core import CheckpointError, load_checkpoint, save_checkpoint
from rethinkmi.data import SplitDataset, make_celeba_splits, read_split

@pytest.fixture
def ckpt(tmp_path):
    p = tmp_path/"good.pt"; save_checkpoint({"w": torch.arange(6.).reshape(2, 3)}, p); return p

def test_missing(tmp_path):
    with pytest.raises(CheckpointError, match="absent.pt: no such checkpoint file"): load_checkpoint(tmp_path/"absent.pt")

@pytest.mark.parametrize("keep", [0, 10, 100, -8])
def test_truncated(tmp_path, ckpt, keep):
    data = ckpt.read_bytes(); bad = tmp_path/"cut.pt"; bad.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(CheckpointError, match="cut.pt: truncated or corrupt"): load_checkpoint(bad)

def test_corrupt_bytes(tmp_path, ckpt):
    data = bytearray(ckpt.read_bytes()); data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64
    bad = tmp_path/"flipped.pt"; bad.write_bytes(bytes(data))
    try: out = load_checkpoint(bad)
    except CheckpointError as e: assert "flipped.pt" in str(e)
    else: assert isinstance(out, dict)  # the damage hit tensor bytes only: still a well-formed file

def test_code_carrying_file_runs_nothing(tmp_path):
    marker = tmp_path/"ran"
    class Evil:
        def __reduce__(self): return (subprocess.call, ([sys.executable, "-c", f"open({str(marker)!r}, 'w')"],))
    p = tmp_path/"evil.tar"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hook": Evil()}, p)
    with pytest.raises(CheckpointError, match="evil.tar: refused"): load_checkpoint(p)
    assert not marker.exists()

def test_old_style_pickle_refused(tmp_path):
    p = tmp_path/"legacy.pt"
    with open(p, "wb") as f: pickle.dump({"w": np.zeros(2)}, f)   # numpy reconstruct: a global that is not allowed
    with pytest.raises(CheckpointError, match="legacy.pt"): load_checkpoint(p)

def test_atomic_save_leaves_no_temp(tmp_path):
    save_checkpoint({"a": torch.ones(2)}, tmp_path/"x.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]

def test_failed_save_keeps_old_file(tmp_path, ckpt):
    before = ckpt.read_bytes()
    with pytest.raises(Exception): save_checkpoint({"bad": lambda: 0}, ckpt)   # lambdas cannot be pickled
    assert ckpt.read_bytes() == before and [p.name for p in ckpt.parent.iterdir()] == ["good.pt"]

@pytest.mark.parametrize("line", ["a.jpg 0 extra", "a.jpg x", "a.jpg -3"])
def test_malformed_split_line(tmp_path, line):
    f = tmp_path/"split.txt"; f.write_text(f"ok.jpg 1\n{line}\n")
    with pytest.raises(ValueError, match=r"split.txt:2: expected"): read_split(f)

def test_missing_split_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nosplit.txt"): read_split(tmp_path/"nosplit.txt")

def test_missing_image(tmp_path):
    Image.fromarray(np.zeros((218, 178, 3), np.uint8)).save(tmp_path/"a.jpg")
    f = tmp_path/"train.txt"; f.write_text("a.jpg 0\n\nb.jpg 1\n")
    with pytest.raises(FileNotFoundError, match=r"train.txt:3: image .*b.jpg not found"): SplitDataset(f, tmp_path)

def test_identity_file_without_labels(tmp_path):
    f = tmp_path/"identity_CelebA.txt"; f.write_text("000001.jpg 5\n000002.jpg\n")
    with pytest.raises(ValueError, match="identity_CelebA.txt"): make_celeba_splits(f, tmp_path/"out", n_ids=1, n_train=1, n_test=0)
