"""Emergency search answered from the store: on PostGIS the rows that may match are found in SQL (pg_trgm).

A query reads only its candidates: per searched table, the rows whose key equals it (unique
btrees) and the rows whose key, name or address share enough trigrams with it (one GIN index per
table, migration 0004), at most CAP rechecked and PER_TABLE kept, best word similarity first.
Those few rows are flattened with `layers.search.build_index` and ranked by the same
`layers.search.search` as the in-memory index, so both paths give the same scores, order,
verdict and result shape. Scope: the transaction's township scope (row-level security, set by
`store.begin(scope)`), and the same township filter in the query.

Trigram thresholds (`thresholds`): first strict (the query occurs whole in the row), then, only
while fewer than ENOUGH rows were found, tolerating one typo (from 6 characters), then two (from
12). Limits: a query of 1-2 characters has no inner trigram, so it is matched by LIKE with a
sequential scan stopped at CAP rows; a misspelt fragment under 6 characters is not looked for;
when more than CAP rows pass a threshold, which CAP are ranked is up to the scan (so a misspelt
whole name among thousands of near-identical ones may be missed, see benchmarks/RESULTS.md).
GeoPackage (city scale) keeps the in-memory index built once per data version (`load_index`).
"""

from __future__ import annotations

import re

import pandas as pd
import sqlalchemy as sa

from geodata import schema
from layers.search import LONG_QUERY, SearchIndex, SearchResult, build_index, normalise, parse_coordinates, search

INDEX_COLUMNS = {  # what the ranking reads of each kind (layers.search.build_index)
    "incidents": ["incident_no", "address", "grade", "status", "occurred_at", "township_code", "lon", "lat"],
    "cases": ["case_no", "employer_name", "address", "status", "received_date", "township_code", "lon", "lat"],
    "projects": ["project_code", "name", "address", "contractor", "contractor_credit_code", "status", "township_code",
                 "lon", "lat"],
    "enterprises": ["credit_code", "name", "address", "industry", "township_code", "lon", "lat"],
}
KEY = {"incidents": "incident_no", "cases": "case_no", "projects": "project_code", "enterprises": "credit_code"}
TEXT_COLUMNS = {  # matched by trigrams (the GIN index of migration 0004 covers exactly these)
    "incidents": ("incident_no", "address"),
    "cases": ("case_no", "employer_name", "address"),
    "projects": ("project_code", "name", "address"),
    "enterprises": ("credit_code", "name", "address"),
}
ALT = {"projects": "contractor_credit_code"}  # a credit code also finds the projects it contracts
CAP = 500  # rows per table rechecked against the trigram threshold before ordering
PER_TABLE = 100  # candidates per table handed to the ranking
ENOUGH = 20  # strict matches (all tables) above which the loose, typo-tolerant pass is skipped


# ---- in-memory (GeoPackage) and what both paths share ----------------------------------------------

def load_index(store, scope=None) -> SearchIndex:
    """Read every searchable row of `scope` from `store` and build the in-memory index (GeoPackage path)."""
    frames = {k: _plain(store.read(k, scope=scope, columns=cols)) for k, cols in INDEX_COLUMNS.items()}
    base = load_base(store, scope)
    index = build_index(townships=base.townships, **frames)
    index.places = base.places
    return index


def load_base(store, scope=None) -> SearchIndex:
    """Townships and gazetteer places (small; cache by data version) with no site rows: the SQL path's base."""
    from etl.gazetteer import entries  # noqa: PLC0415  (the store's village list, else the bundled demo one)

    gaz = entries(store)
    if scope is not None and len(gaz):
        gaz = gaz[gaz["township_code"].isin(list(scope))]
    return build_index(townships=store.townships(), gazetteer=gaz)


def uses_sql(store) -> bool:
    """Whether `store` answers searches in SQL (PostGIS) rather than from the in-memory index."""
    return getattr(store, "kind", "") == "postgis"


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(df).drop(columns=["geometry"], errors="ignore")


# ---- answered in SQL (PostGIS) --------------------------------------------------------------------

def search_sql(store, query: str, base: SearchIndex, scope=None, limit: int = 10) -> SearchResult:
    """Like `layers.search.search` over the whole scope, reading only the candidate rows from the store."""
    q = normalise(query)
    if not q or parse_coordinates(q) is not None:  # empty, or typed coordinates: no rows needed
        return search(query, base, limit=limit)
    with store.begin(scope) as conn:
        frames = candidates(conn, q, scope)
    index = build_index(townships=base.townships, **frames)
    index.places = base.places
    return search(query, index, limit=limit)


def thresholds(n: int) -> list[float]:
    """Word-similarity thresholds, strictest first, for a query of n characters.

    pg_trgm's word similarity is shared / all trigrams of the query and of the best-matching
    stretch of the row. A query found whole inside a row shares n - 2 of its n + 1 trigrams; each
    typo inside it costs 3 shared trigrams and adds 3 of the row's: (n - 2 - 3k) / (n + 1 + 3k)
    for k typos (k = 0, 1, and 2 from 12 characters), at least 0.2.
    """
    out = []
    for k in range(3 if n >= 12 else 2 if n >= 6 else 1):
        t = round(max(0.2, (n - 2 - 3 * k) / (n + 1 + 3 * k) - 0.01), 3)
        if t not in out:
            out.append(t)
    return out


def candidates(conn: sa.Connection, q: str, scope=None) -> dict[str, pd.DataFrame]:
    """Rows of each searched kind that may match the normalised query `q` (the connection's scope applies):
    the strictest threshold first, a looser one only while fewer than ENOUGH rows were found."""
    _settings(conn)
    frames = None
    for t in thresholds(len(q)):
        more = _read(conn, q, t, scope)
        frames = more if frames is None else {
            k: pd.concat([frames[k], more[k]], ignore_index=True).drop_duplicates(KEY[k]) for k in frames}
        if sum(len(f) for f in frames.values()) >= ENOUGH or _has_key(frames, q):
            break
    return frames


def _settings(conn: sa.Connection) -> None:
    """This transaction only: no JIT (short queries; compiling costs ~100 ms), and no sequential scan where an
    index can serve: pg_trgm declares its similarity functions as cheap as `=`, so on a small table the planner
    would scan every row (15-40 ms per 2,000 rows with CJK text) instead of reading the GIN index (< 1 ms);
    and a plan for the actual query (psycopg prepares a statement run 5 times; a generic plan cannot know
    how selective the query's trigrams are)."""
    settings = (("jit", "off"), ("enable_seqscan", "off"), ("plan_cache_mode", "force_custom_plan"))
    conn.execute(sa.select(*[sa.func.set_config(name, value, True) for name, value in settings]))


def _read(conn: sa.Connection, q: str, threshold: float, scope) -> dict[str, pd.DataFrame]:
    conn.execute(sa.select(sa.func.set_config("pg_trgm.word_similarity_threshold", str(round(threshold, 3)), True)))
    return {kind: pd.read_sql(select_candidates(kind, q, scope), conn) for kind in INDEX_COLUMNS}


def _has_key(frames: dict[str, pd.DataFrame], q: str) -> bool:
    """Whether a row's key is the query (then the ranking answers with codes only; no typo pass needed)."""
    key = re.sub(r"\s+", "", q).upper()
    return any((f[KEY[k]].astype(str).map(normalise).str.upper() == key).any() for k, f in frames.items() if len(f))


def _variants(q: str) -> list[str]:
    key = re.sub(r"\s+", "", q)
    return sorted({key, key.upper(), key.lower()})


def select_candidates(kind: str, q: str, scope=None) -> sa.Select:
    """SELECT of one kind's candidate rows for the normalised query `q` (bound parameters only).

    Exact keys (and a project's contractor credit code) by btree; then trigram matches on key,
    name and address by the GIN index (`q <% column`: word similarity at least the transaction's
    pg_trgm.word_similarity_threshold), at most CAP rows rechecked, PER_TABLE kept by similarity
    (word similarity for a fragment, whole-string similarity past LONG_QUERY characters, as the
    ranking's partial and plain ratios). A query under 3 characters has no trigram to look up:
    LIKE on name and address instead.
    """
    t = schema.DATA_TABLES[kind]
    cols = [t.c[c] for c in INDEX_COLUMNS[kind]]
    qp = sa.bindparam("q", q, type_=sa.Text)
    variants = _variants(q)
    exact = t.c[KEY[kind]].in_(variants)
    if kind in ALT:
        exact = sa.or_(exact, t.c[ALT[kind]].in_(variants))
    text = [t.c[c] for c in TEXT_COLUMNS[kind]]
    if len(q) >= 3:
        match = sa.or_(*[qp.op("<%")(c) for c in text])
    else:
        match = sa.or_(*[c.contains(q, autoescape=True) for c in text if c.name != KEY[kind]])
    sim = sa.func.similarity if len(q) > LONG_QUERY else sa.func.word_similarity
    rank = sa.func.greatest(*[sim(qp, c) for c in text])
    scoped = [t.c.township_code.in_(list(scope))] if scope is not None else []
    fuzzy = sa.select(*cols, rank.label("rank")).where(match, *scoped).limit(CAP).subquery("fuzzy")
    best = sa.select(*[fuzzy.c[c.name] for c in cols]).order_by(fuzzy.c.rank.desc()).limit(PER_TABLE)
    return sa.union_all(sa.select(*cols).where(exact, *scoped), best.subquery("best").select())


def explain(store, query: str, scope=None) -> list[str]:
    """EXPLAIN ANALYZE of the strict candidate query of each kind (for benchmarks/RESULTS.md)."""
    q = normalise(query)
    out = []
    with store.begin(scope) as conn:
        _settings(conn)
        conn.execute(sa.select(sa.func.set_config("pg_trgm.word_similarity_threshold", str(thresholds(len(q))[0]), True)))
        for kind in INDEX_COLUMNS:
            c = select_candidates(kind, q, scope).compile(conn, compile_kwargs={"render_postcompile": True})
            out.append(f"-- {kind}: {query!r}")
            out += [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + str(c), c.params)]
    return out


# ---- the command line -----------------------------------------------------------------------------

def search_store(store, query: str, scope=None, limit: int = 10) -> SearchResult:
    """One query against `store` without a cache: SQL on PostGIS, else a freshly built in-memory index."""
    if uses_sql(store):
        return search_sql(store, query, load_base(store, scope), scope=scope, limit=limit)
    return search(query, load_index(store, scope), limit=limit)


def search_cli(store, query: str, radius_km: float = 1.0, scope=None, limit: int = 10) -> dict:
    """`wagemap search QUERY [--radius-km R] --json`: ranked sites with WGS-84/GCJ-02 and what is near each."""
    from layers.nearby import ITEM_COLUMNS, fetch_nearby  # noqa: PLC0415

    out = search_store(store, query, scope=scope, limit=limit).to_dict()
    out["radius_km"] = radius_km
    for site in out["sites"]:
        site["label"] = f"[{site['kind_zh']}] {site['title']}（{site['township_name'] or '市外'}）"
        near = fetch_nearby(store, site["lon"], site["lat"], radius_km=radius_km, scope=scope)
        rows = near.rows
        site["nearby"] = {
            "summary": near.summary, "total": near.total,
            "items": rows[ITEM_COLUMNS].astype(object).where(rows[ITEM_COLUMNS].notna(), None).to_dict("records"),
        }
    return out
