"""A month window nobody has asked for yet: what the first overview of each layer costs (a cache miss).

    .venv/bin/python benchmarks/window.py --scale city [--scale province] [--backend postgis] [--back 6]
                                          [--layer warnings ...] [--township] [--start 3] [--no-record]

One process, empty view cache. First the rows of every kind are read (once per data version; that time
is printed apart), then the default window's overview of the first layer is built (what the warm-up
does first), then, for the window whose last month is `--back` months before the latest, each layer's
overview head (`services.overview_head`, what an indicator switch or a month change asks for) is built
in switcher order: wall and CPU of each (the detail table, stored after the reply, apart), the sum, and
the same again for a second window (`--back` + 1) to show what a window shares with the previous one.
`--start N`: instead, after every layer of the default window (what the warm-up builds first), the
default end month with the start month N and N + 1 months later (a start-month change: the views are
new, the end month's evaluation is not). `--township` adds the township page of the township with most
projects in both windows. Figures go to benchmarks/RESULTS.md unless --no-record.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000


def run(scale: str, backend: str, back: int, only: list[str] | None, township: bool, start: int = 0) -> str:
    os.environ["WAGEMAP_CACHE_DIR"] = tempfile.mkdtemp(prefix="wagemap-bench-window-")
    from dashboard import cache
    from dashboard import services as S
    from dashboard.app import create_app
    from geodata.settings import load_settings
    from geodata.store import open_store
    from layers import registry

    url = common.store_url(scale, backend)
    la0 = common.loadavg()
    app = create_app(store=open_store(url), settings=load_settings(db=url))
    keys = [k for k in registry.LAYERS if only is None or k in only]
    lines = [f"{scale} / {backend}, load average {la0} before:", ""]
    with app.server.app_context():
        read = _timed(lambda: [S.kind_frame(None, k) for k in S.DATA_KINDS])
        frm, to = S.month_window(None, None, None)
        first = _timed(lambda: S.overview_head(None, registry.DEFAULT, frm, to))
        ms = S.months(None)
        lines += [f"- rows of every kind read: {read[0] / 1000:.1f} s wall / {read[1] / 1000:.1f} s CPU",
                  f"- default window {frm}..{to}, first layer ({registry.DEFAULT}): "
                  f"{first[0]:,.0f} ms wall / {first[1]:,.0f} ms CPU",
                  ""]
        tw = None
        if township:
            p = S.kind_frame(None, "projects")
            tw = str(p["township_code"].value_counts().index[0])
        if start:  # the warm-up's default window first (untimed), then start months changed, end month kept
            default = _timed(lambda: [S.overview_head(None, k, frm, to) for k in keys] + [cache.run_later()])
            lines[-1:] = [f"- default window, every layer (what the warm-up builds first, untimed below): "
                          f"{default[0] / 1000:,.1f} s wall / {default[1] / 1000:,.1f} s CPU", ""]
            windows = [(ms[ms.index(frm) + n], to) for n in (start, start + 1)]
        else:
            windows = [(S.month_window(None, None, ms[-1 - b])[0], ms[-1 - b]) for b in (back, back + 1)]
        header = "| layer | " + " | ".join(f"window {a}..{b} wall / CPU ms" for a, b in windows) + " |"
        rows: dict[str, list[str]] = {k: [] for k in keys}
        totals, afters = [], []
        reread = []
        for wfrm, wto in windows:
            read0 = S._ctx().rows_read
            tot = [0.0, 0.0]
            later = [0.0, 0.0]
            for k in keys:
                w, c = _timed(lambda k=k, a=wfrm, b=wto: S.overview_head(None, k, a, b))
                tot[0] += w
                tot[1] += c
                lw, lc = _timed(cache.run_later)  # the detail table, stored after the reply (not the head's time)
                later[0] += lw
                later[1] += lc
                rows[k].append(f"{w:,.0f} / {c:,.0f}")
            if tw is not None:
                w, c = _timed(lambda a=wfrm, b=wto: S.township_view(None, tw, a, b, mask_pii=True))
                rows.setdefault(f"township page {tw}", []).append(f"{w:,.0f} / {c:,.0f}")
                tot[0] += w
                tot[1] += c
            totals.append(f"**{tot[0]:,.0f} / {tot[1]:,.0f}**")
            afters.append(f"{later[0]:,.0f} / {later[1]:,.0f}")
            reread.append(f"{S._ctx().rows_read - read0:,}")
        lines += [header, "|---|---|---|"]
        lines += [f"| {k} | " + " | ".join(v) + " |" for k, v in rows.items()]
        lines += ["| **sum** | " + " | ".join(totals) + " |",
                  "| detail tables stored after the replies (not in the sum) | " + " | ".join(afters) + " |",
                  "| rows read again (0: the rows stayed in the process) | " + " | ".join(reread) + " |",
                  "", f"load average after: {common.loadavg()}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", action="append", default=None)
    ap.add_argument("--backend", action="append", default=None)
    ap.add_argument("--back", type=int, default=6, help="months before the latest (the window's last month)")
    ap.add_argument("--layer", action="append", default=None, help="only these layers (default: all)")
    ap.add_argument("--township", action="store_true", help="also the township page of the biggest township")
    ap.add_argument("--start", type=int, default=0, help="instead: the default end month with the start month moved "
                    "N and N+1 months later (after the default window's layers are built)")
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    body = []
    for scale in a.scale or ["city"]:
        for backend in a.backend or ["postgis"]:
            text = run(scale, backend, a.back, a.layer, a.township, a.start)
            print(text, flush=True)
            body.append(text)
    if not a.no_record:
        common.record("window", "A month window not yet cached (benchmarks/window.py)", common.command_line(),
                      "\n\n".join(body))


if __name__ == "__main__":
    main()
