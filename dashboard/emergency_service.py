"""Data for the emergency page: search, nearby sites, contacts, fund balance, incidents and their response.

Every function takes the caller's scope (township codes or None, from dashboard.access) and
reads through the store; on GeoPackage the search index is cached per (store, data version,
scope), on PostGIS each search runs in SQL (layers/search_sql.py). Writes
(incidents, response steps) are one transaction each and audit-logged.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote

import pandas as pd

from geodata import schema
from geodata.settings import get_settings
from geodata.store import Store, StoreError
from geodata.townships import BY_CODE
from layers import incidents as inc
from layers import nearby as nb
from layers import response as resp
from layers import search as srch
from layers import search_sql as sq

_CACHE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()
_CACHE_SIZE = 16
AMAP_MARKER = "https://uri.amap.com/marker"
SOURCE_PAGE = "应急页面录入"


class EmergencyError(StoreError):
    """Something the emergency page cannot do; user_msg is Chinese."""


def store() -> Store:
    """The app's store (dashboard.services), else the settings' default."""
    from dashboard import services  # noqa: PLC0415

    return services.store()


def _key(scope) -> tuple | None:
    return None if scope is None else tuple(sorted(scope))


def _cached(name: str, s: Store, scope, build):
    k = (name, s.url, s.data_version(), _key(scope))
    with _LOCK:
        if k in _CACHE:
            _CACHE.move_to_end(k)
            return _CACHE[k]
    value = build()
    with _LOCK:
        _CACHE[k] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def map_base(s: Store | None = None):
    """(townships GeoDataFrame, simplified GeoJSON) for the page map, cached by data version."""
    from layers.mapfig import township_geojson  # noqa: PLC0415

    s = s or store()

    def build():
        tw = s.townships()
        return tw, township_geojson(tw, get_settings().basemap)

    return _cached("map", s, None, build)


# ---- search and what is around ------------------------------------------------------------------

def search(query: str, scope=None, s: Store | None = None, limit: int = 10) -> srch.SearchResult:
    """Ranked sites for one query in the caller's scope.

    PostGIS: the candidate rows are found in SQL per query (pg_trgm, layers/search_sql.py); only
    townships and gazetteer places are cached. GeoPackage: the in-memory index of the scope, cached.
    """
    s = s or store()
    if sq.uses_sql(s):
        base = _cached("search_base", s, scope, lambda: sq.load_base(s, scope))
        return sq.search_sql(s, query, base, scope=scope, limit=limit)
    index = _cached("index", s, scope, lambda: sq.load_index(s, scope))
    return srch.search(query, index, limit=limit)


def nearby(lon: float, lat: float, radius_km: float = nb.DEFAULT_RADIUS_KM, scope=None, s: Store | None = None,
           personal: bool = True) -> nb.Nearby:
    """The nearest projects and employers within radius_km and totals over all of them (computed in the
    database on PostGIS; on GeoPackage from the scope's sites and case totals, read once per data version);
    phones masked unless `personal` (the panel's rows carry none today)."""
    s = s or store()
    radius_km = float(radius_km) if float(radius_km) in nb.RADIUS_CHOICES_KM else nb.DEFAULT_RADIUS_KM
    sites = None if sq.uses_sql(s) else _cached("sites", s, scope, lambda: nb.load_sites(s, scope))
    near = nb.fetch_nearby(s, float(lon), float(lat), radius_km=radius_km, scope=scope, sites=sites)
    return near if personal else replace(near, rows=_mask(near.rows))


def amap_link(gcj_lon: float, gcj_lat: float, name: str) -> str:
    """AMap marker link (GCJ-02) that a phone opens in the AMap app or site to route there."""
    return (f"{AMAP_MARKER}?position={gcj_lon:.6f},{gcj_lat:.6f}&name={quote(str(name)[:60])}"
            "&src=wagemap&coordinate=gaode&callnative=1")


def site_context(site: dict, scope=None, s: Store | None = None, personal: bool = True,
                 nearest_project: str | None = None) -> dict:
    """For a chosen site: township, contacts (contractor, 劳资专管员, the site's own), the township's fund.

    A site with no project of its own (a place, a typed coordinate) takes the contacts of
    `nearest_project` (the page passes the nearest project within the radius).
    """
    s = s or store()
    code = site.get("township_code") or ""
    project_code = _project_of(site, scope, s) or nearest_project
    contacts = []
    if project_code:
        p = pd.DataFrame(s.read("projects", scope=scope, where={"project_code": project_code},
                                columns=["project_code", "name", "contractor", "contractor_phone", "labour_officer",
                                         "labour_officer_phone", "builder"]))
        if len(p):
            r = p.iloc[0]
            contacts += [
                {"role": "施工总承包单位", "name": r.get("contractor"), "phone": r.get("contractor_phone"), "of": r.get("name")},
                {"role": "劳资专管员", "name": r.get("labour_officer"), "phone": r.get("labour_officer_phone"),
                 "of": r.get("name")},
                {"role": "建设单位", "name": r.get("builder"), "phone": None, "of": r.get("name")},
            ]
    if site.get("kind") == "enterprise":
        e = pd.DataFrame(s.read("enterprises", scope=scope, where={"credit_code": site["key"]},
                                columns=["credit_code", "name", "legal_rep", "phone"]))
        if len(e):
            contacts.append({"role": "用人单位法定代表人", "name": e["legal_rep"].iloc[0], "phone": e["phone"].iloc[0],
                             "of": e["name"].iloc[0]})
    t = BY_CODE.get(code)
    if t:
        contacts.append({"role": "属地政府", "name": f"{t.name}（{'管委会' if t.kind == '管委会' else '政府/办事处'}）",
                         "phone": None, "of": "(三十二) 属地负总责"})
    contacts = [c for c in contacts if c["name"] is not None and str(c["name"]).strip() not in ("", "nan", "None")]
    if not personal:
        for c in contacts:
            c["phone"] = mask_phone(c["phone"])
    return {"township_code": code, "township_name": t.name if t else "", "project_code": project_code,
            "contacts": contacts, "fund": fund_balance(code, scope, s)}


def _project_of(site: dict, scope, s: Store) -> str | None:
    kind, key = site.get("kind"), site.get("key")
    if kind == "project":
        return key
    if kind in ("incident", "case"):
        table = "incidents" if kind == "incident" else "cases"
        keycol = "incident_no" if kind == "incident" else "case_no"
        df = pd.DataFrame(s.read(table, scope=scope, where={keycol: key}, columns=[keycol, "project_code"]))
        if len(df) and pd.notna(df["project_code"].iloc[0]) and str(df["project_code"].iloc[0]).strip():
            return str(df["project_code"].iloc[0])
    return None


def fund_balance(code: str, scope=None, s: Store | None = None) -> dict | None:
    """(十)(二十四) The township's 应急周转金 in its latest year: balance vs the floor (万元)."""
    if not code:
        return None
    s = s or store()
    f = pd.DataFrame(s.read("funds", where={"unit_code": code}, columns=["unit_code", "year", "budgeted", "balance", "used"]))
    floor = get_settings().rules.fund_floor_township
    if f.empty:
        return {"year": None, "balance": None, "budgeted": None, "used": None, "floor": floor, "below_floor": None}
    r = f.sort_values("year").iloc[-1]
    bal = None if pd.isna(r["balance"]) else float(r["balance"])
    return {"year": int(r["year"]), "balance": bal, "budgeted": None if pd.isna(r["budgeted"]) else float(r["budgeted"]),
            "used": None if pd.isna(r["used"]) else float(r["used"]), "floor": floor,
            "below_floor": None if bal is None else bal < floor}


# ---- incidents ----------------------------------------------------------------------------------

def incident_list(scope=None, grades=None, statuses=None, s: Store | None = None) -> pd.DataFrame:
    """Incidents in scope, newest first, optionally only some grades / statuses."""
    s = s or store()
    df = _cached("incidents", s, scope,
                 lambda: pd.DataFrame(s.read("incidents", scope=scope)).drop(columns=["geometry"], errors="ignore"))
    return inc.incident_rows(df, grades=grades, statuses=statuses)


def incident(no: str, scope=None, s: Store | None = None) -> dict | None:
    """One incident as a dict (None when absent or outside the scope)."""
    rows = incident_list(scope, s=s)
    hit = rows[rows["incident_no"] == str(no)]
    if hit.empty:
        return None
    r = hit.iloc[0].to_dict()
    return {k: (None if (not isinstance(v, str) and pd.isna(v)) else v) for k, v in r.items()}


def save_incident(form: dict, user: str, scope=None, s: Store | None = None) -> dict:
    """Validate (as ETL input) and upsert one incident; audit-logged. Raises IncidentInputError."""
    s = s or store()
    tw = s.townships()
    row = inc.validate_incident(form, townships_of=lambda x, y: nb.township_of(x, y, tw))
    if scope is not None and row["township_code"] not in scope:
        raise inc.IncidentInputError({"lon": "该地点不在您的辖区内，不能录入"})
    existed = incident(row["incident_no"], None, s) is not None
    df = pd.DataFrame([{**row, "source_file": SOURCE_PAGE, "source_row": 1}])
    with s.begin(scope) as conn:
        batch = s.new_batch(conn, "incidents", SOURCE_PAGE, user)
        counts = s.upsert(conn, "incidents", df, batch)
        s.finish_batch(conn, batch, rows_read=1, rows_loaded=1, rows_rejected=0, report={"counts": counts})
        s.audit(user, "incident_update" if existed else "incident_create", row["incident_no"],
                json.dumps({k: str(v) for k, v in row.items()}, ensure_ascii=False), conn=conn)
    return {**row, "created": not existed, "counts": counts}


def response_table(no: str, scope=None, s: Store | None = None, now: datetime | None = None) -> tuple[dict | None, pd.DataFrame]:
    """The incident and its graded checklist with the times steps were done."""
    s = s or store()
    it = incident(no, scope, s)
    if it is None:
        return None, pd.DataFrame()
    rec = pd.DataFrame(s.read("incident_responses", scope=scope, where={"incident_no": str(no)}))
    return it, resp.progress(it["grade"], rec, it["occurred_at"], now=now)


def record_step(no: str, step: str, user: str, done: bool = True, note: str = "", scope=None,
                s: Store | None = None) -> dict:
    """Mark a checklist step done (or undone) now; one row in incident_responses, audit-logged."""
    s = s or store()
    it = incident(no, scope, s)
    if it is None:
        raise EmergencyError(f"incident {no} not found", f"未找到事件 {no}，或不在您的查看范围内")
    row = resp.step_record(no, it.get("township_code"), it["grade"], step, user, done=done, note=note)
    with s.begin(scope) as conn:
        conn.execute(schema.incident_responses.insert().values(**row))
        s.audit(user, "incident_step", str(no), json.dumps({"step": step, "done": done}, ensure_ascii=False), conn=conn)
    return row


# ---- personal data --------------------------------------------------------------------------------

def mask_phone(v) -> str | None:
    """138****5678 (full numbers only for roles that need them)."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    t = str(v).strip()
    return t[:3] + "****" + t[-4:] if len(t) >= 8 else "****"


def _mask(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows.copy()
    for c in ("contractor_phone", "labour_officer_phone", "phone"):
        if c in out:
            out[c] = out[c].map(mask_phone)
    return out
