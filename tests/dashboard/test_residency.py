"""A serving worker gives back the rows a cache miss made it read once nobody has needed them for a while,
and keeps them while misses keep coming; below resident_max_rows nothing is released."""

import threading
import time

from dashboard import cache, residency, services
from geodata.settings import load_settings
from layers import registry


def _app(store, **kw):
    from dashboard.app import create_app

    return create_app(store=store, settings=load_settings(db=store.url, **kw))


def _miss(app, key: str) -> None:
    with app.server.app_context():
        frm, to = services.month_window(None, None, None)
        services.overview_head(None, key, frm, to)


def test_rows_are_released_after_the_idle_time_and_kept_while_in_use(small_store):
    app = _app(small_store, resident_max_rows=10, resident_idle_s=2.0)
    stop = threading.Event()
    res = residency.start(app, stop)
    try:
        client = app.server.test_client()
        _miss(app, registry.DEFAULT)  # a view nobody built: the worker reads the rows
        with app.server.app_context():
            assert services.resident_rows() > 10
        client.get("/login")  # any request ends with rows above the limit: their last use is now
        assert res.last_use > 0
        with app.server.app_context():
            assert res.reap() == 0  # not idle yet
            time.sleep(1.0)
            client.get("/login")  # still in use: the idle time starts again
            time.sleep(1.2)
            assert res.reap() == 0 and services.resident_rows() > 10
            time.sleep(1.2)
            assert res.reap() > 0  # idle for resident_idle_s: given back
            assert services.resident_rows() == 0 and cache._ctx().rows_read == 0
            assert res.released == 1 and res.last_use == 0
        client.get("/login")  # no rows: nothing to note
        assert res.last_use == 0
        # a later miss reads them again and builds the same view
        other = next(k for k in registry.LAYERS if k != registry.DEFAULT)
        _miss(app, other)
        with app.server.app_context():
            assert services.resident_rows() > 10
    finally:
        stop.set()


def test_the_reaper_thread_releases_idle_rows(small_store, monkeypatch):
    monkeypatch.setattr(residency, "CHECK_S", 0.1)
    app = _app(small_store, resident_max_rows=10, resident_idle_s=0.2)
    stop = threading.Event()
    res = residency.start(app, stop)
    try:
        _miss(app, registry.DEFAULT)
        app.server.test_client().get("/login")
        deadline = time.time() + 10
        while time.time() < deadline and res.released == 0:
            time.sleep(0.1)
        assert res.released == 1
        with app.server.app_context():
            assert services.resident_rows() == 0
    finally:
        stop.set()


def test_rows_below_the_limit_are_kept(small_store):
    app = _app(small_store, resident_idle_s=0.0)  # default resident_max_rows: far above the small store
    stop = threading.Event()
    res = residency.start(app, stop)
    try:
        _miss(app, registry.DEFAULT)
        app.server.test_client().get("/login")
        with app.server.app_context():
            n = services.resident_rows()
            assert n > 0 and res.last_use == 0 and res.reap() == 0 and services.resident_rows() == n
    finally:
        stop.set()
