"""PostGIS loads: plain INSERT into a table with no other batch, upsert otherwise, same counts either way."""

import pandas as pd
import pytest
import sqlalchemy as sa

from geodata import schema


def _cases(n: int, start: int = 0, amount: float = 1.0) -> pd.DataFrame:
    i = range(start, start + n)
    return pd.DataFrame({
        "case_no": [f"AJ{k:05d}" for k in i], "employer_name": [f"单位{k}" for k in i], "amount": amount,
        "township_code": "410183104000", "lon": [113.30 + k * 1e-4 for k in i], "lat": 34.45, "source_row": list(i),
    })


def _statements(pg_store):
    seen: list[str] = []

    def before(conn, cursor, statement, *a):
        seen.append(statement)

    sa.event.listen(pg_store.engine, "before_cursor_execute", before)
    return seen, lambda: sa.event.remove(pg_store.engine, "before_cursor_execute", before)


def test_first_load_inserts_without_on_conflict_and_sets_geometry(pg_store):
    seen, stop = _statements(pg_store)
    try:
        with pg_store.begin() as conn:
            b = pg_store.new_batch(conn, "cases", "c.csv")
            assert pg_store.upsert(conn, "cases", _cases(30), b) == {"inserted": 30, "updated": 0, "unchanged": 0}
            # a later chunk of the same batch: still no other batch in the table
            assert pg_store.upsert(conn, "cases", _cases(20, 30), b) == {"inserted": 20, "updated": 0, "unchanged": 0}
    finally:
        stop()
    inserts = [s for s in seen if s.startswith('INSERT INTO "cases"') or s.startswith("WITH up AS")]
    assert len(inserts) == 2 and not any("ON CONFLICT" in s for s in inserts)
    with pg_store.begin() as conn:
        n, with_geom = conn.execute(sa.text("SELECT count(*), count(geom) FROM cases")).one()
        x = conn.execute(sa.text("SELECT ST_X(geom) FROM cases WHERE case_no = 'AJ00003'")).scalar()
    assert (n, with_geom) == (50, 50) and x == pytest.approx(113.3003)


def test_key_repeated_across_chunks_of_one_batch_falls_back_to_upsert(pg_store):
    with pg_store.begin() as conn:
        b = pg_store.new_batch(conn, "cases", "c.csv")
        pg_store.upsert(conn, "cases", _cases(10), b)
        got = pg_store.upsert(conn, "cases", pd.concat([_cases(5, 8, amount=2.0), _cases(3, 20)]), b)
    assert got == {"inserted": 6, "updated": 2, "unchanged": 0}  # AJ00008-9 changed; 10-12 and 20-22 new
    amounts = pg_store.read("cases").set_index("case_no")["amount"]
    assert len(amounts) == 16 and amounts["AJ00009"] == 2.0 and amounts["AJ00000"] == 1.0


def test_second_batch_upserts_and_counts_in_the_server(pg_store):
    with pg_store.begin() as conn:
        b1 = pg_store.new_batch(conn, "cases", "c.csv")
        pg_store.upsert(conn, "cases", _cases(10), b1)
    seen, stop = _statements(pg_store)
    try:
        with pg_store.begin() as conn:
            b2 = pg_store.new_batch(conn, "cases", "c.csv")
            changed = _cases(10)
            changed.loc[2, "amount"] = 9.0
            got = pg_store.upsert(conn, "cases", pd.concat([changed, _cases(4, 10)], ignore_index=True), b2)
    finally:
        stop()
    assert got == {"inserted": 4, "updated": 1, "unchanged": 9}
    assert any(s.startswith("WITH up AS") and "ON CONFLICT" in s for s in seen)
    with pg_store.begin() as conn:
        t = schema.cases
        batches = dict(conn.execute(sa.select(t.c.case_no, t.c.batch_id)).all())
    assert batches["AJ00002"] == b2 and batches["AJ00003"] == b1 and batches["AJ00011"] == b2


def test_row_security_still_checks_rows_on_the_fast_path(pg_store):
    other = _cases(2).assign(township_code="410183001000")
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
        with pg_store.begin(scope=["410183104000"]) as conn:
            b = pg_store.new_batch(conn, "cases", "c.csv")
            pg_store.upsert(conn, "cases", other, b)
    assert pg_store.count("cases") == 0


def test_parts_are_written_in_order_and_counted(pg_store, monkeypatch):
    from geodata.store import postgis

    monkeypatch.setattr(postgis, "PART_ROWS", 7)  # 50 rows -> 8 parts, prepared while the previous one is written
    with pg_store.begin() as conn:
        b1 = pg_store.new_batch(conn, "cases", "c.csv")
        assert pg_store.upsert(conn, "cases", _cases(50), b1) == {"inserted": 50, "updated": 0, "unchanged": 0}
    with pg_store.begin() as conn:
        b2 = pg_store.new_batch(conn, "cases", "c.csv")
        again = pd.concat([_cases(40), _cases(10, 40, amount=3.0), _cases(5, 50)], ignore_index=True)
        assert pg_store.upsert(conn, "cases", again, b2) == {"inserted": 5, "updated": 10, "unchanged": 40}
    got = pg_store.read("cases").set_index("case_no")
    assert len(got) == 55 and got.loc["AJ00045", "amount"] == 3.0 and got.loc["AJ00054", "source_row"] == 54


def test_a_failing_part_rolls_the_whole_load_back(pg_store, monkeypatch):
    from geodata.store import postgis

    monkeypatch.setattr(postgis, "PART_ROWS", 5)
    bad = _cases(12)
    bad.loc[11, "township_code"] = "410183001000"  # outside the transaction's scope: RLS rejects the last part
    with pytest.raises(sa.exc.ProgrammingError):
        with pg_store.begin(scope=["410183104000"]) as conn:
            b = pg_store.new_batch(conn, "cases", "c.csv")
            pg_store.upsert(conn, "cases", bad, b)
    assert pg_store.count("cases") == 0
