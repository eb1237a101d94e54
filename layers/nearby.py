"""What is around a site: projects and employers within a radius, with their open cases, workers and amounts owed.

Pure: takes the frames already read for the caller's scope (or the candidates a PostGIS
radius query returned) and a WGS-84 point. Distances are computed in EPSG:4547 (CGCS2000
3-degree Gauss-Kruger CM 114E), metres, vectorised with pyproj after a bounding-box cut.
"""

from __future__ import annotations

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
COLUMNS = [
    "kind", "kind_zh", "key", "name", "address", "township_code", "distance_m", "open_cases", "workers", "amount_owed",
    "status", "contractor", "contractor_phone", "labour_officer", "labour_officer_phone", "legal_rep", "phone",
    "lon", "lat",
]


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
        "distance_m": df["distance_m"].round(1), "status": get("status"),
        "contractor": get("contractor"), "contractor_phone": get("contractor_phone"),
        "labour_officer": get("labour_officer"), "labour_officer_phone": get("labour_officer_phone"),
        "legal_rep": get("legal_rep"), "phone": get("phone"),
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


# ---- the radius query in the store (bounding box by index, exact distance in EPSG:4547) ----------

_SITE_COLUMNS = {
    "projects": ["project_code", "name", "address", "township_code", "status", "contractor", "contractor_phone",
                 "labour_officer", "labour_officer_phone", "lon", "lat"],
    "enterprises": ["credit_code", "name", "address", "township_code", "legal_rep", "phone", "lon", "lat"],
}


def radius_select(table, lon0: float, lat0: float, radius_m: float, backend: str, scope=None):
    """SQLAlchemy SELECT of a spatial table's rows within radius_m (bound parameters only).

    Both backends cut first by a lon/lat box on the plain lon/lat columns: float comparisons are
    leakproof, so PostgreSQL may use a btree index on them even under FORCE ROW LEVEL SECURITY
    (a GIST `&&` on geom is not leakproof and is not used as an index condition behind RLS
    policies). PostGIS then keeps rows by ST_DWithin of both points transformed to EPSG:4547 and
    returns ST_Distance in metres; on GeoPackage `within()` makes the same cut with pyproj.
    """
    import sqlalchemy as sa  # noqa: PLC0415

    x0, y0, x1, y1 = (float(v) for v in bbox(lon0, lat0, radius_m))
    cols = [table.c[c] for c in _SITE_COLUMNS[table.name]]
    box = (table.c.lon.between(x0, x1), table.c.lat.between(y0, y1))
    if backend == "postgis":
        srid = int(PROJECTED_CRS.split(":")[1])
        here = sa.func.ST_Transform(sa.func.ST_SetSRID(sa.func.ST_MakePoint(float(lon0), float(lat0)), 4326), srid)
        there = sa.func.ST_Transform(table.c.geom, srid)
        q = sa.select(*cols, sa.func.ST_Distance(there, here).label("distance_m")).where(
            *box, sa.func.ST_DWithin(there, here, float(radius_m)))
    else:
        q = sa.select(*cols).where(*box)
    if scope is not None:
        q = q.where(table.c.township_code.in_(list(scope)))
    return q


def fetch_nearby(store, lon0: float, lat0: float, radius_km: float = DEFAULT_RADIUS_KM, scope=None) -> pd.DataFrame:
    """`nearby()` answered from the store in one transaction: the radius cut runs in the database,
    then the open cases of the sites found are read by project code or credit code.

    `store` is a geodata.store.Store; `scope` township codes or None. Same columns as `nearby()`.
    On PostGIS the database already cut at radius_m; `within` recomputes the same EPSG:4547
    distances with PROJ (agreeing to millimetres), so both backends answer through one code path.
    """
    import sqlalchemy as sa  # noqa: PLC0415

    from geodata import schema  # noqa: PLC0415

    radius_m = float(radius_km) * 1000.0
    frames, cases = {}, None
    with store.begin(scope) as conn:
        if store.kind == "postgis":  # ST_Transform's declared cost would trigger JIT compilation (~100 ms)
            conn.exec_driver_sql("SET LOCAL jit = off")
        for kind in ("projects", "enterprises"):
            q = radius_select(schema.DATA_TABLES[kind], lon0, lat0, radius_m, store.kind, scope)
            frames[kind] = pd.read_sql(q, conn).drop(columns=["distance_m"], errors="ignore")
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
    return nearby(lon0, lat0, projects=frames["projects"], enterprises=frames["enterprises"], cases=cases,
                  radius_km=radius_km)
