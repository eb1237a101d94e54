"""A serving worker gives back the raw rows a cache miss made it read, once it has been idle a while.

    from dashboard import residency
    residency.start(app)      # dashboard/wsgi.py: every gunicorn worker

Views are answered from the shared cache, which the warm process (dashboard/warmproc.py) fills; a worker
reads raw rows only for a view nobody built yet (another start month on some layer, an old end month).
At province scale that read is every row of every kind: GBs that the worker would otherwise keep for
the rest of its life, one such copy per worker, beside the warm process's own (benchmarks/RESULTS.md).
So after each request, a worker holding more than `settings.resident_max_rows` rows notes the time;
a reaper thread releases them (`cache.release_rows`, which also hands the heap back to the system)
once no request has needed them for `settings.resident_idle_s` seconds. A user exploring windows one
after another keeps them (each further miss then costs only the layer's computation, not a re-read);
a worker nobody sends misses to returns to its size without rows. Below resident_max_rows (city
scale: 57 k rows) nothing is ever released.
"""

from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)

CHECK_S = 5.0  # how often the reaper looks (at most this much later than resident_idle_s)


class Residency:
    def __init__(self, app):
        self.app = app
        self.last_use = 0.0  # monotonic time of the last request that ended with rows above the limit
        self.released = 0  # how many times rows were given back (tests, logs)
        self._lock = threading.Lock()

    def after_request(self) -> None:
        from dashboard import cache

        if cache._ctx().rows_read > cache.settings().resident_max_rows:
            with self._lock:
                self.last_use = time.monotonic()

    def reap(self) -> int:
        """Release the rows if they have been idle long enough; the number of entries dropped (0: kept)."""
        from dashboard import cache

        with self._lock:
            idle = self.last_use and time.monotonic() - self.last_use >= cache.settings().resident_idle_s
        if not idle:
            return 0
        n = cache.release_rows()
        with self._lock:
            self.last_use = 0.0
            if n:
                self.released += 1
        if n:
            log.warning("raw rows released after %.0f s idle (pid %d)", cache.settings().resident_idle_s, os.getpid())
        return n


def start(app, stop: threading.Event | None = None) -> Residency:
    """Track requests on `app` and release idle rows in a daemon thread (until `stop` is set)."""
    res = Residency(app)
    stop = stop or threading.Event()
    server = app.server

    @server.after_request
    def _note(response):
        try:
            res.after_request()
        except Exception:  # noqa: BLE001 - bookkeeping must never fail a response
            log.exception("residency bookkeeping failed")
        return response

    def loop() -> None:
        while not stop.wait(CHECK_S):
            try:
                with server.app_context():
                    res.reap()
            except Exception:  # noqa: BLE001 - the reaper must never stop
                log.exception("releasing idle rows failed")

    threading.Thread(target=loop, name="wagemap-residency", daemon=True).start()
    return res
