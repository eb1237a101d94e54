"""What is around a site: projects and employers within a radius, with their open cases, workers and amounts owed.

Pure: takes the frames already read for the caller's scope (or the candidates a PostGIS
radius query returned) and a WGS-84 point. Distances are computed in EPSG:4547 (CGCS2000
3-degree Gauss-Kruger CM 114E), metres, vectorised with pyproj after a bounding-box cut.
On PostGIS `fetch_nearby` answers in one query (`nearest_select`) on the projected x/y columns
of migration 0006 (the same EPSG:4547 metres, computed by PostGIS at load).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geodata.boundaries import PROJECTED_CRS

DEFAULT_RADIUS_KM = 1.0
RADIUS_CHOICES_KM = (0.5, 1.0, 2.0, 5.0)
CLOSED_STATUSES = frozenset({"结案", "已结案", "办结", "已办结", "closed"})
KIND_ZH = {"project": "工程项目", "enterprise": "用人单位"}
NEAREST = 60  # rows the radius panel lists and draws; its heading counts every site within the radius
COLUMNS = [  # what the panel shows of a site (contacts come from emergency_service.site_context, masked there)
    "kind", "kind_zh", "key", "name", "address", "township_code", "distance_m", "open_cases", "workers", "amount_owed",
    "lon", "lat",
]
ITEM_COLUMNS = ["kind", "key", "name", "address", "township_code", "distance_m", "open_cases", "workers", "amount_owed"]


@lru_cache(maxsize=1)
def _to_projected() -> Transformer:
    return Transformer.from_crs("EPSG:4326", PROJECTED_CRS, always_xy=True)


def distances_m(lon0: float, lat0: float, lon, lat) -> np.ndarray:
    """Distance in metres from (lon0, lat0) to each WGS-84 point, computed in EPSG:4547."""
    t = _to_projected()
    x0, y0 = t.transform(lon0, lat0)
    x, y = t.transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.hypot(np.asarray(x) - x0, np.asarray(y) - y0)


def bbox(lon0: float, lat0: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box that surely holds the circle (10% margin): (min_lon, min_lat, max_lon, max_lat)."""
    dlat = radius_m * 1.1 / 110_574.0
    dlon = radius_m * 1.1 / (111_320.0 * max(np.cos(np.radians(lat0 + np.sign(lat0) * dlat)), 1e-6))
    return lon0 - dlon, lat0 - dlat, lon0 + dlon, lat0 + dlat


def township_of(lon, lat, townships) -> np.ndarray:
    """12-digit township code containing each WGS-84 point ("" outside every unit); townships: a GeoDataFrame."""
    lon, lat = np.atleast_1d(np.asarray(lon, float)), np.atleast_1d(np.asarray(lat, float))
    out = np.full(len(lon), "", dtype=object)
    if townships is None or len(townships) == 0 or "geometry" not in townships:
        return out
    for code, geom in zip(townships["code"], townships.geometry, strict=True):  # 19 polygons, vectorised over points
        if geom is not None:
            out[(out == "") & shapely.contains_xy(geom, lon, lat)] = code
    return out


def within(df: pd.DataFrame, lon0: float, lat0: float, radius_m: float) -> pd.DataFrame:
    """Rows of `df` (with lon/lat) within radius_m of the point, with `distance_m`, nearest first."""
    if df is None or len(df) == 0 or "lon" not in df:
        return pd.DataFrame(columns=[*(df.columns if df is not None else []), "distance_m"])
    lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(float)
    x0, y0, x1, y1 = bbox(lon0, lat0, radius_m)
    box = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    cand = df.loc[box].copy()
    cand["distance_m"] = distances_m(lon0, lat0, lon[box], lat[box])
    return cand[cand["distance_m"] <= radius_m].sort_values("distance_m", kind="stable")


def open_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """Cases not yet closed (status not 结案 and no closed date)."""
    if cases is None or len(cases) == 0:
        return pd.DataFrame(columns=["case_no", "project_code", "credit_code", "workers", "amount"])
    status = cases["status"].astype("string").fillna("").str.strip() if "status" in cases else ""
    closed = pd.Series(False, index=cases.index)
    if "status" in cases:
        closed |= status.isin(CLOSED_STATUSES)
    if "closed_date" in cases:
        closed |= cases["closed_date"].notna()
    return cases.loc[~closed]


def case_totals(cases: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per value of `key` (project_code or credit_code): open_cases, workers, amount_owed (万元)."""
    oc = open_cases(cases)
    if key not in oc or oc.empty:
        return pd.DataFrame(columns=["open_cases", "workers", "amount_owed"])
    g = oc.assign(
        workers=pd.to_numeric(oc.get("workers"), errors="coerce"),
        amount=pd.to_numeric(oc.get("amount"), errors="coerce") - pd.to_numeric(oc.get("recovered"), errors="coerce").fillna(0)
        if "recovered" in oc else pd.to_numeric(oc.get("amount"), errors="coerce"),
    ).dropna(subset=[key]).groupby(key)
    return pd.DataFrame({"open_cases": g.size(), "workers": g["workers"].sum(min_count=1),
                         "amount_owed": g["amount"].sum(min_count=1)})


def nearby(lon0: float, lat0: float, *, projects: pd.DataFrame | None, enterprises: pd.DataFrame | None,
           cases: pd.DataFrame | None, radius_km: float = DEFAULT_RADIUS_KM) -> pd.DataFrame:
    """Projects and employers within radius_km of the WGS-84 point, nearest first, with case totals.

    Columns: COLUMNS. open_cases counts cases not closed; workers and amount_owed (万元, net of
    amounts recovered) sum over those cases; 0 where a site has none.
    """
    return _nearby(lon0, lat0, projects, enterprises, lambda key: case_totals(cases, key), radius_km)


def _nearby(lon0: float, lat0: float, projects: pd.DataFrame | None, enterprises: pd.DataFrame | None, totals,
            radius_km: float) -> pd.DataFrame:
    """`nearby` with the case totals by key given: totals("project_code" | "credit_code") -> case_totals frame."""
    radius_m = float(radius_km) * 1000.0
    parts = []
    p = within(projects, lon0, lat0, radius_m)
    if len(p):
        parts.append(_rows(p, "project", "project_code", totals("project_code")))
    e = within(enterprises, lon0, lat0, radius_m)
    if len(e):
        parts.append(_rows(e, "enterprise", "credit_code", totals("credit_code")))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(parts, ignore_index=True).sort_values(["distance_m", "kind"], kind="stable")
    return out.reset_index(drop=True)


def _rows(df: pd.DataFrame, kind: str, key: str, totals: pd.DataFrame) -> pd.DataFrame:
    get = lambda c: df[c] if c in df else pd.Series(pd.NA, index=df.index, dtype="object")  # noqa: E731
    out = pd.DataFrame({
        "kind": kind, "kind_zh": KIND_ZH[kind], "key": get(key).astype(str), "name": get("name"),
        "address": get("address"), "township_code": get("township_code"),
        "distance_m": df["distance_m"].round(1),
        "lon": pd.to_numeric(get("lon"), errors="coerce"), "lat": pd.to_numeric(get("lat"), errors="coerce"),
    })
    t = totals.reindex(out["key"].to_numpy())
    out["open_cases"] = t["open_cases"].fillna(0).astype(int).to_numpy()
    out["workers"] = t["workers"].fillna(0).astype(int).to_numpy()
    out["amount_owed"] = t["amount_owed"].fillna(0.0).round(2).to_numpy()
    return out[COLUMNS]


def summary(rows: pd.DataFrame) -> dict:
    """Counts for a heading: projects, employers, open cases, workers, amount owed (万元)."""
    return {
        "projects": int((rows["kind"] == "project").sum()) if len(rows) else 0,
        "enterprises": int((rows["kind"] == "enterprise").sum()) if len(rows) else 0,
        "open_cases": int(rows["open_cases"].sum()) if len(rows) else 0,
        "workers": int(rows["workers"].sum()) if len(rows) else 0,
        "amount_owed": round(float(rows["amount_owed"].sum()), 2) if len(rows) else 0.0,
    }


# ---- the radius query in the store -----------------------------------------------------------------

@dataclass
class Nearby:
    """What the radius panel gets: the nearest `limit` sites, and totals over every site within the radius."""

    rows: pd.DataFrame  # COLUMNS, nearest first, at most `limit` rows
    summary: dict  # summary() of every site within the radius (not only the rows sent)
    total: int  # sites within the radius
    radius_km: float


_SITE_KEYS = {"projects": ("project", "project_code"), "enterprises": ("enterprise", "credit_code")}
_READ_COLUMNS = ["name", "address", "township_code", "lon", "lat"]


def radius_select(table, lon0: float, lat0: float, radius_m: float, scope=None):
    """SQLAlchemy SELECT of a spatial table's rows in the lon/lat box around the circle (bound parameters only):
    what the GeoPackage path reads before measuring with PROJ (PostGIS uses `nearest_select`)."""
    import sqlalchemy as sa  # noqa: PLC0415

    key = _SITE_KEYS[table.name][1]
    return sa.select(table.c[key], *[table.c[c] for c in _READ_COLUMNS]).where(*_box(table, lon0, lat0, radius_m, scope))


def _box(table, lon0: float, lat0: float, radius_m: float, scope) -> list:
    x0, y0, x1, y1 = (float(v) for v in bbox(lon0, lat0, radius_m))
    scoped = [table.c.township_code.in_(list(scope))] if scope is not None else []
    return [table.c.lon.between(x0, x1), table.c.lat.between(y0, y1), *scoped]


def nearest_select(x0: float, y0: float, radius_m: float, limit: int = NEAREST, scope=None):
    """PostGIS SELECT of the `limit` sites nearest to the point (x0, y0) (EPSG:4547, as `centre` gives it) within
    radius_m, with each one's open-case totals, and on every row the totals over all sites within the radius.

    Bound parameters only (the SQL text is fixed; scope and statuses are expanding parameters).

    - Sites within (`near_*`): the box x0 ± r, y0 ± r (1 m margin) on the covering btrees of migration 0006,
      read from the index alone, kept where sqrt(dx*dx + dy*dy) <= r: the same double PostGIS's ST_Distance
      of the two transformed points gives (equal on all 199,160 province projects), with no transform per row.
    - Totals: one pass over the open cases (partial index `ix_cases_open`, index only), each matched against
      the sites within by hashed subplans: a case counts once per listed kind it links to, as summing the
      sites' own totals does (a case has one project and one employer).
    - The `limit` nearest, in the order round(d, 1), kind, d, key: taken from the rows with d <= the
      limit-th smallest d + 0.11 (a row further out rounds to a larger 0.1 m and cannot be among them), so
      the numeric rounding runs on a few rows, not on every site within; then per listed site its name and
      place by key and its open cases by index (LATERAL).
    """
    import sqlalchemy as sa  # noqa: PLC0415

    scoped = {a: (f" AND {a}.township_code IN :scope" if scope is not None else "") for a in ("t", "c")}
    is_open = f"c.closed_date IS NULL AND coalesce(btrim(c.status), '') NOT IN :closed{scoped['c']}"
    near = {
        kind: f"""SELECT '{kind}'::text AS kind, key, township_code, d FROM (
            SELECT t.{key} AS key, t.township_code, sqrt((t.x - :x0) * (t.x - :x0) + (t.y - :y0) * (t.y - :y0)) AS d
            FROM {table} t
            WHERE t.x BETWEEN :x_lo AND :x_hi AND t.y BETWEEN :y_lo AND :y_hi{scoped['t']} OFFSET 0) b
          WHERE d <= :r"""  # noqa: S608
        for table, (kind, key) in _SITE_KEYS.items()}  # identifiers from this module, never from input
    open_of = {kind: f"""SELECT count(*) AS n, sum(c.workers) AS w, sum(c.amount - coalesce(c.recovered, 0)) AS a
            FROM cases c WHERE n.kind = '{kind}' AND c.{link} = n.key AND {is_open}"""  # noqa: S608
               for kind, link in (("project", "project_code"), ("enterprise", "credit_code"))}
    sql = f"""
        WITH near_p AS MATERIALIZED ({near["project"]}),
        near_e AS MATERIALIZED ({near["enterprise"]}),
        totals AS (
          SELECT count(*) FILTER (WHERE in_p) AS n_p, coalesce(sum(workers) FILTER (WHERE in_p), 0) AS w_p,
                 coalesce(sum(owed) FILTER (WHERE in_p), 0.0) AS a_p,
                 count(*) FILTER (WHERE in_e) AS n_e, coalesce(sum(workers) FILTER (WHERE in_e), 0) AS w_e,
                 coalesce(sum(owed) FILTER (WHERE in_e), 0.0) AS a_e
          FROM (SELECT c.workers, c.amount - coalesce(c.recovered, 0) AS owed,
                       c.project_code IN (SELECT key FROM near_p) AS in_p, c.credit_code IN (SELECT key FROM near_e) AS in_e
                FROM cases c WHERE {is_open} OFFSET 0) o),
        cut AS (
          SELECT d + 0.11 AS d
          FROM ((SELECT d FROM near_p ORDER BY d LIMIT :limit) UNION ALL (SELECT d FROM near_e ORDER BY d LIMIT :limit)) s
          ORDER BY d LIMIT 1 OFFSET :last),
        nearest AS (
          SELECT * FROM (SELECT * FROM near_p UNION ALL SELECT * FROM near_e) b
          WHERE d <= coalesce((SELECT d FROM cut), 'Infinity'::float8)
          ORDER BY round(d::numeric, 1), kind, d, key LIMIT :limit)
        SELECT n.kind, n.key, s.name, s.address, n.township_code, s.lon, s.lat,
               round(n.d::numeric, 1) AS distance_m, p.n + e.n AS open_cases,
               coalesce(p.w, e.w, 0) AS workers, coalesce(p.a, e.a, 0.0) AS amount_owed,
               (SELECT count(*) FROM near_p) + (SELECT count(*) FROM near_e) AS total,
               (SELECT count(*) FROM near_p) AS total_projects, t.n_p + t.n_e AS total_open_cases,
               t.w_p + t.w_e AS total_workers, t.a_p + t.a_e AS total_amount_owed
        FROM nearest n
        CROSS JOIN LATERAL (
          SELECT name, address, lon, lat FROM projects WHERE n.kind = 'project' AND project_code = n.key
          UNION ALL
          SELECT name, address, lon, lat FROM enterprises WHERE n.kind = 'enterprise' AND credit_code = n.key) s
        CROSS JOIN LATERAL ({open_of["project"]}) p
        CROSS JOIN LATERAL ({open_of["enterprise"]}) e
        CROSS JOIN totals t
        ORDER BY round(n.d::numeric, 1), n.kind, n.d, n.key"""  # noqa: S608
    r = float(radius_m)
    params = [
        sa.bindparam("x0", float(x0)), sa.bindparam("y0", float(y0)), sa.bindparam("r", r),
        sa.bindparam("x_lo", float(x0) - r - 1.0), sa.bindparam("x_hi", float(x0) + r + 1.0),
        sa.bindparam("y_lo", float(y0) - r - 1.0), sa.bindparam("y_hi", float(y0) + r + 1.0),
        sa.bindparam("limit", int(limit)), sa.bindparam("last", max(int(limit) - 1, 0)),
        sa.bindparam("closed", sorted(CLOSED_STATUSES), expanding=True),
    ]
    if scope is not None:
        params.append(sa.bindparam("scope", [str(c) for c in scope], expanding=True))
    return sa.text(sql).bindparams(*params)


def centre(conn, lon0: float, lat0: float) -> tuple[float, float]:
    """The WGS-84 point in EPSG:4547 as PostGIS transforms it (the x/y columns of migration 0006 are its
    ST_Transform too), with this transaction's settings (`_SETTINGS`) in the same round trip."""
    import sqlalchemy as sa  # noqa: PLC0415

    srid = int(PROJECTED_CRS.split(":")[1])
    here = sa.func.ST_Transform(sa.func.ST_SetSRID(sa.func.ST_MakePoint(float(lon0), float(lat0)), 4326), srid)
    row = conn.execute(sa.select(*[sa.func.set_config(name, value, True) for name, value in _SETTINGS],
                                 sa.func.ST_X(here), sa.func.ST_Y(here))).one()
    return float(row[-2]), float(row[-1])


@dataclass
class Sites:
    """What the GeoPackage radius panel measures against, read once per data version and scope (`load_sites`):
    every located project and employer (key, name, address, township, lon/lat) and the open-case totals of
    each key. At city scale (17,000 sites) a radius is then a box cut and a PROJ transform of the rows in it."""

    projects: pd.DataFrame
    enterprises: pd.DataFrame
    by_key: dict  # "project_code" | "credit_code" -> case_totals frame


def load_sites(store, scope=None) -> Sites:
    """The `Sites` of `scope` from `store` (rows of the scope only, as the per-call reads)."""
    import sqlalchemy as sa  # noqa: PLC0415

    from geodata import schema  # noqa: PLC0415

    frames = {}
    with store.begin(scope) as conn:
        for name, (_kind, key) in _SITE_KEYS.items():
            t = schema.DATA_TABLES[name]
            q = sa.select(t.c[key], *[t.c[c] for c in _READ_COLUMNS]).where(t.c.lon.isnot(None), t.c.lat.isnot(None))
            if scope is not None:
                q = q.where(t.c.township_code.in_(list(scope)))
            frames[name] = pd.read_sql(q, conn)
        t = schema.cases
        cols = ["case_no", "project_code", "credit_code", "workers", "amount", "recovered", "status", "closed_date"]
        q = sa.select(*[t.c[c] for c in cols])
        if scope is not None:
            q = q.where(t.c.township_code.in_(list(scope)))
        cases = pd.read_sql(q, conn)
    return Sites(frames["projects"], frames["enterprises"],
                 {key: case_totals(cases, key) for key in ("project_code", "credit_code")})


def fetch_nearby(store, lon0: float, lat0: float, radius_km: float = DEFAULT_RADIUS_KM, scope=None,
                 limit: int = NEAREST, sites: Sites | None = None) -> Nearby:
    """The `limit` sites nearest to the WGS-84 point within radius_km, and totals over all of them, from the store.

    `store` is a geodata.store.Store; `scope` township codes or None (row-level security on
    PostGIS, the same filter in the query on both backends). PostGIS answers in one query
    (`centre`, then `nearest_select`): only the rows and columns the panel shows leave the database.
    GeoPackage (city scale): `nearby()` measures with PROJ and sums in pandas, over `sites` (`load_sites`,
    cached by the caller per data version and scope) when given, else over the lon/lat box and the cases
    of its sites read now. Both backends measure in EPSG:4547 and agree to millimetres.
    """
    import sqlalchemy as sa  # noqa: PLC0415

    from geodata import schema  # noqa: PLC0415

    radius_m = float(radius_km) * 1000.0
    if store.kind == "postgis":
        with store.begin(scope) as conn:
            x0, y0 = centre(conn, lon0, lat0)
            res = conn.execute(nearest_select(x0, y0, radius_m, limit, scope))
            return _from_sql(pd.DataFrame(res.all(), columns=list(res.keys())), radius_km)
    if sites is not None:
        rows = _nearby(lon0, lat0, sites.projects, sites.enterprises, sites.by_key.get, radius_km)
        return Nearby(rows.head(limit).reset_index(drop=True), summary(rows), len(rows), float(radius_km))
    frames, cases = {}, None
    with store.begin(scope) as conn:
        for name in _SITE_KEYS:
            frames[name] = pd.read_sql(radius_select(schema.DATA_TABLES[name], lon0, lat0, radius_m, scope), conn)
        t = schema.cases
        codes = frames["projects"]["project_code"].dropna().astype(str).tolist()
        credits = frames["enterprises"]["credit_code"].dropna().astype(str).tolist()
        links = ([t.c.project_code.in_(codes)] if codes else []) + ([t.c.credit_code.in_(credits)] if credits else [])
        if links:
            cols = ["case_no", "project_code", "credit_code", "workers", "amount", "recovered", "status", "closed_date"]
            q = sa.select(*[t.c[c] for c in cols]).where(sa.or_(*links))
            if scope is not None:
                q = q.where(t.c.township_code.in_(list(scope)))
            cases = pd.read_sql(q, conn)
    rows = nearby(lon0, lat0, projects=frames["projects"], enterprises=frames["enterprises"], cases=cases,
                  radius_km=radius_km)
    return Nearby(rows.head(limit).reset_index(drop=True), summary(rows), len(rows), float(radius_km))


# This transaction only: no JIT (compiling costs ~100 ms); a plan for the actual point and radius (psycopg
# prepares a statement run 5 times, and a generic plan cannot see the box); room to hash the sites within 5 km
# (~100,000 keys at province) without spilling to disk.
_SETTINGS = (("jit", "off"), ("plan_cache_mode", "force_custom_plan"), ("work_mem", "16MB"))


def _from_sql(df: pd.DataFrame, radius_km: float) -> Nearby:
    if df.empty:
        return Nearby(pd.DataFrame(columns=COLUMNS), summary(df), 0, float(radius_km))
    top = df.iloc[0]
    totals = {"projects": int(top["total_projects"]), "enterprises": int(top["total"] - top["total_projects"]),
              "open_cases": int(top["total_open_cases"]), "workers": int(top["total_workers"]),
              "amount_owed": round(float(top["total_amount_owed"]), 2)}
    rows = df.assign(kind_zh=df["kind"].map(KIND_ZH), key=df["key"].astype(str),
                     distance_m=df["distance_m"].astype(float), open_cases=df["open_cases"].astype(int),
                     workers=df["workers"].astype(int), amount_owed=df["amount_owed"].astype(float).round(2))
    return Nearby(rows[COLUMNS].reset_index(drop=True), totals, int(top["total"]), float(radius_km))


def explain(store, lon0: float, lat0: float, radius_km: float, scope=None) -> list[str]:
    """EXPLAIN ANALYZE of the PostGIS radius query (for benchmarks/RESULTS.md)."""

    with store.begin(scope) as conn:
        x0, y0 = centre(conn, lon0, lat0)
        c = nearest_select(x0, y0, float(radius_km) * 1000.0, NEAREST, scope).compile(
            conn, compile_kwargs={"render_postcompile": True})
        return [f"-- radius {radius_km:g} km at {lon0:.5f},{lat0:.5f}"] + [
            r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + str(c), c.params)]
