"""Tests for layers/search_sql.py: the search answered from the store gives the in-memory index's answer.

On PostGIS the candidates come from SQL (pg_trgm); the same store's in-memory index is the
reference. Scope (row-level security), bound parameters and the trigram index under FORCE ROW
LEVEL SECURITY are checked on PostGIS.
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from geodata import schema
from layers import search as s
from layers import search_sql as sq
from tests.layers.test_search import frames

QUERIES = [
    "SJ2024-0007", "sj2024-0007", "AJ-2024-0315", "XM-410183-0044", "0044", "青屏街道综合楼", "综合楼", "新密市耐火材料厂",
    "耐火材料", "91410183MA47XYZ12Q", "９１４１０１８３ＭＡ４７ＸＹＺ１２Ｑ", "91410183MA0000001X", "朝阳沟村",
    "超化镇黄固寺村东200米", "新密耐火材科厂", "金水湾安置房", "金水", "火星基地", "米村镇朝阳沟", "黄固寺", "青屏大街",
    "113.3805,34.5403", "   ",
]


def _load(store) -> None:
    data = frames()
    gaz = data.pop("gazetteer")
    with store.begin() as conn:
        conn.execute(sa.insert(schema.gazetteer), gaz.to_dict("records"))
        for kind, df in data.items():
            store.upsert(conn, kind, df, store.new_batch(conn, kind, "t.xlsx", "t"))


def _answer(r: s.SearchResult) -> tuple:
    return r.status, r.message, [(x.kind, x.key, x.score, x.matched, x.township_code) for x in r.sites]


@pytest.mark.parametrize("query", QUERIES)
def test_store_answer_equals_the_in_memory_index(pg_store, query):
    _load(pg_store)
    index = sq.load_index(pg_store)
    base = sq.load_base(pg_store)
    assert _answer(sq.search_sql(pg_store, query, base)) == _answer(s.search(query, index))


def test_search_store_on_both_backends(store):
    _load(store)
    r = sq.search_store(store, "新密耐火材科厂")
    assert r.status == "found" and r.sites[0].key == "91410183MA47XYZ12Q"
    assert sq.search_store(store, "金水湾安置房").status == "ambiguous"


def test_scope_limits_what_sql_finds(pg_store):
    _load(pg_store)
    scope = ["410183001000"]  # 青屏街街道
    base = sq.load_base(pg_store, scope)
    assert sq.search_sql(pg_store, "青屏街道综合楼", base, scope=scope).sites[0].key == "XM-410183-0044"
    for q in ("SJ2024-0007", "金水湾安置房", "耐火材料"):  # sites in other townships
        r = sq.search_sql(pg_store, q, base, scope=scope)
        assert all(x.township_code in scope for x in r.sites if x.kind not in ("place", "township")), q
    with pg_store.begin(scope) as conn:  # row-level security alone (no township filter in the query) also hides them
        rows = conn.execute(sa.select(schema.projects.c.project_code)).scalars().all()
    assert rows == ["XM-410183-0044"]


def test_candidate_sql_uses_bound_parameters_only():
    from sqlalchemy.dialects import postgresql

    for kind in sq.INDEX_COLUMNS:
        sql = str(sq.select_candidates(kind, "金水湾' OR 1=1 --", scope=["410183001000"]).compile(dialect=postgresql.dialect()))
        assert "金水湾" not in sql and "410183001000" not in sql and "<%" in sql
    short = str(sq.select_candidates("projects", "金%", None).compile(dialect=postgresql.dialect()))
    assert "LIKE" in short and "金" not in short


def test_thresholds_find_the_whole_query_then_allow_typos():
    for n in range(3, 30):
        ts = sq.thresholds(n)
        assert ts == sorted(ts, reverse=True) and min(ts) >= 0.2
        assert ts[0] <= (n - 2) / (n + 1)  # a query found inside a longer string shares its n - 2 inner trigrams
        if n >= 8:  # one typo inside: 3 trigrams fewer shared, 3 of the row's more
            assert ts[1] <= (n - 5) / (n + 4)


def test_a_misspelt_whole_name_is_found_among_many_similar_names(pg_store):
    names = [f"示例餐饮服务有限公司乙{i:05d}" for i in range(0, 3000, 3)]  # 1,000 names differing in digits only
    with pg_store.begin() as conn:
        pg_store.upsert(conn, "enterprises", pd.DataFrame({
            "credit_code": [f"914101830000{i:05d}X"[:18] for i in range(len(names))], "name": names,
            "township_code": "410183001000", "lon": 113.38, "lat": 34.54}), pg_store.new_batch(conn, "enterprises", "t", "t"))
    q = "示例餐饮服务有限某司乙01053"  # 公 mistyped
    r = sq.search_sql(pg_store, q, sq.load_base(pg_store))
    assert r.sites[0].title == "示例餐饮服务有限公司乙01053"
    assert _answer(r)[2][0] == _answer(s.search(q, sq.load_index(pg_store)))[2][0]


def test_trigram_index_is_usable_under_row_level_security(pg_store):
    """Migration 0004's GIN index serves `<%` behind FORCE ROW LEVEL SECURITY (LEAKPROOF marks of .ci/postgis.sh)."""
    _load(pg_store)
    with pg_store.begin(["410183001000"]) as conn:
        leakproof = conn.execute(sa.text(
            "SELECT proleakproof FROM pg_proc WHERE proname = 'word_similarity_commutator_op'")).scalar()
        if not leakproof:
            pytest.skip("pg_trgm's operators are not LEAKPROOF here (run .ci/postgis.sh as superuser)")
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        c = sq.select_candidates("projects", "综合楼", None).compile(conn, compile_kwargs={"render_postcompile": True})
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(c), c.params))
    assert "ix_projects_trgm" in plan


def test_search_cli_lists_the_nearest_sites_and_totals(store):
    _load(store)
    out = sq.search_cli(store, "金水湾安置房一期", radius_km=1.0)
    site = out["sites"][0]
    assert site["key"] == "XM-410183-0042"
    near = site["nearby"]
    assert near["total"] == len(near["items"]) == near["summary"]["projects"] + near["summary"]["enterprises"]
    assert near["items"][0]["key"] == "XM-410183-0042" and near["items"][0]["distance_m"] == 0.0
    assert pd.Series([i["distance_m"] for i in near["items"]]).is_monotonic_increasing


@pytest.mark.parametrize("query", ["SJ2024", "金水湾安置房", "超化镇黄固寺村", "青屏大街", "示例建工", "AJ-2024-0315"])
def test_records_of_the_sql_rows_are_those_build_index_makes(pg_store, query):
    """`index_of` flattens the UNION's rows as `build_index` flattens the same rows read into one frame per kind
    (strings, subtitles, times formatted by pandas, titles, keys), in the same order."""
    _load(pg_store)
    base = sq.load_base(pg_store)
    with pg_store.begin() as conn:
        rows = sq.candidates(conn, s.normalise(query))
        frames = {}
        for i, (_kind, table, key, *_rest) in enumerate(sq.KINDS):
            keys = [r.key for r in rows if r.k == i]
            t = schema.DATA_TABLES[table]
            df = pd.read_sql(sa.select(*[t.c[c] for c in sq.INDEX_COLUMNS[table]]).where(t.c[key].in_(keys)), conn)
            frames[table] = df.set_index(key, drop=False).loc[keys].reset_index(drop=True)  # the rows' order, repeats kept
    assert rows and any(len(f) for f in frames.values())
    got, want = sq.index_of(rows, base), s.build_index(townships=base.townships, **frames)
    cols = ["kind", "key", "alt", "title", "subtitle", "address", "township_code"]
    assert got.records[cols].astype(str).values.tolist() == want.records[cols].astype(str).values.tolist()
    assert got.records[["lon", "lat"]].equals(want.records[["lon", "lat"]].astype(float))
    assert list(got.ids) == list(want.ids) and list(got.alt_ids) == list(want.alt_ids)
    assert got.names == want.names and got.addresses == want.addresses
