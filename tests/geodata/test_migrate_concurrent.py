"""Several processes opening a fresh PostGIS store at once: all succeed, the schema is migrated once.

Without the advisory lock in geodata/migrations/env.py two of three processes failed with
UniqueViolation on pg_type (alembic_version created twice)."""

from __future__ import annotations

import multiprocessing as mp
import os
import uuid

import sqlalchemy as sa

from tests.conftest import DEFAULT_PG, unavailable


def _upgrade(url: str) -> str:
    from alembic import command

    from geodata.store.postgis import alembic_config

    try:
        command.upgrade(alembic_config(url), "head")
        return "ok"
    except Exception as e:  # noqa: BLE001 - the error is the test's answer
        return f"{type(e).__name__}: {e}"


def test_three_processes_migrate_a_fresh_store_at_once():
    admin = sa.create_engine(os.environ.get("WAGEMAP_TEST_DB") or DEFAULT_PG, isolation_level="AUTOCOMMIT")
    name = f"wagemap_race_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE wagemap_template')
    except Exception as e:  # noqa: BLE001
        admin.dispose()
        unavailable(f"PostGIS ({type(e).__name__}: {e})")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        with mp.get_context("spawn").Pool(3) as pool:
            answers = pool.map(_upgrade, [url] * 3)
        assert answers == ["ok"] * 3
        eng = sa.create_engine(url)
        with eng.connect() as c:
            heads = c.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
            trgm = c.exec_driver_sql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
        eng.dispose()
        assert len(heads) == 1 and trgm == 1
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
