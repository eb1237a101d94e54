"""Cache warm-up: build the views most people open first, in the background, per data version.

    from dashboard import warmup
    warmup.start(app)          # dashboard/wsgi.py: each gunicorn worker warms its own cache

The services cache is keyed by data version, so after every ETL load the first visitor of each
view pays for building it (seconds at city scale, see benchmarks/RESULTS.md). This thread builds,
for the citywide scope and the default month window: the overview of every registered layer, and
for every township its page (worklist, cases, trend, masked as for non-emergency roles) with the
default layer and its map frame. It then polls the data version every POLL_S seconds and warms
again after a load. On with WAGEMAP_WARM=1 (off by default: tests start many short-lived servers).
"""

from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)

POLL_S = 30.0


def enabled() -> bool:
    return os.environ.get("WAGEMAP_WARM", "0").strip().lower() in ("1", "true", "yes", "on")


def warm(app) -> dict:
    """Build the default views once (in the caller's thread); returns {views, seconds, version}."""
    from dashboard import services
    from layers import registry

    t0 = time.perf_counter()
    n = 0
    with app.server.app_context():
        version = services.store().data_version()
        if not services.has_data(None):
            return {"views": 0, "seconds": 0.0, "version": version}
        frm, to = services.month_window(None, None, None)
        services.geometry(None)
        services.map_frame(None)
        services.month_options(None, frm, to)
        for key in [registry.DEFAULT, *[k for k in registry.LAYERS if k != registry.DEFAULT]]:
            services.overview(None, key, frm, to)
            n += 1
        for code in services.township_names(None):
            services.township_view(None, code, frm, to, mask_pii=True)
            services.overview(None, registry.DEFAULT, frm, to, township=code)
            services.map_frame(None, focus=code)
            n += 1
    return {"views": n, "seconds": round(time.perf_counter() - t0, 1), "version": version}


def start(app, stop: threading.Event | None = None) -> threading.Thread | None:
    """Warm in a daemon thread now and after every data version change (until `stop` is set); None when disabled."""
    if not enabled():
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
                    r = warm(app)
                    done = r["version"]
                    log.warning("warm-up done: %d views in %.1f s (pid %d, data version %s)", r["views"], r["seconds"],
                                os.getpid(), done)
            except Exception:  # noqa: BLE001 - a failed warm-up must never stop the server
                log.exception("warm-up failed; retrying in %.0f s", POLL_S)
            stop.wait(POLL_S)

    t = threading.Thread(target=loop, name="wagemap-warmup", daemon=True)
    t.start()
    return t
