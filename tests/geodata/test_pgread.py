"""PostGIS bulk reads by COPY + pyarrow give exactly the frame pandas.read_sql gives, under the scope ceiling."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from geodata import schema
from geodata.store.pgread import read_frame
from tests.dashboard.conftest import QP, fill


def _read_sql(store, kind: str, scope=None) -> pd.DataFrame:
    t = schema.metadata.tables[kind]
    q = sa.select(*[c for c in t.columns if c.name != "geom"])
    if scope is not None:
        q = q.where(t.c.township_code.in_(scope))
    with store.begin(scope) as conn:
        return pd.read_sql(q, conn)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(df.drop(columns="geometry", errors="ignore")).sort_values("id").reset_index(drop=True)


def test_copy_reads_equal_read_sql_for_every_kind_and_scope(pg_store):
    fill(pg_store)
    with pg_store.begin() as conn:  # awkward text: separators, quotes, newlines, an empty string, NULL
        t = schema.cases
        conn.execute(t.update().where(t.c.case_no == conn.execute(sa.select(sa.func.min(t.c.case_no))).scalar())
                     .values(description='a,b "quoted"\nsecond line', complainant="", complainant_phone=None))
    kinds = [k for k in schema.DATA_TABLES] + ["load_batches", "rejected_rows"]
    for kind in kinds:
        got, want = _plain(pg_store.read(kind)), _plain(_read_sql(pg_store, kind))
        pd.testing.assert_frame_equal(got, want, check_dtype=True, obj=kind)
    got = _plain(pg_store.read("cases"))
    assert (got["complainant"] == "").any() and got["complainant_phone"].isna().any()
    assert got["description"].str.contains("\nsecond line", regex=False).any()
    scoped = _plain(pg_store.read("projects", scope=[QP]))
    assert len(scoped) and set(scoped["township_code"]) == {QP}
    pd.testing.assert_frame_equal(scoped, _plain(_read_sql(pg_store, "projects", [QP])), check_dtype=True)


def test_copy_read_keeps_row_level_security(pg_store):
    fill(pg_store)
    q = sa.select(schema.projects.c.project_code, schema.projects.c.township_code)
    with pg_store.begin([QP]) as conn:  # no WHERE at all: the policy alone keeps other townships out
        df = read_frame(conn, q)
    assert len(df) and set(df["township_code"]) == {QP}
    with pg_store.engine.begin() as conn:  # no scope set: nothing visible, and an empty frame, not an error
        assert read_frame(conn, q).empty


def test_bulk_reads_are_not_rotated_by_synchronised_scans(pg_store):
    """Rows come in the table's physical order on every read: synchronize_seqscans is off in the read's transaction
    (a scan that joins another one midway would return the rows rotated; caps of 'first N' would then differ)."""
    fill(pg_store)
    q = sa.select(schema.projects.c.project_code)
    with pg_store.begin() as conn:
        assert conn.exec_driver_sql("SHOW synchronize_seqscans").scalar() == "on"  # the server's default
        first = read_frame(conn, q)
        assert conn.exec_driver_sql("SHOW synchronize_seqscans").scalar() == "off"  # for this transaction only
        want = conn.exec_driver_sql("SELECT project_code FROM projects ORDER BY ctid").scalars().all()
    assert first["project_code"].tolist() == want
    with pg_store.begin() as conn:
        assert conn.exec_driver_sql("SHOW synchronize_seqscans").scalar() == "on"
