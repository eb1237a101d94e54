"""Old vs new outputs of the month-window views: dump them with one tree's code, compare two dumps exactly.

    .venv/bin/python benchmarks/window_outputs.py dump --tree /tmp/base-x --out /tmp/a.pkl [--scale city]
        [--windows 0-11] [--towns 2] [--layer warnings ...] [--no-head]
    .venv/bin/python benchmarks/window_outputs.py compare /tmp/a.pkl /tmp/b.pkl

`dump` reads the store with the code of `--tree` (a worktree of the old commit, or this tree) and writes, for each
window ending `--windows` months before the latest (citywide and the `--towns` townships with most projects), every
layer's LayerResult (by_township, points, table, legend, traces, notes), services.overview_head, rules.warnings,
risk.score (with its factor lists), the township page and indicator_trends, one entry at a time. `compare` checks
them with pandas.testing.assert_frame_equal(check_exact=True) and exact equality of everything else. Province
dumps read the store: hold the province lock. At province the store may return rows in another order from one read
to the next, and layers that break ties by row order then differ between two runs of the same code.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any


def dump(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="window_outputs.py dump")
    ap.add_argument("--scale", default="city")
    ap.add_argument("--tree", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--windows", default="0-11")
    ap.add_argument("--layer", action="append", default=None)
    ap.add_argument("--towns", type=int, default=2)
    ap.add_argument("--no-head", action="store_true")
    a = ap.parse_args(argv)
    tree = os.path.abspath(a.tree)
    sys.path[:0] = [tree, tree + "/benchmarks"]
    os.chdir(tree)
    os.environ["WAGEMAP_CACHE_DIR"] = tempfile.mkdtemp(prefix="wagemap-window-outputs-")
    import common

    import layers
    from dashboard import services as S
    from dashboard.app import create_app
    from geodata.settings import load_settings
    from geodata.store import open_store
    from layers import registry, risk, rules
    from layers.base import Filters

    assert layers.__file__.startswith(tree), layers.__file__
    url = common.store_url(a.scale, "postgis")
    app = create_app(store=open_store(url), settings=load_settings(db=url))
    keys = [k for k in registry.LAYERS if a.layer is None or k in a.layer]
    n = 0
    with open(a.out, "wb") as f, app.server.app_context():
        def put(key: tuple, value: Any) -> None:
            nonlocal n
            pickle.dump((key, value), f, protocol=5)
            n += 1

        ms = S.months(None)
        p = S.kind_frame(None, "projects")
        towns = [None] + [str(t) for t in p["township_code"].value_counts().index[:a.towns]]
        lo, hi = map(int, a.windows.split("-"))
        t0 = time.time()
        for b in range(lo, hi + 1):
            to = ms[-1 - b]
            frm = S.month_window(None, None, to)[0]
            for tw in towns:
                f_ = Filters(frm, to, tw)
                d = S.window_data(None, to, tw)
                for k in keys:
                    r = registry.get(k).build(d, f_)
                    put(("build", k, frm, to, tw), {
                        "by_township": r.by_township, "points": r.points, "table": r.table, "title": r.title,
                        "unit": r.unit, "legend": [(i.label, i.color) for i in r.legend], "traces": r.traces,
                        "notes": r.notes})
                    if not a.no_head:
                        put(("head", k, frm, to, tw), S.overview_head(None, k, frm, to, tw))
                put(("warnings", frm, to, tw), rules.warnings(d, f_))
                put(("score", frm, to, tw), risk.score(d, f_))
                if tw and not a.no_head:
                    put(("township", frm, to, tw), S.township_view(None, tw, frm, to, mask_pii=True))
                if tw is None:
                    put(("trends", to), rules.indicator_trends(d, to))
            print(b, to, f"{time.time() - t0:.0f} s", flush=True)
    print("entries", n)


def _entries(path: str) -> Iterator[tuple]:
    with open(path, "rb") as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


def compare(argv: list[str]) -> None:
    import numpy as np
    import pandas as pd

    bad = 0

    def report(kind: str, path: tuple, text: str = "") -> None:
        nonlocal bad
        bad += 1
        print(kind, path, text[:600])

    def cmp(x: Any, y: Any, path: tuple) -> None:
        if isinstance(x, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(x, y, check_exact=True)
                assert x.index.equals(y.index)
            except AssertionError as e:
                report("DIFF", path, str(e))
        elif isinstance(x, pd.Series):
            try:
                pd.testing.assert_series_equal(x, y, check_exact=True)
            except AssertionError as e:
                report("DIFF", path, str(e))
        elif type(x) is not type(y):
            report("TYPE", path, f"{type(x)} {type(y)}")
        elif isinstance(x, dict):
            if list(x) != list(y):
                report("KEYS", path, str(set(x) ^ set(y)))
            else:
                for k in x:
                    cmp(x[k], y[k], (*path, k))
        elif isinstance(x, list | tuple):
            if len(x) != len(y):
                report("LEN", path, f"{len(x)} {len(y)}")
            else:
                for i, (u, v) in enumerate(zip(x, y, strict=True)):
                    cmp(u, v, (*path, i))
        elif isinstance(x, np.ndarray):
            same = x.dtype == y.dtype and x.shape == y.shape and all(
                u == v or (isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v))
                for u, v in zip(x.ravel().tolist(), y.ravel().tolist(), strict=True))
            if not same:
                report("ARR", path)
        elif isinstance(x, float) and math.isnan(x) and math.isnan(y):
            return
        elif x != y and not (x is pd.NA and y is pd.NA):
            report("VAL", path, f"{x!r} {y!r}")

    n = 0
    for (ka, va), (kb, vb) in zip(_entries(argv[0]), _entries(argv[1]), strict=True):
        assert ka == kb, (ka, kb)
        cmp(va, vb, ka)
        n += 1
    print("entries", n, "differences", bad)


if __name__ == "__main__":
    {"dump": dump, "compare": compare}[sys.argv[1]](sys.argv[2:])
