"""Shared fixtures: stores on both backends, PostGIS per test session, CI strictness.

PostGIS URL: --pg-url, else WAGEMAP_TEST_DB, else the .ci default. Each test session gets its
own database cloned from `wagemap_template` (PostGIS installed), so parallel runs never meet;
each test starts from an emptied store. Where no server is reachable a PostGIS test skips on a
laptop but FAILS under CI=true; likewise browser tests when Chromium is missing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid

import pytest
import sqlalchemy as sa

DEFAULT_PG = "postgresql+psycopg://wagemap:wagemap@127.0.0.1:5432/wagemap_test"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = os.environ.get("WAGEMAP_CHROMIUM", "/usr/bin/chromium")
# the shared view cache (dashboard/services.py) of this test session, not the repository's var/cache;
# its keys hold the store URL and data version (a uuid), so tests never see each other's views
VIEW_CACHE = tempfile.mkdtemp(prefix="wagemap-view-cache-")
os.environ["WAGEMAP_CACHE_DIR"] = VIEW_CACHE
atexit.register(shutil.rmtree, VIEW_CACHE, True)


def pytest_addoption(parser):
    parser.addoption("--pg-url", default=None, help="PostGIS URL for tests (else WAGEMAP_TEST_DB)")


def unavailable(what: str) -> None:
    """Skip on a laptop, fail under CI=true."""
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not available")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def pg_url(request):
    admin_url = request.config.getoption("--pg-url") or os.environ.get("WAGEMAP_TEST_DB") or DEFAULT_PG
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"wagemap_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE wagemap_template')
    except Exception as e:  # noqa: BLE001
        admin.dispose()
        unavailable(f"PostGIS at {admin.url.render_as_string(hide_password=True)} ({type(e).__name__}: {e})")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    from geodata.store import _open

    _open.cache_clear()
    sa.create_engine(url).dispose()
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _empty(store) -> None:
    from geodata import schema
    from geodata.boundaries import demo_boundaries

    with store.begin() as conn:
        for t in reversed(schema.metadata.sorted_tables):
            if t.name not in ("townships",):
                conn.execute(t.delete())
    store.replace_townships(demo_boundaries(), source="test")


@pytest.fixture(params=["gpkg", "postgis"])
def store(request, tmp_path):
    """An empty store (demo boundaries loaded) on each backend."""
    from geodata.store import open_store

    if request.param == "gpkg":
        s = open_store(str(tmp_path / "test.gpkg"))
    else:
        s = open_store(request.getfixturevalue("pg_url"))
        _empty(s)
    yield s


@pytest.fixture
def gpkg_store(tmp_path):
    from geodata.store import open_store

    return open_store(str(tmp_path / "test.gpkg"))


@pytest.fixture
def pg_store(pg_url):
    from geodata.store import open_store

    s = open_store(pg_url)
    _empty(s)
    return s


@pytest.fixture(scope="session")
def chromium_path():
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        unavailable("headless Chromium (/usr/bin/chromium)")
    return path
