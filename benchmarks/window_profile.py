"""Profile what a month window nobody asked for yet costs per layer (cProfile), rows read once.

    flock /tmp/wagemap-province.lock .venv/bin/python benchmarks/window_profile.py --scale province \
        [--back 6 --windows 2] [--layer warnings ...] [--out /tmp/wp] [--no-profile]

Reads every kind, builds the default window's first layer (the month-independent work), then for
`--windows` windows ending `--back`, `--back`+1, ... months before the latest, times each layer's
overview head (services.overview_head, empty view cache) and writes one cProfile file per layer and
window to --out (`<scale>-<back>-<layer>.prof`). Prints wall / CPU ms per layer and window.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="city")
    ap.add_argument("--back", type=int, default=6)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--layer", action="append", default=None)
    ap.add_argument("--township", action="store_true")
    ap.add_argument("--out", default="/tmp/wp")
    ap.add_argument("--no-profile", action="store_true")
    a = ap.parse_args()
    os.environ["WAGEMAP_CACHE_DIR"] = tempfile.mkdtemp(prefix="wagemap-window-profile-")
    from dashboard import services as S
    from dashboard.app import create_app
    from geodata.settings import load_settings
    from geodata.store import open_store
    from layers import registry

    url = common.store_url(a.scale, "postgis")
    app = create_app(store=open_store(url), settings=load_settings(db=url))
    keys = [k for k in registry.LAYERS if a.layer is None or k in a.layer]
    Path(a.out).mkdir(parents=True, exist_ok=True)
    print(f"{a.scale}: load average {common.loadavg()} before", flush=True)
    with app.server.app_context():
        t = time.process_time()
        for k in S.DATA_KINDS:
            S.kind_frame(None, k)
        frm, to = S.month_window(None, None, None)
        S.overview_head(None, registry.DEFAULT, frm, to)
        print(f"read + default window: {time.process_time() - t:.1f} s CPU", flush=True)
        ms = S.months(None)
        tw = str(S.kind_frame(None, "projects")["township_code"].value_counts().index[0]) if a.township else None
        for b in range(a.back, a.back + a.windows):
            wto = ms[-1 - b]
            wfrm = S.month_window(None, None, wto)[0]
            tot = 0.0
            for k in keys + (["township"] if tw else []):
                if k == "township":
                    fn = lambda a_=wfrm, b_=wto: S.township_view(None, tw, a_, b_, mask_pii=True)  # noqa: E731
                else:
                    fn = lambda k=k, a_=wfrm, b_=wto: S.overview_head(None, k, a_, b_)  # noqa: E731
                w, c = time.perf_counter(), time.process_time()
                if a.no_profile:
                    fn()
                else:
                    pr = cProfile.Profile()
                    pr.runcall(fn)
                    pr.dump_stats(f"{a.out}/{a.scale}-{b}-{k}.prof")
                w, c = (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000
                tot += c
                print(f"..{wto} {k:18s} {w:8,.0f} ms wall {c:8,.0f} ms CPU", flush=True)
            print(f"..{wto} sum CPU {tot:,.0f} ms; load average {common.loadavg()}", flush=True)


if __name__ == "__main__":
    main()
