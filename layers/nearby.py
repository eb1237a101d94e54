"""What is around a site: projects and employers within a radius, with their open cases, workers and amounts owed.

Pure: takes the frames already read for the caller's scope (or the candidates a PostGIS
radius query returned) and a WGS-84 point. Distances are computed in EPSG:4547 (CGCS2000
3-degree Gauss-Kruger CM 114E), metres, vectorised with pyproj after a bounding-box cut.
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
    radius_m = float(radius_km) * 1000.0
    parts = []
    p = within(projects, lon0, lat0, radius_m)
    if len(p):
        parts.append(_rows(p, "project", "project_code", case_totals(cases, "project_code")))
    e = within(enterprises, lon0, lat0, radius_m)
    if len(e):
        parts.append(_rows(e, "enterprise", "credit_code", case_totals(cases, "credit_code")))
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
    """SQLAlchemy SELECT of a spatial table's rows in the lon/lat box around the circle (bound parameters only).

    The box is compared on the plain lon/lat columns: float comparisons are leakproof, so
    PostgreSQL may use the btree of migration 0002 even under FORCE ROW LEVEL SECURITY (a GIST
    `&&` on geom is not leakproof and is not used as an index condition behind RLS policies).
    """
    import sqlalchemy as sa  # noqa: PLC0415

    key = _SITE_KEYS[table.name][1]
    return sa.select(table.c[key], *[table.c[c] for c in _READ_COLUMNS]).where(*_box(table, lon0, lat0, radius_m, scope))


def _box(table, lon0: float, lat0: float, radius_m: float, scope) -> list:
    x0, y0, x1, y1 = (float(v) for v in bbox(lon0, lat0, radius_m))
    scoped = [table.c.township_code.in_(list(scope))] if scope is not None else []
    return [table.c.lon.between(x0, x1), table.c.lat.between(y0, y1), *scoped]


def nearest_select(lon0: float, lat0: float, radius_m: float, limit: int = NEAREST, scope=None):
    """PostGIS SELECT of the `limit` sites nearest to the point within radius_m with each one's open-case
    totals, and on every row the totals over all sites within the radius; bound parameters only.

    Sites: the lon/lat box on the btree (see radius_select), then ST_Distance of both points transformed
    to EPSG:4547 (one transform per row in the box) at most radius_m. Per listed site its open cases by index (btrees of migration
    0004) in a LATERAL subquery; the radius totals as one aggregate per kind over the cases linked to
    any site within (a case has one project and one employer, so this equals summing the sites).
    """
    import sqlalchemy as sa  # noqa: PLC0415

    from geodata import schema  # noqa: PLC0415

    srid = int(PROJECTED_CRS.split(":")[1])
    here = sa.func.ST_Transform(sa.func.ST_SetSRID(sa.func.ST_MakePoint(float(lon0), float(lat0)), 4326), srid)
    c = schema.cases
    scoped_cases = [c.c.township_code.in_(list(scope))] if scope is not None else []
    is_open = sa.and_(c.c.closed_date.is_(None),
                      sa.func.coalesce(sa.func.btrim(c.c.status), "").not_in(sorted(CLOSED_STATUSES)), *scoped_cases)
    owed = c.c.amount - sa.func.coalesce(c.c.recovered, 0.0)
    near, totals, links = {}, {}, {}
    for name, (kind, key) in _SITE_KEYS.items():
        t = schema.DATA_TABLES[name]
        # one ST_Transform per row of the box (OFFSET 0 keeps PostgreSQL from inlining `d` twice)
        boxed = sa.select(sa.literal(kind).label("kind"), t.c[key].label("key"), *[t.c[x] for x in _READ_COLUMNS],
                          sa.func.ST_Distance(sa.func.ST_Transform(t.c.geom, srid), here).label("d")).where(
            *_box(t, lon0, lat0, radius_m, scope)).offset(0).subquery(f"box_{name}")
        near[kind] = sa.select(boxed).where(boxed.c.d <= float(radius_m)).cte(f"near_{name}")
        links[kind] = c.c.project_code if kind == "project" else c.c.credit_code
        totals[kind] = sa.select(
            sa.select(sa.func.count()).select_from(near[kind]).scalar_subquery().label("sites"),
            sa.func.count().label("n"), sa.func.coalesce(sa.func.sum(c.c.workers), 0).label("w"),
            sa.func.coalesce(sa.func.sum(owed), 0.0).label("a"),
        ).where(is_open, links[kind].in_(sa.select(near[kind].c.key))).cte(f"total_{name}")
    both = sa.union_all(*[sa.select(n) for n in near.values()]).subquery("both_kinds")
    nearest = sa.select(both).order_by(sa.func.round(sa.cast(both.c.d, sa.Numeric), 1), both.c.kind, both.c.d,
                                        both.c.key).limit(int(limit)).cte("nearest")
    per_site = {}
    for kind, link in links.items():  # one index probe per listed site
        per_site[kind] = sa.select(sa.func.count().label("n"), sa.func.sum(c.c.workers).label("w"),
                                   sa.func.sum(owed).label("a")).where(
            is_open, link == nearest.c.key, nearest.c.kind == kind).lateral(f"open_{kind}")
    p, e = per_site["project"], per_site["enterprise"]
    tp, te = totals["project"], totals["enterprise"]
    return sa.select(
        nearest.c.kind, nearest.c.key, nearest.c.name, nearest.c.address, nearest.c.township_code, nearest.c.lon,
        nearest.c.lat, sa.func.round(sa.cast(nearest.c.d, sa.Numeric), 1).label("distance_m"),
        (p.c.n + e.c.n).label("open_cases"),
        sa.func.coalesce(p.c.w, e.c.w, 0).label("workers"), sa.func.coalesce(p.c.a, e.c.a, 0.0).label("amount_owed"),
        (tp.c.sites + te.c.sites).label("total"), tp.c.sites.label("total_projects"),
        (tp.c.n + te.c.n).label("total_open_cases"), (tp.c.w + te.c.w).label("total_workers"),
        (tp.c.a + te.c.a).label("total_amount_owed"),
    ).select_from(nearest.join(p, sa.true()).join(e, sa.true()).join(tp, sa.true()).join(te, sa.true())).order_by(
        sa.func.round(sa.cast(nearest.c.d, sa.Numeric), 1), nearest.c.kind, nearest.c.d, nearest.c.key)


def fetch_nearby(store, lon0: float, lat0: float, radius_km: float = DEFAULT_RADIUS_KM, scope=None,
                 limit: int = NEAREST) -> Nearby:
    """The `limit` sites nearest to the WGS-84 point within radius_km, and totals over all of them, from the store.

    `store` is a geodata.store.Store; `scope` township codes or None (row-level security on
    PostGIS, the same filter in the query on both backends). PostGIS answers in one query
    (nearest_select): only the rows and columns the panel shows leave the database. GeoPackage
    (city scale) reads the lon/lat box, then `nearby()` measures with PROJ and sums in pandas.
    Both measure in EPSG:4547 and agree to millimetres.
    """
    import sqlalchemy as sa  # noqa: PLC0415

    from geodata import schema  # noqa: PLC0415

    radius_m = float(radius_km) * 1000.0
    if store.kind == "postgis":
        with store.begin(scope) as conn:
            _settings(conn)
            return _from_sql(pd.read_sql(nearest_select(lon0, lat0, radius_m, limit, scope), conn), radius_km)
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


def _settings(conn) -> None:
    """This transaction only: no JIT (ST_Transform's declared cost would trigger ~100 ms of compiling), and a
    plan for the actual point and radius: psycopg prepares a statement run 5 times, and PostgreSQL's generic
    plan for it (box and radius unknown) joins the sites and cases by nested loops, 1-70 s at province."""
    import sqlalchemy as sa  # noqa: PLC0415

    settings = (("jit", "off"), ("plan_cache_mode", "force_custom_plan"))
    conn.execute(sa.select(*[sa.func.set_config(name, value, True) for name, value in settings]))


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
        _settings(conn)
        c = nearest_select(lon0, lat0, float(radius_km) * 1000.0, NEAREST, scope).compile(
            conn, compile_kwargs={"render_postcompile": True})
        return [f"-- radius {radius_km:g} km at {lon0:.5f},{lat0:.5f}"] + [
            r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + str(c), c.params)]
