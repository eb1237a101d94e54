"""The store interface behaves the same on GeoPackage and PostGIS."""

import pandas as pd
import sqlalchemy as sa

from geodata import schema


def _projects():
    return pd.DataFrame(
        {
            "project_code": ["P1", "P2", "P3"],
            "name": ["甲工程", "乙工程", "丙工程"],
            "township_code": ["410183104000", "410183001000", "410183104000"],
            "lon": [113.40, 113.378, None],
            "lat": [34.43, 34.54, None],
            "start_date": ["2024-03-01", None, "2024-05-02"],
            "contract_value": [100.0, None, 5.5],
            "notice_board": [True, None, False],
            "source_row": [2, 3, 4],
        }
    )


def test_townships_are_the_19_demo_units(store):
    t = store.townships()
    assert len(t) == 19 and t["is_demo"].all() and store.boundaries_are_demo()
    assert t.geometry.is_valid.all()
    assert set(t["code"]) >= {"410183401000", "410183104000"}


def test_upsert_is_idempotent_and_updates_changed_rows(store):
    with store.begin() as conn:
        b = store.new_batch(conn, "projects", "p.csv")
        assert store.upsert(conn, "projects", _projects(), b) == {"inserted": 3, "updated": 0, "unchanged": 0}
        assert store.upsert(conn, "projects", _projects(), b) == {"inserted": 0, "updated": 0, "unchanged": 3}
        changed = _projects()
        changed.loc[1, "name"] = "乙工程（改）"
        assert store.upsert(conn, "projects", changed, b) == {"inserted": 0, "updated": 1, "unchanged": 2}
        store.finish_batch(conn, b, 3, 3, 0, {})
    got = store.read("projects").set_index("project_code")
    assert got.loc["P2", "name"] == "乙工程（改）"
    assert str(got.loc["P1", "start_date"]) == "2024-03-01"
    assert got.loc["P1", "geometry"].x == 113.40
    assert store.count("projects") == 3


def test_text_with_csv_characters_and_missing_values_round_trip(store):
    df = _projects()
    df["name"] = ['甲,"工程"', "乙\r\n工程", "\\N"]  # a comma and quotes, a line break, the COPY NULL marker as text
    df.loc[2, "township_code"] = None
    with store.begin() as conn:
        b = store.new_batch(conn, "projects", "p.csv")
        store.upsert(conn, "projects", df, b)
        assert store.upsert(conn, "projects", df, b)["unchanged"] == 3
    got = store.read("projects").set_index("project_code")
    assert got["name"].to_dict() == {"P1": '甲,"工程"', "P2": "乙\r\n工程", "P3": "\\N"}
    assert pd.isna(got.loc["P3", "township_code"]) and pd.isna(got.loc["P2", "contract_value"])
    assert got.loc["P1", "notice_board"] == True and pd.isna(got.loc["P2", "notice_board"])  # noqa: E712


def test_row_hashes_depend_only_on_the_row():
    from geodata.store.base import prepare_rows

    a = _projects()
    b = _projects()
    b.loc[0, "name"] = "甲工程" * 20  # a much longer value in another row
    b.loc[2, "contract_value"] = 6.5
    ha, hb = prepare_rows(schema.projects, a, 1)["row_hash"], prepare_rows(schema.projects, b, 2)["row_hash"]
    assert ha[1] == hb[1] and ha[0] != hb[0] and ha[2] != hb[2]
    assert ha.str.fullmatch(r"[0-9a-f]{16}").all() and ha.nunique() == 3


def test_read_by_scope_and_where(store):
    with store.begin() as conn:
        b = store.new_batch(conn, "projects", "p.csv")
        store.upsert(conn, "projects", _projects(), b)
    assert set(store.read("projects", scope=["410183104000"])["project_code"]) == {"P1", "P3"}
    assert list(store.read("projects", where={"project_code": ["P2"]})["name"]) == ["乙工程"]
    assert store.read("projects", scope=[]).empty


def test_failed_transaction_writes_nothing(store):
    v0 = store.data_version()
    try:
        with store.begin() as conn:
            b = store.new_batch(conn, "projects", "p.csv")
            store.upsert(conn, "projects", _projects(), b)
            store.finish_batch(conn, b, 3, 3, 0, {})
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert store.count("projects") == 0 and store.data_version() == v0


def test_delete_batch_and_rejected_rows(store):
    with store.begin() as conn:
        b = store.new_batch(conn, "projects", "p.csv")
        store.upsert(conn, "projects", _projects(), b)
        rej = pd.DataFrame({"source_row": [9], "reason": ["缺少必填字段"], "reason_code": ["missing_required"],
                            "row_json": ["{}"]})
        store.add_rejected(conn, b, "projects", "p.csv", rej)
        store.finish_batch(conn, b, 4, 3, 1, {"rows_read": 4})
    assert len(store.read("rejected_rows")) == 1
    assert store.delete_batch(b) == 3
    assert store.count("projects") == 0 and store.read("rejected_rows").empty


def test_points_are_stored_as_geometry(store):
    with store.begin() as conn:
        b = store.new_batch(conn, "projects", "p.csv")
        store.upsert(conn, "projects", _projects(), b)
        t = schema.projects
        n = conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.geom.isnot(None))).scalar_one()
    assert n == 2


def test_postgis_row_level_security_alone_hides_other_townships(pg_store):
    """With no WHERE clause at all, a transaction scoped to one township sees only its rows."""
    with pg_store.begin() as conn:
        b = pg_store.new_batch(conn, "projects", "p.csv")
        pg_store.upsert(conn, "projects", _projects(), b)
    t = schema.projects
    with pg_store.begin(scope=["410183001000"]) as conn:
        codes = conn.execute(sa.select(t.c.project_code)).scalars().all()
    assert codes == ["P2"]
    with pg_store.engine.begin() as conn:  # no scope set at all: nothing visible
        assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 0


def test_alembic_upgrades_from_empty_and_downgrades(pg_url):
    from geodata.store.postgis import PostgisStore

    s = PostgisStore(pg_url)
    s.downgrade("base")
    assert "projects" not in sa.inspect(s.engine).get_table_names()
    s.init()
    names = set(sa.inspect(s.engine).get_table_names())
    assert set(schema.metadata.tables) <= names
    idx = {i["name"] for i in sa.inspect(s.engine).get_indexes("projects")}
    assert "ix_projects_xy" in idx and "ix_projects_lonlat" not in idx  # the radius box's btree (0006 replaced 0002's)
    assert "ix_projects_geog" not in idx  # dropped by 0003: no query used it (benchmarks/RESULTS.md)
    s.engine.dispose()


def test_rows_loaded_before_their_project_get_its_township_later(store):
    with store.begin() as conn:
        b = store.new_batch(conn, "compliance", "c.csv")
        store.upsert(conn, "compliance", pd.DataFrame({"project_code": ["P1", "P9"], "month": ["2024-05", "2024-05"],
                                                       "workers_onsite": [10, 3]}), b)
        store.upsert(conn, "projects", _projects(), b)
        assert store.fill_related_townships(conn) == 1
    got = store.read("compliance").set_index("project_code")["township_code"]
    assert got["P1"] == "410183104000" and pd.isna(got["P9"])


def test_a_forked_child_opens_its_own_connections_and_both_processes_keep_working(pg_store):
    """gunicorn forks its workers from the master, which opened the store: a child must not reuse the parent's pooled
    sockets (two processes on one socket break each other's queries: "consuming input failed")."""
    import multiprocessing as mp

    pg_store.data_version()  # a connection is now pooled in this process
    assert pg_store.engine.pool.checkedin() >= 1

    def child(q) -> None:
        inherited = pg_store.engine.pool.checkedin()
        versions = [pg_store.data_version() for _ in range(20)]
        q.put((inherited, len(set(versions))))

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=child, args=(q,)) for _ in range(2)]
    for p in procs:
        p.start()
    mine = [pg_store.data_version() for _ in range(20)]
    got = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert all(inherited == 0 and n == 1 for inherited, n in got)
    assert len(set(mine)) == 1 and pg_store.data_version() == mine[0]
