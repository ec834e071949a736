import os
os.environ.setdefault("RETHINKMI_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
