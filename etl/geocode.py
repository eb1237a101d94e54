"""Place rows on the map: coordinates (any CRS, swapped lat/lon repaired) or address -> gazetteer -> township.

`geocode` gives every row lon/lat (WGS-84), `geocode_method` (coord | coord_swapped | gazetteer |
gazetteer_fuzzy | township | none) and `geocode_confidence` (0-1); points outside the city are
rejected. `assign_township` joins points to the township boundaries; `related_township` places
rows without points (compliance, deposits, indicators, credit, funds) through their project,
enterprise or unit code. Everything runs on whole columns (numpy, shapely, rapidfuzz.cdist).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rapidfuzz import fuzz, process

from etl import gazetteer as gz
from etl.coords import to_wgs84
from etl.normalise import FULLWIDTH
from geodata.boundaries import PROJECTED_CRS, city_outline, demo_boundaries
from geodata.townships import TOWNSHIPS
from geodata.townships import alias_table as township_aliases

CITY_BUFFER_M = 500.0  # points this close outside the simplified outline still count as inside
FUZZY_CUTOFF = 75.0
CONFIDENCE = {
    "coord": 1.0,
    "coord_swapped": 0.9,
    "gazetteer": 0.8,
    "gazetteer_ambiguous": 0.5,
    "gazetteer_other_township": 0.6,
    "gazetteer_fuzzy": 0.7,
    "township_address": 0.4,
    "township_declared": 0.3,
    "none": 0.0,
}
METHODS = ("coord", "coord_swapped", "gazetteer", "gazetteer_fuzzy", "township", "none")
_FULL_SUFFIX = ("村", "社区", "委员会", "居委会", "村委会")
_NOT_AFTER = r"(?!镇|乡|街道|办事处|管委|风景区|产业集聚区)"


def trie_regex(words) -> str:
    """One regex matching any of `words`, longest first at each position (a trie; fast in `re`)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


@dataclass
class Geography:
    """What geocoding needs, prepared once per run: boundaries, buffered outline, gazetteer and its regexes."""

    townships: gpd.GeoDataFrame  # code, lon, lat, geometry (WGS-84)
    outline: shapely.Geometry  # buffered city outline, WGS-84, prepared
    gazetteer: pd.DataFrame  # gazetteer.COLUMNS
    forms: pd.DataFrame  # form -> entry
    full_re: str  # regex of full village/community names ('王家沟村')
    base_re: str  # regex of short forms ('王家沟')
    township_re: str

    @classmethod
    def build(
        cls,
        townships: gpd.GeoDataFrame | None = None,
        gazetteer: pd.DataFrame | None = None,
        outline: shapely.Geometry | None = None,
    ) -> Geography:
        if townships is None:
            townships = demo_boundaries()
            pts = {t.code: (t.lon, t.lat) for t in TOWNSHIPS}
            townships["lon"] = townships["code"].map(lambda c: pts[c][0])
            townships["lat"] = townships["code"].map(lambda c: pts[c][1])
        gaz = (gz.bundled() if gazetteer is None else gazetteer).reset_index(drop=True)
        # the city: the bundled outline, and any imported boundary reaching beyond it
        base = outline if outline is not None else shapely.union_all([city_outline(), *townships.to_crs(4326).geometry])
        buffered = gpd.GeoSeries([base], crs=4326).to_crs(PROJECTED_CRS).buffer(CITY_BUFFER_M).to_crs(4326).iloc[0]
        shapely.prepare(buffered)
        forms = gz.forms_table(gaz)
        taken = set(township_aliases())
        forms = forms[~forms["form"].isin(taken)]
        full = forms["form"].str.endswith(_FULL_SUFFIX)
        t_names = [n for n in township_aliases() if len(n) >= 2 and not n.isdigit()]
        return cls(
            townships.to_crs(4326),
            buffered,
            gaz,
            forms,
            trie_regex(forms.loc[full, "form"]),
            trie_regex(forms.loc[~full, "form"]),
            trie_regex(t_names),
        )

    @classmethod
    def from_store(cls, store) -> Geography:
        return cls.build(store.townships(), gz.entries(store))


@dataclass
class Geocoded:
    data: pd.DataFrame  # input + lon, lat, geocode_method, geocode_confidence
    rejected: pd.DataFrame  # source_row, reason, reason_code (index: rows of the input)


def geocode(df: pd.DataFrame, geo: Geography, crs: str = "wgs84") -> Geocoded:
    """Coordinates when present (declared CRS -> WGS-84; swapped repaired); else address; else declared township."""
    n = len(df)
    x = pd.to_numeric(df["lon"], errors="coerce").to_numpy(float, copy=True) if "lon" in df else np.full(n, np.nan)
    y = pd.to_numeric(df["lat"], errors="coerce").to_numpy(float, copy=True) if "lat" in df else np.full(n, np.nan)
    zero = (x == 0) & (y == 0)  # 0,0 is a placeholder, not a place
    x[zero], y[zero] = np.nan, np.nan
    has_x, has_y = np.isfinite(x), np.isfinite(y)
    has = has_x & has_y
    half = has_x ^ has_y

    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    method = np.full(n, "none", dtype=object)
    conf = np.zeros(n)
    lon1, lat1 = to_wgs84(x, y, crs)
    lon2, lat2 = to_wgs84(y, x, crs)
    in1 = has & shapely.contains_xy(geo.outline, np.nan_to_num(lon1), np.nan_to_num(lat1))
    in2 = has & ~in1 & shapely.contains_xy(geo.outline, np.nan_to_num(lon2), np.nan_to_num(lat2))
    lon[in1], lat[in1], method[in1], conf[in1] = lon1[in1], lat1[in1], "coord", CONFIDENCE["coord"]
    lon[in2], lat[in2], method[in2], conf[in2] = lon2[in2], lat2[in2], "coord_swapped", CONFIDENCE["coord_swapped"]
    outside = has & ~in1 & ~in2

    todo = ~has & ~half
    declared = df["declared_township"] if "declared_township" in df else pd.Series(None, index=df.index, dtype="str")
    if todo.any() and "address" in df:
        m = match_addresses(df["address"][todo], declared[todo], geo)
        idx = np.flatnonzero(todo)
        found = m["method"].notna().to_numpy()
        sel = idx[found]
        lon[sel], lat[sel] = m["lon"].to_numpy()[found], m["lat"].to_numpy()[found]
        method[sel], conf[sel] = m["method"].to_numpy()[found], m["confidence"].to_numpy()[found]
        addr_town = m["township"].reindex(df.index)
    else:
        addr_town = pd.Series(None, index=df.index, dtype="object")
    # township point: from the address's township, else the declared one
    still = todo & (method == "none")
    town = addr_town.where(addr_town.notna(), declared).where(still)
    pts = geo.townships.set_index("code")[["lon", "lat"]]
    tlon, tlat = town.map(pts["lon"]).to_numpy(float), town.map(pts["lat"]).to_numpy(float)
    ok = still & np.isfinite(tlon)
    lon[ok], lat[ok], method[ok] = tlon[ok], tlat[ok], "township"
    conf[ok] = np.where(addr_town.notna().to_numpy()[ok], CONFIDENCE["township_address"], CONFIDENCE["township_declared"])

    out = df.copy()
    out["lon"], out["lat"] = lon, lat
    out["geocode_method"], out["geocode_confidence"] = method, np.round(conf, 3)
    out["_town_hint"] = town.where(ok)
    rejected = pd.concat(
        [_reject(df, outside, "outside_city", _outside_msg(x, y, crs)), _reject(df, half, "bad_coord", "经度、纬度须同时填写")]
    )
    return Geocoded(out[~(outside | half)], rejected)


def _outside_msg(x: np.ndarray, y: np.ndarray, crs: str) -> Callable[[np.ndarray], np.ndarray]:
    def build(mask: np.ndarray) -> np.ndarray:
        return np.array(
            [
                f"坐标（经度 {a:g}，纬度 {b:g}，{crs}）不在新密市范围内（交换经纬度后也不在）"
                for a, b in zip(x[mask], y[mask], strict=False)
            ],
            dtype=object,
        )

    return build


def _reject(df: pd.DataFrame, mask: np.ndarray, code: str, reason) -> pd.DataFrame:
    if not mask.any():
        return pd.DataFrame(columns=["source_row", "reason", "reason_code"])
    reasons = reason(mask) if callable(reason) else reason
    return pd.DataFrame(
        {"source_row": df["source_row"].to_numpy()[mask], "reason": reasons, "reason_code": code}, index=df.index[mask]
    )


def match_addresses(address: pd.Series, declared: pd.Series, geo: Geography) -> pd.DataFrame:
    """Addresses -> gazetteer points. Returns per input row: method (gazetteer | gazetteer_fuzzy | None),
    confidence, lon, lat, township (the township named in the address, if any)."""
    addr = address.astype("str").str.translate(FULLWIDTH).str.replace(r"\s", "", regex=True)
    codes, uniq = pd.factorize(addr)
    u = pd.Series(uniq, dtype="str")
    aliases = township_aliases()
    u_town = u.str.extract(f"({geo.township_re})")[0].map(aliases)
    hit = u.str.extract(f"({geo.full_re}){_NOT_AFTER}")[0]
    if geo.base_re:
        hit = hit.fillna(u.str.extract(f"({geo.base_re}){_NOT_AFTER}")[0])
    res = pd.DataFrame({"form": hit, "town": u_town})
    # rows map back to unique addresses; the declared township is row-level context
    rows = pd.DataFrame({"u": codes, "declared": declared.to_numpy()}, index=address.index)
    rows = rows[rows["u"] >= 0].join(res, on="u")
    rows["ctx"] = rows["town"].where(rows["town"].notna(), rows["declared"])
    out = pd.DataFrame(
        {"method": None, "confidence": np.nan, "lon": np.nan, "lat": np.nan, "township": None}, index=address.index
    )
    out["township"] = rows["town"]
    exact = _pick_entries(rows[rows["form"].notna()], geo)
    _fill(out, exact, "gazetteer", geo.gazetteer)
    left = rows[rows["form"].isna() & ~rows.index.isin(exact.index)]
    if len(left):
        fuzzy = _fuzzy(left, u, geo)
        _fill(out, fuzzy, "gazetteer_fuzzy", geo.gazetteer)
    return out


def _pick_entries(rows: pd.DataFrame, geo: Geography) -> pd.DataFrame:
    """For each row's matched form, the gazetteer entry: the one in the context township when several share it."""
    if rows.empty:
        return pd.DataFrame(columns=["entry", "confidence"])
    cand = rows[["form", "ctx"]].reset_index(names="row").merge(geo.forms, on="form")
    cand["etown"] = geo.gazetteer["township_code"].to_numpy()[cand["entry"].to_numpy()]
    cand["agree"] = cand["etown"] == cand["ctx"]
    cand["n"] = cand.groupby("row")["entry"].transform("nunique")
    cand = cand.sort_values(["row", "agree"], ascending=[True, False]).drop_duplicates("row")
    conf = np.select(
        [cand["agree"], cand["n"] > 1, cand["ctx"].notna()],
        [CONFIDENCE["gazetteer"], CONFIDENCE["gazetteer_ambiguous"], CONFIDENCE["gazetteer_other_township"]],
        CONFIDENCE["gazetteer"],
    )
    return pd.DataFrame({"entry": cand["entry"].to_numpy(), "confidence": conf}, index=cand["row"].to_numpy())


def _fuzzy(rows: pd.DataFrame, uniq: pd.Series, geo: Geography) -> pd.DataFrame:
    """rapidfuzz partial_ratio of each address against full names (of its township when known)."""
    full = geo.forms[geo.forms["form"].str.endswith(_FULL_SUFFIX) & (geo.forms["form"].str.len() >= 3)]
    full = full.assign(town=geo.gazetteer["township_code"].to_numpy()[full["entry"].to_numpy()])
    query = uniq.str.replace(r"^(?:河南省)?(?:郑州市)?(?:新密市)?", "", regex=True).str.replace(
        f"^(?:{geo.township_re})", "", regex=True
    )
    picks = []
    for ctx, grp in rows.groupby(rows["ctx"].fillna(""), sort=False):
        choices = full[full["town"] == ctx] if ctx else full
        if choices.empty:
            continue
        qs = query.to_numpy()[grp["u"].to_numpy()]
        uq, inv = np.unique(qs.astype(str), return_inverse=True)
        scores = process.cdist(
            list(uq), list(choices["form"]), scorer=fuzz.partial_ratio, score_cutoff=FUZZY_CUTOFF, workers=-1, dtype=np.uint8
        )
        best = scores.argmax(axis=1)
        top = scores[np.arange(len(uq)), best]
        ok = top[inv] >= FUZZY_CUTOFF
        entries = choices["entry"].to_numpy()[best[inv]]
        picks.append(
            pd.DataFrame(
                {"entry": entries[ok], "confidence": CONFIDENCE["gazetteer_fuzzy"] * top[inv][ok] / 100.0}, index=grp.index[ok]
            )
        )
    return pd.concat(picks) if picks else pd.DataFrame(columns=["entry", "confidence"])


def _fill(out: pd.DataFrame, picks: pd.DataFrame, method: str, gaz: pd.DataFrame) -> None:
    """Write gazetteer picks into `out`; entries without a point only tell the township."""
    if picks.empty:
        return
    ent = picks["entry"].astype(int).to_numpy()
    lon = gaz["lon"].to_numpy(float)[ent]
    lat = gaz["lat"].to_numpy(float)[ent]
    has = np.isfinite(lon) & np.isfinite(lat)
    idx = picks.index
    out.loc[idx[has], "method"] = method
    out.loc[idx[has], "confidence"] = picks["confidence"].to_numpy()[has]
    out.loc[idx[has], "lon"], out.loc[idx[has], "lat"] = lon[has], lat[has]
    town = gaz["township_code"].to_numpy()[ent]
    out.loc[idx, "township"] = np.where(out.loc[idx, "township"].isna(), town, out.loc[idx, "township"])


def assign_township(df: pd.DataFrame, geo: Geography) -> pd.DataFrame:
    """township_code = the unit whose boundary holds the point (nearest unit for points in the outline's
    buffer); rows placed at a township point keep that township; township_mismatch where the file's
    declared township differs. Rows without a point keep their declared township."""
    out = df.copy()
    lon = pd.to_numeric(out["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(out["lat"], errors="coerce").to_numpy(float)
    has = np.isfinite(lon) & np.isfinite(lat)
    code = pd.Series(None, index=out.index, dtype="object")
    if has.any():
        pts = gpd.GeoDataFrame({"_i": np.flatnonzero(has)}, geometry=gpd.points_from_xy(lon[has], lat[has]), crs=4326)
        polys = geo.townships[["code", "geometry"]]
        hit = gpd.sjoin(pts, polys, predicate="intersects", how="left").drop_duplicates("_i").set_index("_i")["code"]
        miss = hit[hit.isna()].index
        if len(miss):
            near = gpd.sjoin_nearest(pts.set_index("_i").loc[miss].to_crs(PROJECTED_CRS), polys.to_crs(PROJECTED_CRS))
            hit.loc[near.index] = near["code"].to_numpy()
        code.iloc[hit.index.to_numpy()] = hit.to_numpy()
    declared = out["declared_township"] if "declared_township" in out else pd.Series(None, index=out.index, dtype="object")
    hint = out.pop("_town_hint") if "_town_hint" in out else pd.Series(None, index=out.index, dtype="object")
    code = code.where(hint.isna(), hint)  # a township point belongs to its township
    code = code.where(code.notna() | has, declared)
    out["township_code"] = code
    out["township_mismatch"] = (declared.notna() & code.notna() & (declared.astype(object) != code)).astype(bool)
    return out


def related_township(df: pd.DataFrame, kind: str, lookups: dict[str, pd.Series]) -> tuple[pd.Series, pd.Series]:
    """township_code of rows without points, from the related project / enterprise or the fund's unit code.

    lookups: {"projects": project_code -> township_code, "enterprises": credit_code -> township_code}.
    Returns (township_code, source) with source in project | enterprise | unit_code | none.
    """
    code = pd.Series(None, index=df.index, dtype="object")
    source = pd.Series("none", index=df.index, dtype="object")
    if kind == "funds":
        code = df["unit_code"].astype(object)
        return code, source.where(code.isna(), "unit_code")
    steps = {
        "compliance": [("project_code", "projects", "project")],
        "deposits": [("project_code", "projects", "project"), ("credit_code", "enterprises", "enterprise")],
        "indicators": [("credit_code", "enterprises", "enterprise")],
        "credit": [("credit_code", "enterprises", "enterprise")],
    }.get(kind, [])
    for col, table, label in steps:
        if col not in df or table not in lookups:
            continue
        found = _lookup(df[col], lookups[table])
        take = code.isna() & found.notna()
        code = code.where(~take, found)
        source = source.where(~take, label)
    return code, source


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """table[key] for every row (missing where absent), looked up once per distinct key (codes repeat by month)."""
    pos, uniq = pd.factorize(keys, use_na_sentinel=True)
    vals = pd.Series(np.asarray(uniq, dtype=object), dtype=object).map(table).to_numpy(dtype=object)
    out = np.full(len(pos), None, dtype=object)
    ok = pos >= 0
    out[ok] = vals[pos[ok]]
    return pd.Series(out, index=keys.index, dtype=object)
