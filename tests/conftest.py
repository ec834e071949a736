import os
os.environ.setdefault("RETHINKMI_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import json
import pytest


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow (CI does)")


def pytest_report_header(config):
    import torch
    capability = torch.backends.cpu.get_cpu_capability()
    return f"torch {torch.__version__}: {torch.get_num_threads()} threads, CPU capability {capability}"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: real processes for minutes (torchrun, signals, compiling)")
    config.addinivalue_line("markers", "numerics: a numerical claim; CI reruns it with other kernels")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"): return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)


@pytest.fixture
def tiny_demo_record(tmp_path):
    """A record of a tiny demo that `rethinkmi demo --config` runs in seconds: GMI and KEDMI, baseline and LOMMA+L2,
    both public settings (8 attacks). Returns (the record's path, its settings)."""
    from rethinkmi.demo import tiny_settings
    from rethinkmi.demo_models import student_archs
    s = tiny_settings()    # the test settings of 10_demo, smaller still
    s["models"] |= dict(n_ids=3, n_train=3, n_test=1, public_ids=8, gan_batch=8)
    s["students"] |= dict(archs=student_archs((2,), 32), n_public=16, batch_size=8)
    s["preg"]["n"] = 16
    s["attack"] |= dict(n_ids=2, iters=2, ckpt_every=1)
    s["variants"] = ["baseline", "lomma+l2"]
    p = tmp_path/"tiny-demo.json"
    p.write_text(json.dumps(dict(command="demo", arguments=dict(settings=s, device="cpu"))))
    return p, s
