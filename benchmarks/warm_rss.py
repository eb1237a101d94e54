"""Resident memory of the warming worker, phase by phase (the warm-up's peak RSS, issue 8).

    .venv/bin/python benchmarks/warm_rss.py city|province [--hold]

Runs dashboard.warmup.warm on a fresh cache dir while a thread samples this process's RSS every second,
then prints each phase's wall time and RSS at its start, maximum and end (phases in warm-up order), the RSS after
each earlier window was forgotten, the process's peak (VmHWM) and the RSS after the warm-up released the rows
(`--hold`: as the warm process of `wagemap serve` runs it, keeping the rows and their histories: warm(hold=True)).
Province reads every row into this process: run it under the province lock (HELPERS.md), ~11 min of both cores.
"""

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common  # noqa: E402

os.environ["WAGEMAP_CACHE_DIR"] = tempfile.mkdtemp()
from dashboard import warmup  # noqa: E402
from dashboard.app import create_app  # noqa: E402
from geodata.settings import load_settings  # noqa: E402
from geodata.store import open_store  # noqa: E402


def vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


url = common.store_url(sys.argv[1], "postgis")
a = create_app(store=open_store(url), settings=load_settings(db=url))
samples = []
stop = threading.Event()


def sample() -> None:
    while not stop.is_set():
        samples.append((time.perf_counter(), common.rss_mb(os.getpid())))
        time.sleep(1.0)


threading.Thread(target=sample, daemon=True).start()
from dashboard import services  # noqa: E402

_forget = services.forget_window


def forget_window(scope, month_to):  # the RSS as each earlier window leaves memory
    n = _forget(scope, month_to)
    print(f"  window {month_to} forgotten ({n} window objects): RSS {common.rss_mb(os.getpid()):8.0f} MB", flush=True)
    return n


services.forget_window = forget_window
print("load average", common.loadavg(), "RSS before", round(common.rss_mb(os.getpid())), "MB", flush=True)
t0 = time.perf_counter()
r = warmup.warm(a, hold="--hold" in sys.argv)
stop.set()
t = t0
# phases are in order; "citywide layers" wall is the sum of the layer phases (they come first)
for name, (w, c) in r["phases"].items():
    seg = [m for (ts, m) in samples if t <= ts < t + w]
    print(f"{name:40s} wall {w:6.1f} s  CPU {c:6.1f} s  RSS start {seg[0] if seg else 0:8.0f} max {max(seg) if seg else 0:8.0f} "
          f"end {seg[-1] if seg else 0:8.0f} MB")
    t += w
print(f"after warm (released {r['released']} entries): RSS {common.rss_mb(os.getpid()):.0f} MB, peak (VmHWM) "
      f"{vm('VmHWM'):.0f} MB, {r['seconds']} s, CPU {time.process_time():.0f} s; load average {common.loadavg()}")
