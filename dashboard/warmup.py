"""Cache warm-up: build the views most people open first, in the background, per data version.

    from dashboard import warmup
    warmup.start(app)          # dashboard/wsgi.py: one worker per host warms the shared view cache

The services cache is keyed by data version, so after every ETL load the first visitor of each
view pays for building it (seconds at city scale, tens of seconds at province scale, see
benchmarks/RESULTS.md). This thread builds, for the default month window: the citywide overview of
every registered layer; for every township its page (worklist, cases, trend, masked as for
non-emergency roles) with the default layer and its map frame; and the same two views in that
township official's own scope (their cache keys differ: the scope is part of the key); then every
other layer on every township page, so a township page's indicator switch is a hit too (each township
window filters what the citywide pass computed: warnings, risk scores and assessment are evaluated once
per read of the frames; province ≈ 2.5 s CPU per township, benchmarks/RESULTS.md); then every other start
month with the default end month on the default layer (what a change of the start month on the first view
asks for; it shares the window's status). Then the windows a month change asks for: the
`settings.warm_windows` earlier end months (every layer citywide, every township page), newest first; last,
every other layer on each official's own overview and township page. Other layers with another start month
are not warmed: every start month at every layer was 1.1 s CPU per month at city and hundreds of MB of tables
in the shared cache.

Peak memory (province, benchmarks/RESULTS.md "warm_rss"): the citywide rows stay in the in-process LRU while
the views are built (`_keep_rows`: no re-read, no second copy); each earlier window's objects and what the
layers derived for its month (`cache.forget_window` -> `layers.base.forget`) go once its views are stored; above
settings.resident_max_rows also the default window's (before the earlier windows), an official's own rows after
their views, and the citywide rows before the officials' indicator grid, which reads one official's rows at a
time. The views go
to the shared cache (settings.cache_dir), so of all gunicorn workers on the host only the one that
claims a data version builds it; the others answer from the shared cache. Afterwards the worker
releases the rows it read when they exceed settings.resident_max_rows (province scale). It then
polls the data version every POLL_S seconds and warms again after a load. On with WAGEMAP_WARM=1
(off by default: tests start many short-lived servers).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

log = logging.getLogger(__name__)

POLL_S = 30.0
CLAIM_S = 3600.0  # a worker that dies while warming leaves the version to on-demand builds for this long


def enabled() -> bool:
    return os.environ.get("WAGEMAP_WARM", "0").strip().lower() in ("1", "true", "yes", "on")


def warm(app, hold: bool = False) -> dict:
    """Build the default views once (in the caller's thread); returns {views, seconds, version, released, phases, ...}.

    `hold` (the warm process, dashboard/warmproc.py): keep the citywide rows and what the layers derived from them
    (per-read histories) above resident_max_rows too: it builds the workers' misses from them, and a re-read without
    the histories made its first miss of a layer like warnings cost 12-15 s at province (benchmarks/RESULTS.md).

    `phases`: wall and process CPU seconds of each part (citywide layers, townships, officials' own scopes);
    `layers`: the same for each citywide layer (the first to need a kind of rows also reads them).
    """
    from dashboard import cache, records, services
    from layers import registry

    t0 = time.perf_counter()
    n = 0
    phases: dict[str, tuple[float, float]] = {}
    mark = [time.perf_counter(), time.process_time()]

    def phase(name: str) -> None:
        now = [time.perf_counter(), time.process_time()]
        phases[name] = (round(now[0] - mark[0], 1), round(now[1] - mark[1], 1))
        mark[:] = now
    with app.server.app_context(), _view_budget():
        version = services.store().data_version()
        if not services.has_data(None):
            return {"views": 0, "seconds": 0.0, "version": version}
        frm, to = services.month_window(None, None, None)
        services.geometry(None)
        services.map_frame(None)
        services.month_options(None, frm, to)
        for key in [registry.DEFAULT, *[k for k in registry.LAYERS if k != registry.DEFAULT]]:
            _map(None, key, frm, to)
            n += 1
            phase(f"layer {key}")
        layers = {k: phases.pop(k) for k in [k for k in phases if k.startswith("layer ")]}
        phases["citywide layers"] = tuple(round(sum(v[i] for v in layers.values()), 1) for i in (0, 1))
        for code in services.township_names(None):
            _keep_rows(to)
            records.status_part(None, to, code)  # what every project page of the township reads
            services.township_view(None, code, frm, to, mask_pii=True)
            _map(None, registry.DEFAULT, frm, to, township=code)
            services.map_frame(None, focus=code)
            n += 1
        phase("townships")
        for code in services.township_names(None):  # a township official's own views (scope = [code])
            scope = [code]
            _keep_rows(to)
            if not services.has_data(scope):
                continue
            sfrm, sto = services.month_window(scope, None, None)
            _map(scope, registry.DEFAULT, sfrm, sto)
            services.township_view(scope, code, sfrm, sto, mask_pii=True)
            records.status_part(scope, sto, code)
            _map(scope, registry.DEFAULT, sfrm, sto, township=code)
            services.map_frame(scope)
            services.map_frame(scope, focus=code)
            n += 1
            _let_go_of(scope)
        phase("officials' own scopes")
        grid = 0
        for code in services.township_names(None):  # every other layer on every township page (its indicator switch)
            for key in registry.LAYERS:
                if key != registry.DEFAULT:
                    _map(None, key, frm, to, township=code)
                    grid += 1
        phase("township × layer")
        starts = [m for m in services.months(None) if m != frm]
        for m in starts:  # a change of the start month on the default view (the window's status is shared)
            _map(None, registry.DEFAULT, *services.month_window(None, m, to))
        phase("other start months, default layer")
        if cache.rows_to_release():  # the default window's views are all stored: its month's objects and memos go
            services.forget_window(None, to)
            cache.trim_heap()
        extra = earlier_windows(services.months(None), frm, to, services.settings().warm_windows)
        for i, (wfrm, wto) in enumerate(extra):  # what a change of the end month asks for: each needs its own month's status
            for key in registry.LAYERS:
                _map(None, key, wfrm, wto)
            for code in services.township_names(None):
                _keep_rows(wto)
                services.township_view(None, code, wfrm, wto, mask_pii=True)
                _map(None, registry.DEFAULT, wfrm, wto, township=code)
            if i + 1 == len(extra) or extra[i + 1][1] != wto:  # its views are on disk: do not keep the window's status,
                services.forget_window(None, wto)  # its month's warnings etc. in memory (peak RSS); the next may share it
                cache.trim_heap()
        phase("earlier windows")
        released = services.release_rows() if cache.rows_to_release() and not hold else 0  # officials need their own rows
        for code in services.township_names(None):  # an official's indicator switch, on their overview and township page
            scope = [code]
            if not services.has_data(scope):
                continue
            sfrm, sto = services.month_window(scope, None, None)
            for key in registry.LAYERS:
                if key != registry.DEFAULT:
                    _map(scope, key, sfrm, sto)
                    _map(scope, key, sfrm, sto, township=code)
                    grid += 2
            _let_go_of(scope)
        phase("officials × layer")
        released += 0 if hold else services.release_rows()
    return {"views": n, "seconds": round(time.perf_counter() - t0, 1), "version": version, "released": released,
            "phases": phases, "layers": layers, "township_layers": grid, "windows": len(extra), "starts": len(starts)}


def earlier_windows(months: list[str], frm: str, to: str, n: int) -> list[tuple[str, str]]:
    """The windows a user reaches from the default one (frm..to) by choosing an earlier end month, newest first:
    (frm, m) for the `n` data months before `to` (a month before `frm` gives m..frm, as the page's month_window does)."""
    earlier = [m for m in months if m < to][::-1][:n]
    return [(min(frm, m), max(frm, m)) for m in earlier]


def _keep_rows(month_to: str | None = None) -> None:
    """Mark the citywide rows (every kind: the citywide layers read them all), and the citywide window of `month_to`,
    as just used in the in-process LRU (reading nothing), so the views built after them do not push them out: a re-read
    costs seconds at province, and while a window still holds the old frames the process holds both copies and
    recomputes every memo kept on the frames (all warnings, deposits due, the risk universe)."""
    from dashboard import cache

    cache.keep(("kind",), None)
    if month_to is not None:
        cache.keep(("window_data",), None, lambda args: args == (month_to, None))


@contextmanager
def _view_budget():
    """The warm-up keeps few of the views it stores in its own process (cache.WARM_VIEW_BYTES: peak RSS)."""
    from dashboard import cache

    with cache._ctx().cache.view_budget(cache.WARM_VIEW_BYTES):
        yield


def _let_go_of(scope: list[str]) -> None:
    """Above the resident limit (province), forget an official's own rows once their views are stored: one official's
    scope at a time in memory, not as many as the LRU happens to keep beside the citywide rows."""
    from dashboard import cache

    if cache.rows_to_release():
        cache.forget_scope(scope)


def _map(scope, key: str, frm: str, to: str, township: str | None = None) -> None:
    """A map view's parts in the shared cache: its head, the three point sets and the detail table (made with the head,
    stored after it: `cache.run_later`)."""
    from dashboard import cache, remote, services

    remote.wait_idle()  # in the warm process, a worker's miss (someone waiting) goes before the next warmed view
    _keep_rows(to if scope is None else None)
    services.overview_points(services.overview_head(scope, key, frm, to, township), services.POINT_ORDER)
    cache.run_later()


def start(app, stop: threading.Event | None = None, after: Callable[[], None] | None = None,
          force: bool = False, hold: bool = False) -> threading.Thread | None:
    """Warm in a daemon thread now and after every data version change (until `stop` is set); None when disabled
    (unless `force`: the warm process; `hold`: see warm). `after()` runs once per new version, warmed here or by
    another process."""
    if not (force or enabled()):
        return None
    stop = stop or threading.Event()

    def loop() -> None:
        done = None
        while not stop.is_set():
            try:
                from dashboard import services

                with app.server.app_context():
                    current = services.store().data_version()
                if current != done:
                    with app.server.app_context():
                        mine = services._ctx().cache.claim(f"warm:{services.store().url}:{current}", CLAIM_S)
                    if mine:
                        r = warm(app, hold=hold)
                        done = r["version"]
                        log.warning("warm-up done: %d views in %.1f s (pid %d, data version %s, rows released %d)",
                                    r["views"], r["seconds"], os.getpid(), done, r["released"])
                    else:  # another process on this host warms the shared cache for this version
                        done = current
                        log.warning("warm-up of data version %s left to another process (pid %d)", current, os.getpid())
                    if after is not None:
                        after()
            except Exception:  # noqa: BLE001 - a failed warm-up must never stop the server
                log.exception("warm-up failed; retrying in %.0f s", POLL_S)
            stop.wait(POLL_S)

    t = threading.Thread(target=loop, name="wagemap-warmup", daemon=True)
    t.start()
    return t
