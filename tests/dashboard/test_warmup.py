"""Cache warm-up: the default views are built before anyone asks, again after a load, never when off."""

import threading
import time

import pytest

from dashboard import services, warmup
from geodata.settings import load_settings
from layers import registry


@pytest.fixture
def app(small_store):
    from dashboard.app import create_app

    return create_app(store=small_store, settings=load_settings(db=small_store.url))


def _cached_names(app) -> list[tuple]:
    ctx = app.server.extensions["wagemap"]
    return [(k[0], k[4]) for k in ctx.cache._d]


def test_warm_builds_every_layer_and_every_township(app):
    r = warmup.warm(app)
    names = _cached_names(app)
    n_town = len([n for n in names if n[0] == "township"])
    overviews = {a[0] for n, a in names if n == "overview" and a[3] is None}
    assert overviews == set(registry.LAYERS) and n_town == 19 and r["views"] == len(registry.LAYERS) + 19
    with app.server.app_context():  # a request for a warmed view is answered from the cache
        frm, to = services.month_window(None, None, None)
        before = len(app.server.extensions["wagemap"].cache._d)
        services.overview(None, "card", frm, to)
        assert len(app.server.extensions["wagemap"].cache._d) == before


def test_start_is_off_by_default_and_rewarms_after_a_load(app, small_store, monkeypatch):
    monkeypatch.delenv("WAGEMAP_WARM", raising=False)
    assert warmup.start(app) is None
    monkeypatch.setenv("WAGEMAP_WARM", "1")
    monkeypatch.setattr(warmup, "POLL_S", 0.2)
    seen = []
    real = warmup.warm
    monkeypatch.setattr(warmup, "warm", lambda a: seen.append(real(a)) or seen[-1])
    stop = threading.Event()
    assert warmup.start(app, stop) is not None
    deadline = time.time() + 120
    while not seen and time.time() < deadline:
        time.sleep(0.1)
    with small_store.begin() as conn:  # a load changes the data version
        small_store._bump_version(conn)
    while len(seen) < 2 and time.time() < deadline:
        time.sleep(0.1)
    stop.set()
    assert len(seen) >= 2 and seen[0]["version"] != seen[1]["version"]
