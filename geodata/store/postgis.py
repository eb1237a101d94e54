"""The PostGIS backend: Alembic-managed schema, COPY-based upserts, township row-level security."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from geodata import schema
from geodata.store.base import Scope, Store, StoreError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


class PostgisStore(Store):
    """PostGIS store. Every transaction sets `app.township` (RLS) with set_config(..., true),
    so a pooled connection never carries one user's scope to the next."""

    kind = "postgis"

    def _make_engine(self, url: str) -> sa.Engine:
        return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)

    def _create(self) -> None:
        try:
            command.upgrade(alembic_config(self.url), "head")
        except sa.exc.OperationalError as e:
            raise StoreError(str(e), f"无法连接数据库 {self.engine.url.render_as_string(hide_password=True)}") from e

    def downgrade(self, revision: str = "base") -> None:
        command.downgrade(alembic_config(self.url), revision)

    def _set_scope(self, conn: sa.Connection, scope: Scope) -> None:
        value = "*" if scope is None else ",".join(scope)
        conn.execute(sa.select(sa.func.set_config("app.township", value, True)))

    def _upsert_rows(self, conn: sa.Connection, t: sa.Table, key: list[str], df: pd.DataFrame) -> dict[str, int]:
        cols = [c for c in df.columns if c in t.c and c not in ("id", "geom")]
        stage = f"stage_{t.name}"  # identifiers come from our schema, never from input
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{stage}"')
        conn.exec_driver_sql(f'CREATE TEMP TABLE "{stage}" (LIKE "{t.name}" INCLUDING DEFAULTS) ON COMMIT DROP')
        buf = io.StringIO()
        df[cols].to_csv(buf, index=False, header=False, na_rep="\\N")
        buf.seek(0)
        col_list = ", ".join(f'"{c}"' for c in cols)
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f'COPY "{stage}" ({col_list}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')') as cp:
            while chunk := buf.read(1 << 20):
                cp.write(chunk)
        geom = ", ST_SetSRID(ST_MakePoint(lon, lat), 4326)" if "geom" in t.c else ""
        geom_col = ', "geom"' if geom else ""
        updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in cols if c not in key)
        geom_upd = ', "geom" = EXCLUDED."geom"' if geom else ""
        keys = ", ".join(f'"{k}"' for k in key)
        sql = (
            f'INSERT INTO "{t.name}" ({col_list}{geom_col}) SELECT {col_list}{geom} FROM "{stage}" '
            f'ON CONFLICT ({keys}) DO UPDATE SET {updates}{geom_upd} '
            f'WHERE "{t.name}".row_hash IS DISTINCT FROM EXCLUDED.row_hash RETURNING (xmax = 0) AS inserted'
        )
        flags = [r[0] for r in conn.exec_driver_sql(sql)]
        inserted = sum(flags)
        updated = len(flags) - inserted
        return {"inserted": inserted, "updated": updated, "unchanged": len(df) - inserted - updated}


def check_reachable(url: str) -> None:
    """Raise StoreError with a Chinese message when the server cannot be reached."""
    eng = sa.create_engine(url)
    try:
        with eng.connect():
            pass
    except sa.exc.OperationalError as e:
        raise StoreError(str(e), "无法连接 PostGIS") from e
    finally:
        eng.dispose()
