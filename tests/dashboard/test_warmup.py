"""Cache warm-up: the default views are built before anyone asks, again after a load, never when off."""

import threading
import time

import pytest

from dashboard import cache, services, warmup
from geodata.settings import load_settings
from layers import registry

WINDOWS = 2  # earlier end months the tests warm (the default, 12, only makes them slower)


@pytest.fixture
def app(small_store):
    from dashboard.app import create_app

    return create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS))


def test_warm_builds_every_layer_and_every_township(app, small_store, monkeypatch):
    """After the warm-up another worker (same cache dir, empty process cache) answers every warmed view
    (each layer's switch and detail rows, each township page and map, each official's own views) without
    building anything: no layer runs, no township view is made."""
    from dashboard.app import create_app

    r = warmup.warm(app)
    with app.server.app_context():
        names = services.township_names(None)
        with_data = [c for c in names if services.has_data([c])]
    assert r["views"] == len(registry.LAYERS) + 19 + len(with_data) and len(names) == 19
    assert r["township_layers"] == (19 + 2 * len(with_data)) * (len(registry.LAYERS) - 1)  # the whole grid
    builds = []
    for layer in registry.LAYERS.values():
        monkeypatch.setattr(layer, "build", lambda d, f, k=layer.key: builds.append(k))
    monkeypatch.setattr(services.gaps, "worklist", lambda *a, **k: builds.append("worklist"))
    monkeypatch.setattr(services, "_point_trace", lambda *a, **k: builds.append("points"))
    two = create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS))
    with two.server.app_context():
        frm, to = services.month_window(None, None, None)
        for key in registry.LAYERS:
            head = services.overview_head(None, key, frm, to)
            assert head["key"] == key and set(services.overview_points(head, services.POINT_ORDER)) == set(services.POINT_ORDER)
            assert len(services.overview_table(None, key, frm, to)) == head["table_rows"]
        for code in names:
            assert services.township_view(None, code, frm, to, mask_pii=True)["code"] == code
            assert services.overview_map(None, registry.DEFAULT, frm, to, township=code)["points"]["cases"]["type"]
            for key in registry.LAYERS:  # the township page's indicator switch
                head = services.overview_head(None, key, frm, to, township=code)
                services.overview_points(head, services.POINT_ORDER)
            services.map_frame(None, focus=code)
        for code in with_data:
            sf, st = services.month_window([code], None, None)
            services.overview_map([code], registry.DEFAULT, sf, st)
            services.township_view([code], code, sf, st, mask_pii=True)
            services.overview_map([code], registry.DEFAULT, sf, st, township=code)
            for key in registry.LAYERS:  # the official's indicator switch, on the overview and the township page
                services.overview_points(services.overview_head([code], key, sf, st), services.POINT_ORDER)
                services.overview_points(services.overview_head([code], key, sf, st, township=code), services.POINT_ORDER)
    assert builds == []


def test_earlier_end_months_are_warmed_too(app, small_store, monkeypatch):
    """A change of the end month is a hit for the `warm_windows` months before the latest: every layer citywide and
    every township page, as the page asks for them (the start month kept, month_window's order)."""
    from dashboard.app import create_app

    forgotten = {}
    real_forget = services.forget_window
    monkeypatch.setattr(services, "forget_window", lambda sc, m: forgotten.setdefault(m, real_forget(sc, m)))
    r = warmup.warm(app)
    with app.server.app_context():
        months = services.months(None)
        frm, to = services.month_window(None, None, None)
        names = services.township_names(None)
    windows = warmup.earlier_windows(months, frm, to, WINDOWS)
    assert r["windows"] == len(windows) == WINDOWS and windows[0] == (frm, months[-2])
    # each earlier window's objects (citywide and the townships': status, worklists) left memory once its views were on disk
    assert sorted(forgotten) == sorted({w[1] for w in windows} - {to}) and all(n >= 2 for n in forgotten.values())
    builds = []
    for layer in registry.LAYERS.values():
        monkeypatch.setattr(layer, "build", lambda d, f, k=layer.key: builds.append(k))
    monkeypatch.setattr(services.gaps, "worklist", lambda *a, **k: builds.append("worklist"))
    two = create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS))
    with two.server.app_context():
        for end in [m for m in months if m < to][::-1][:WINDOWS]:
            wfrm, wto = services.month_window(None, frm, end)  # what the page makes of (kept start, new end)
            assert (wfrm, wto) in windows
            for key in registry.LAYERS:
                assert services.overview_head(None, key, wfrm, wto)["key"] == key
            for code in names:
                assert services.township_view(None, code, wfrm, wto, mask_pii=True)["code"] == code
                services.overview_map(None, registry.DEFAULT, wfrm, wto, township=code)
        assert r["starts"] == len([m for m in months if m != frm])
        for start in months:  # the start month changed on the first view (default layer, end month kept)
            services.overview_points(services.overview_head(None, registry.DEFAULT, *services.month_window(None, start, to)),
                                     services.POINT_ORDER)
    assert builds == []


def test_earlier_windows_are_newest_first_and_ordered_like_the_page():
    months = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    assert warmup.earlier_windows(months, "2025-03", "2025-05", 3) == [
        ("2025-03", "2025-04"), ("2025-03", "2025-03"), ("2025-02", "2025-03")]  # an end before the start: swapped
    assert warmup.earlier_windows(months, "2025-03", "2025-05", 0) == []
    assert warmup.earlier_windows(months, "2025-01", "2025-01", 5) == []


def test_a_switch_reads_no_point_set_or_table_the_browser_has(app, monkeypatch):
    """An indicator switch loads the small head and only the point sets whose digest changed; no detail rows."""
    from dashboard import components

    warmup.warm(app)
    with app.server.app_context():
        frm, to = services.month_window(None, None, None)
        first = services.overview_map(None, registry.DEFAULT, frm, to)
        loaded = []
        real = services._point_set
        monkeypatch.setattr(services, "_point_set", lambda scope, name, *a: loaded.append(name) or real(scope, name, *a))
        monkeypatch.setattr(services, "overview_table", lambda *a, **k: loaded.append("table"))
        head = services.overview_head(None, "arrears_cases", frm, to)
        patch, drawn = components.map_patch(head, ["cases"], first["keys"],
                                            points=lambda n: services.overview_points(head, n))
        assert loaded == [] and drawn == head["keys"]
        cov = services.overview_head(None, "real_name", frm, to)  # a coverage layer draws its own project points
        components.map_patch(cov, ["projects"], drawn, points=lambda n: services.overview_points(cov, n))
        assert loaded == ["projects"]
        assert "table" not in head and "points" not in head


def test_start_is_off_by_default_and_rewarms_after_a_load(app, small_store, monkeypatch):
    monkeypatch.delenv("WAGEMAP_WARM", raising=False)
    assert warmup.start(app) is None
    monkeypatch.setenv("WAGEMAP_WARM", "1")
    monkeypatch.setattr(warmup, "POLL_S", 0.2)
    seen = []
    real = warmup.warm
    monkeypatch.setattr(warmup, "warm", lambda a, **kw: seen.append(real(a, **kw)) or seen[-1])
    stop = threading.Event()
    t = warmup.start(app, stop)
    assert t is not None
    deadline = time.time() + 400  # two warm-ups of the small store (~30 s each alone, minutes on a busy machine)
    while not seen and time.time() < deadline:
        time.sleep(0.1)
    with small_store.begin() as conn:  # a load changes the data version
        small_store._bump_version(conn)
    while len(seen) < 2 and time.time() < deadline:
        time.sleep(0.1)
    stop.set()
    t.join(400)  # no warm-up left running into the next test (it would run that test's monkeypatched layers)
    assert not t.is_alive() and len(seen) >= 2 and seen[0]["version"] != seen[1]["version"]


def test_views_are_shared_between_workers_and_rows_are_read_lazily(small_store, monkeypatch):
    """Two apps on one store and cache dir stand for two gunicorn workers: a view built by one is
    answered from the shared cache by the other without building it; other rules never share it."""
    from dashboard.app import create_app

    one = create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS))
    two = create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS))
    other_rules = create_app(store=small_store, settings=load_settings(db=small_store.url, rules={"real_name_min": 0.5}))
    builds = []
    real_build = registry.get("arrears").build
    monkeypatch.setattr(registry.get("arrears"), "build", lambda d, f: builds.append(1) or real_build(d, f))
    reads = []
    real_read = small_store.read
    monkeypatch.setattr(small_store, "read", lambda kind, *a, **k: reads.append(kind) or real_read(kind, *a, **k))
    with one.server.app_context():
        frm, to = services.month_window(None, None, None)
        a = services.overview(None, "arrears", frm, to)
    assert builds == [1] and "indicators" not in reads  # the arrears view never reads the monthly indicators
    with two.server.app_context():
        b = services.overview(None, "arrears", frm, to)
    assert builds == [1] and a["bars"] == b["bars"] and a["kpis"] == b["kpis"]
    with other_rules.server.app_context():
        services.overview(None, "arrears", frm, to)
    assert builds == [1, 1]
    with one.server.app_context():  # the first worker to claim a data version warms it; the others do not
        c1 = services._ctx().cache
    with two.server.app_context():
        c2 = services._ctx().cache
    assert c1.claim("warm:x:v1", 60) and not c2.claim("warm:x:v1", 60) and c2.claim("warm:x:v2", 60)


def test_rows_are_released_after_warming_only_above_the_limit(small_store):
    from dashboard.app import create_app

    app = create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS))
    assert warmup.warm(app)["released"] == 0  # the small store is far below resident_max_rows
    small = create_app(store=small_store, settings=load_settings(db=small_store.url, resident_max_rows=10, warm_windows=WINDOWS))
    r = warmup.warm(small)
    with app.server.app_context():
        with_data = [c for c in services.township_names(None) if services.has_data([c])]
    # the grid (townships, officials' own views) is warmed before the rows are released
    assert r["township_layers"] == (19 + 2 * len(with_data)) * (len(registry.LAYERS) - 1)
    with small.server.app_context():
        assert r["released"] > 0 and services.resident_rows() == 0 and services._ctx().rows_read == 0
        frm, to = services.month_window(None, None, None)
        assert services.overview(None, "card", frm, to)["bars"]  # answered from the shared cache


def test_the_warm_process_holds_its_rows_and_what_was_derived_from_them_above_the_limit(small_store):
    """warm(hold=True) (the warm process, which builds the workers' misses from the rows) releases nothing above
    resident_max_rows: the citywide rows and their per-read histories stay, so a later miss reads no row again."""
    from dashboard.app import create_app
    from layers import base

    app = create_app(store=small_store, settings=load_settings(db=small_store.url, resident_max_rows=10, warm_windows=WINDOWS))
    r = warmup.warm(app, hold=True)
    with app.server.app_context():
        assert r["released"] == 0 and services.resident_rows() > 10
        read = services._ctx().rows_read
        proj = services.kind_frame(None, "projects")
        assert proj.__dict__.get(base.DERIVED)  # what the layers derived per read is still on the frames
        ms = services.months(None)
        services.overview_head(None, "warnings", ms[0], ms[-5])  # a window nobody built: no row is read again
        assert services._ctx().rows_read == read


def test_views_cached_by_other_code_are_not_read_back(small_store, monkeypatch):
    from dashboard.app import create_app

    one = create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS))
    with one.server.app_context():
        frm, to = services.month_window(None, None, None)
        services.overview(None, "arrears", frm, to)
    monkeypatch.setattr(cache, "_CODE_VERSION", "another-release")  # a deploy of changed code, same cache dir
    two = create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS))
    builds = []
    real_build = registry.get("arrears").build
    monkeypatch.setattr(registry.get("arrears"), "build", lambda d, f: builds.append(1) or real_build(d, f))
    with two.server.app_context():
        services.overview(None, "arrears", frm, to)
    assert builds == [1]


@pytest.mark.parametrize("max_rows", [None, 10])
def test_the_citywide_rows_are_read_once_per_kind(small_store, monkeypatch, max_rows):
    """The views the warm-up builds never push the citywide rows out of the in-process LRU (a re-read at province is
    seconds per kind and, while a window holds the old frames, a second copy with every memo recomputed); above
    resident_max_rows an official's own rows are read for their own views and once more for their indicator grid."""
    from collections import Counter

    from dashboard.app import create_app

    reads = Counter()
    real = small_store.read
    monkeypatch.setattr(small_store, "read", lambda kind, scope=None, **kw: reads.update([(kind, None if scope is None
                        else tuple(scope))]) or real(kind, scope=scope, **kw))
    extra = {} if max_rows is None else {"resident_max_rows": max_rows}
    app = create_app(store=small_store, settings=load_settings(db=small_store.url, warm_windows=WINDOWS, **extra))
    r = warmup.warm(app)
    citywide = {k: n for (k, s), n in reads.items() if s is None}
    assert citywide and set(citywide.values()) == {1}, citywide
    if max_rows is not None:
        assert r["released"] > 0 and max(n for (k, s), n in reads.items() if s is not None) <= 2
