"""Emergency search answered from the store: on PostGIS the rows that may match are found in SQL (pg_trgm).

A query reads only its candidates: per searched table, the rows whose key equals it (unique
btrees) and the rows whose key, name or address share enough trigrams with it (one GIN index per
table, migration 0004), at most CAP rechecked and PER_TABLE kept, best word similarity first.
The four tables are read by one UNION ALL statement per threshold (`select_all`, the same SQL
text every time, prepared by psycopg) that returns each row in the layout of a search record
(kind, key, second key, title, subtitle parts, address, point, township); `index_of` flattens
those few rows exactly as `layers.search.build_index` flattens frames, and they are ranked by the
same `layers.search.search` as the in-memory index, so both paths give the same scores, order,
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
from functools import lru_cache

import numpy as np
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
        rows = candidates(conn, q, scope)
    return search(query, index_of(rows, base), limit=limit)


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


def candidates(conn: sa.Connection, q: str, scope=None) -> list[sa.Row]:
    """Rows (`select_all` layout, grouped by kind) that may match the normalised query `q` (the connection's
    scope applies): the strictest threshold first, a looser one only while fewer than ENOUGH rows were found.
    As per-kind frames concatenated pass after pass with repeated keys dropped (the first pass keeps a row
    found both by key and by trigrams twice, as the ranking always saw it)."""
    stmt, params = select_all(q, scope), _params(q, scope)
    rows = None
    for i, t in enumerate(thresholds(len(q))):
        settings = (_SETTINGS if i == 0 else ()) + (("pg_trgm.word_similarity_threshold", str(round(t, 3))),)
        conn.execute(sa.select(*[sa.func.set_config(name, value, True) for name, value in settings]))
        more = conn.execute(stmt, params).all()
        rows = more if rows is None else _merge(rows, more)
        if len(rows) >= ENOUGH or _has_key(rows, q):
            break
    return rows


# This transaction only: no JIT (short queries; compiling costs ~100 ms); no sequential scan where an index
# can serve (pg_trgm declares its similarity functions as cheap as `=`, so on a small table the planner would
# scan every row, 15-40 ms per 2,000 rows with CJK text, instead of reading the GIN index, < 1 ms); the generic
# plan of the prepared statement (psycopg prepares `select_all` from its 5th run on a connection): with
# sequential scans off its shape is the same for every query (the key btrees, the GIN bitmap scans; EXPLAIN in
# benchmarks/RESULTS.md), and re-planning the four-table union for each pass cost 6-9 ms of server CPU; and
# no parallel workers: which CAP rows a parallel scan hands over first would vary from run to run (and on two
# shared cores the workers only add start-up time).
_SETTINGS = (("jit", "off"), ("enable_seqscan", "off"), ("plan_cache_mode", "force_generic_plan"),
             ("max_parallel_workers_per_gather", "0"))


def _merge(rows: list, more: list) -> list:
    """`rows` then `more`, kind by kind, each key once (the first seen)."""
    out = []
    for k in range(len(KINDS)):
        seen = set()
        for r in (*rows, *more):
            if r.k == k and r.key not in seen:
                seen.add(r.key)
                out.append(r)
    return out


def _has_key(rows: list, q: str) -> bool:
    """Whether a row's key is the query (then the ranking answers with codes only; no typo pass needed)."""
    key = re.sub(r"\s+", "", q).upper()
    return any(normalise(str(r.key)).upper() == key for r in rows)


def _variants(q: str) -> list[str]:
    key = re.sub(r"\s+", "", q)
    return sorted({key, key.upper(), key.lower()})


# kind, table, key, second key, title column, subtitle parts (text, text, time, date) — layers.search.build_index
KINDS = (
    ("incident", "incidents", "incident_no", None, "address", ("grade", "status", "occurred_at", None)),
    ("case", "cases", "case_no", None, "employer_name", ("status", None, None, "received_date")),
    ("project", "projects", "project_code", "contractor_credit_code", "name", ("contractor", "status", None, None)),
    ("enterprise", "enterprises", "credit_code", None, "name", ("industry", None, None, None)),
)
_NULL_TYPES = (sa.String, sa.String, sa.DateTime, sa.Date)


def _shape(q: str) -> str:
    return "short" if len(q) < 3 else "long" if len(q) > LONG_QUERY else "fragment"


def _params(q: str, scope) -> dict:
    """Values for `select_all` / `select_candidates`: the query, its key spellings, a LIKE pattern, the scope."""
    escaped = q.replace("/", "//").replace("%", "/%").replace("_", "/_")  # as SQLAlchemy's contains(autoescape=True)
    out = {"q": q, "variants": _variants(q), "pattern": f"%{escaped}%"}
    if scope is not None:
        out["scope"] = [str(c) for c in scope]
    return out


def _kind_select(i: int, shape: str, scoped: bool, values: dict | None = None) -> sa.CompoundSelect:
    """One kind's candidates in the record layout; bind parameters with `values` (`_params`), else none yet."""
    kind, table, key, alt, title, parts = KINDS[i]

    def bp(name: str, **kw) -> sa.BindParameter:
        return sa.bindparam(name, values[name], **kw) if values else sa.bindparam(name, **kw)

    t = schema.DATA_TABLES[table]
    null = lambda n: sa.cast(sa.null(), _NULL_TYPES[n]())  # noqa: E731
    cols = [sa.literal_column(str(i), sa.Integer).label("k"), t.c[key].label("key"),
            (t.c[alt] if alt else null(0)).label("alt"), t.c[title].label("title"),
            *[(t.c[c] if c else null(n)).label(f"s{n}") for n, c in enumerate(parts)],
            t.c.address, t.c.lon, t.c.lat, t.c.township_code]
    qp = bp("q", type_=sa.Text)
    exact = t.c[key].in_(bp("variants", expanding=True))
    if alt:
        exact = sa.or_(exact, t.c[alt].in_(bp("variants", expanding=True)))
    text = [t.c[c] for c in TEXT_COLUMNS[table]]
    if shape == "short":  # no trigram to look up: LIKE on the name and address
        match = sa.or_(*[c.like(bp("pattern", type_=sa.Text), escape="/") for c in text if c.name != key])
    else:
        match = sa.or_(*[qp.op("<%")(c) for c in text])
    sim = sa.func.similarity if shape == "long" else sa.func.word_similarity
    rank = sa.func.greatest(*[sim(qp, c) for c in text])
    scope = [t.c.township_code.in_(bp("scope", expanding=True))] if scoped else []
    fuzzy = sa.select(*cols, rank.label("rank")).where(match, *scope).limit(CAP).subquery(f"fuzzy_{table}")
    best = sa.select(*[fuzzy.c[c.name] for c in cols]).order_by(fuzzy.c.rank.desc()).limit(PER_TABLE)
    return sa.union_all(sa.select(*cols).where(exact, *scope), best.subquery(f"best_{table}").select())


def _union(shape: str, scoped: bool, values: dict | None = None) -> sa.CompoundSelect:
    return sa.union_all(*[_kind_select(i, shape, scoped, values).subquery(f"kind_{i}").select() for i in range(len(KINDS))])


@lru_cache(maxsize=8)
def _select_all(shape: str, scoped: bool) -> sa.CompoundSelect:
    return _union(shape, scoped)


def select_all(q: str, scope=None) -> sa.CompoundSelect:
    """SELECT of the candidate rows of every searched kind for the normalised query `q`, kind after kind, in
    one statement: its text depends only on the query's length class and on whether a scope is given, so
    the same few statements are compiled once and prepared by psycopg; values go in as parameters (`_params`).

    Per kind (`select_candidates`): exact keys (and a project's contractor credit code) by btree; then
    trigram matches on key, name and address by the GIN index (`q <% column`: word similarity at least the
    transaction's pg_trgm.word_similarity_threshold), at most CAP rows rechecked, PER_TABLE kept by
    similarity (word similarity for a fragment, whole-string similarity past LONG_QUERY characters, as the
    ranking's partial and plain ratios). A query under 3 characters has no trigram to look up: LIKE on name
    and address instead.
    """
    return _select_all(_shape(q), scope is not None)


def select_candidates(kind: str, q: str, scope=None) -> sa.CompoundSelect:
    """One kind's part of `select_all` (`kind`: a table name) with the query's values bound (tests, EXPLAIN)."""
    i = [k[1] for k in KINDS].index(kind)
    return _kind_select(i, _shape(q), scope is not None, _params(q, scope))


def index_of(rows: list, base: SearchIndex) -> SearchIndex:
    """The search index of candidate rows (`select_all` layout, grouped by kind) on the base's townships and
    places: the records `layers.search.build_index` makes of the same rows read into one frame per kind
    (strings with '' for missing, subtitle parts joined by ' · ', numbers and codes titled by their key,
    times formatted by pandas over the kind's rows as a column is), without a frame per kind."""
    cols = {c: [] for c in ("kind", "key", "alt", "title", "subtitle", "address", "lon", "lat", "township_code")}
    text = lambda v: "" if v is None else str(v)  # noqa: E731  (Series.astype("string").fillna(""))
    for i, (kind, _table, _key, alt, _title, parts) in enumerate(KINDS):
        rs = [r for r in rows if r.k == i]
        if not rs:
            continue
        keys = [text(r.key) for r in rs]
        subs = [[text(getattr(r, f"s{n}")) for r in rs] if c else None for n, c in enumerate(parts)]
        if parts[2]:  # a time column: pandas formats it as a whole (dates only when every time is midnight)
            subs[2] = pd.Series([r.s2 for r in rs]).astype("string").fillna("").tolist()
        subs = [s for s in subs if s is not None]
        for j, r in enumerate(rs):
            sub = subs[0][j]
            for more in subs[1:]:
                sub = f"{sub} · {more[j]}".strip(" ·")
            title = text(r.title)
            cols["kind"].append(kind)
            cols["key"].append(keys[j])
            cols["alt"].append(text(r.alt) if alt else "")
            cols["title"].append(f"{keys[j]} {title}".strip() if kind in ("incident", "case") else title)
            cols["subtitle"].append(sub)
            cols["address"].append(text(r.address))
            cols["lon"].append(np.nan if r.lon is None else float(r.lon))
            cols["lat"].append(np.nan if r.lat is None else float(r.lat))
            cols["township_code"].append(text(r.township_code))
    rec = pd.DataFrame({c: (np.asarray(v, float) if c in ("lon", "lat") else pd.Series(v, dtype=object))
                        for c, v in cols.items()})
    ids = np.asarray([normalise(k).upper() for k in cols["key"]], dtype=object)
    alt_ids = np.asarray([normalise(a).upper() for a in cols["alt"]], dtype=object)
    return SearchIndex(rec, ids, alt_ids, cols["title"], cols["address"], base.places, base.townships)


def explain(store, query: str, scope=None) -> list[str]:
    """EXPLAIN ANALYZE of the strict pass of `select_all` for one query (for benchmarks/RESULTS.md)."""
    q = normalise(query)
    with store.begin(scope) as conn:
        settings = (*_SETTINGS, ("pg_trgm.word_similarity_threshold", str(thresholds(len(q))[0])))
        conn.execute(sa.select(*[sa.func.set_config(name, value, True) for name, value in settings]))
        c = _union(_shape(q), scope is not None, _params(q, scope)).compile(
            conn, compile_kwargs={"render_postcompile": True})
        return [f"-- search, strict pass: {query!r}"] + [
            r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + str(c), c.params)]


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
