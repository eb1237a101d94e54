"""The PostGIS backend: Alembic-managed schema, COPY-based upserts, township row-level security."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects.postgresql import REGCLASS

from geodata import schema
from geodata.store import base
from geodata.store.base import Scope, Store, StoreError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
PART_ROWS = 10_000  # rows per COPY + INSERT; the next part is prepared while the server writes this one


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

    def _read_frame(self, conn: sa.Connection, q: sa.Select, bulk: bool = True) -> pd.DataFrame:
        if not bulk:  # a few rows by key: one plain round trip beats COPY's set-up
            return pd.read_sql(q, conn)
        from geodata.store.pgread import read_frame

        return read_frame(conn, q)  # COPY + pyarrow: ~3x faster than pandas.read_sql at province scale

    def upsert(self, conn: sa.Connection, kind: str, df: pd.DataFrame, batch_id: int) -> dict[str, int]:
        """As Store.upsert, in parts of PART_ROWS rows: while the server writes one part, Python
        prepares the next (hash and COPY text, `base.copy_text`) — the two sides run on two cores
        instead of taking turns.

        The connection is used by one thread at a time (the writer); the caller's transaction is kept.
        """
        t = schema.DATA_TABLES[kind]
        key = t.info["key"]
        done = {"inserted": 0, "updated": 0, "unchanged": 0}
        if df.empty:
            return done
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wagemap-load") as writer:
            pending = None
            for start in range(0, len(df), PART_ROWS):
                part = df.iloc[start : start + PART_ROWS]
                cols, text = base.copy_text(t, part, batch_id)
                if pending is not None:
                    _add(done, pending.result())
                pending = writer.submit(self._write, conn, t, key, cols, text, len(part), batch_id)
            _add(done, pending.result())
        return done

    def _upsert_rows(self, conn: sa.Connection, t: sa.Table, key: list[str], df: pd.DataFrame) -> dict[str, int]:
        cols, text = _csv(t, df)
        batch = df["batch_id"].iloc[0] if "batch_id" in df.columns and len(df) else None
        return self._write(conn, t, key, cols, text, len(df), batch)

    def _write(self, conn: sa.Connection, t: sa.Table, key: list[str], cols: list[str], text: str, n_rows: int,
               batch: int | None) -> dict[str, int]:
        """COPY prepared rows into a temporary stage, then one INSERT … SELECT into the table.

        When the table holds no row of another load batch (a first load, or the later parts of
        one), nothing can conflict: a plain INSERT (about a third less server time than
        ON CONFLICT, measured in benchmarks/RESULTS.md), inside a savepoint so that a key repeated
        across parts falls back to the upsert. Otherwise ON CONFLICT … DO UPDATE where the row
        hash changed, counted in the server (one row back, not one per input row).
        """
        stage = f"stage_{t.name}"  # identifiers come from our schema, never from input
        conn.exec_driver_sql(f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "{t.name}" INCLUDING DEFAULTS) ON COMMIT DROP')
        conn.exec_driver_sql(f'TRUNCATE "{stage}"')
        col_list = ", ".join(f'"{c}"' for c in cols)
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f'COPY "{stage}" ({col_list}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')') as cp:
            for i in range(0, len(text), 1 << 20):
                cp.write(text[i : i + (1 << 20)])
        geom = ", ST_SetSRID(ST_MakePoint(lon, lat), 4326)" if "geom" in t.c else ""
        geom_col = ', "geom"' if geom else ""
        insert = f'INSERT INTO "{t.name}" ({col_list}{geom_col}) SELECT {col_list}{geom} FROM "{stage}"'  # noqa: S608
        if batch is not None and not self._has_other_batches(conn, t, int(batch)):
            try:
                with conn.begin_nested():
                    n = conn.exec_driver_sql(insert).rowcount
                return {"inserted": n, "updated": 0, "unchanged": n_rows - n}
            except sa.exc.IntegrityError:
                pass  # a key seen in an earlier part of this batch: upsert below
        updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in cols if c not in key)
        geom_upd = ', "geom" = EXCLUDED."geom"' if geom else ""
        keys = ", ".join(f'"{k}"' for k in key)
        # identifiers from our schema, values only through COPY
        sql = (
            f"WITH up AS ({insert} "  # noqa: S608
            f'ON CONFLICT ({keys}) DO UPDATE SET {updates}{geom_upd} '
            f'WHERE "{t.name}".row_hash IS DISTINCT FROM EXCLUDED.row_hash RETURNING (xmax = 0) AS inserted) '
            "SELECT count(*) FILTER (WHERE inserted), count(*) FROM up"
        )
        inserted, written = conn.exec_driver_sql(sql).one()
        updated = written - inserted
        return {"inserted": inserted, "updated": updated, "unchanged": n_rows - inserted - updated}

    def after_load(self, kinds: Sequence[str]) -> None:
        """Right after a load's commit, what autovacuum would do minutes later (or never: it is off on
        the CI server), because the dashboard's warm-up starts on the new data version at once:
        - ANALYZE the tables written: keyed reads and the radius/search plans need the new row counts
          and histograms (0.1–0.3 s a table, a 30,000-row sample, whatever the table's size);
        - merge the pending lists of their GIN indexes (the search's trigram indexes, migration 0004):
          until merged, every trigram lookup reads the whole list (up to 4 MB), 1.8–3.6x slower
          (benchmarks/RESULTS.md, search notes). The merge is work the insert deferred, not extra work.
        """
        tables = sorted({schema.DATA_TABLES[k].name for k in kinds if k in schema.DATA_TABLES})
        if not tables:
            return
        gin = sa.text("SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                      "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'gin' AND i.indrelid::regclass::text = ANY(:t)")
        with self.engine.connect() as conn:
            for index in conn.execute(gin, {"t": tables}).scalars():
                conn.execute(sa.select(sa.func.gin_clean_pending_list(sa.cast(index, REGCLASS))))
            for name in tables:  # identifiers from our schema, never from input
                conn.exec_driver_sql(f'ANALYZE "{name}"')
            conn.commit()

    @staticmethod
    def _has_other_batches(conn: sa.Connection, t: sa.Table, batch: int) -> bool:
        """Whether the table has a row of another batch: min/max of batch_id, two index probes
        (`batch_id <> x` would be a sequential scan per part). Rows without a batch are not seen
        here; a key of theirs repeated makes the plain INSERT fail and fall back to the upsert."""
        lo, hi = conn.execute(sa.select(sa.func.min(t.c.batch_id), sa.func.max(t.c.batch_id))).one()
        return lo is not None and not (lo == hi == batch)


def _csv(t: sa.Table, df: pd.DataFrame) -> tuple[list[str], str]:
    """The table's columns present in prepared rows, and those rows as CSV text for COPY (NULL = \\N)."""
    cols = [c for c in df.columns if c in t.c and c not in ("id", "geom")]
    return cols, df[cols].to_csv(index=False, header=False, na_rep="\\N")


def _add(total: dict[str, int], part: dict[str, int]) -> None:
    for k, v in part.items():
        total[k] += int(v)


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
