"""Emergency search: find a site by incident/case no., project, employer, address text or typed coordinates.

Pure (no Dash, no store): `build_index(...)` turns the frames read for one scope into a search
index once (cache it by data version), `search(query, index)` answers one query with ranked
sites. Coordinates may be typed as `113.38,34.54`, `34.54 113.38`, `34°32'N 113°23'E`, in
WGS-84 or marked GCJ-02 / BD-09 (`gcj02:113.38,34.54`, `113.38,34.54 高德`, `… 百度`); every site
comes back in WGS-84 with its GCJ-02 twin for AMap. Limits: in-memory, one scope at a time;
fuzzy matching scans every name (measured in benchmarks/search.py). On PostGIS layers/search_sql.py
finds the candidate rows in SQL (pg_trgm) and ranks them with this same `search`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from geodata import gcj02
from geodata.townships import BY_CODE, alias_table
from layers.nearby import township_of

# ---- coordinate systems ---------------------------------------------------------------------

CRS_ZH = {"wgs84": "WGS-84（GPS/天地图）", "gcj02": "GCJ-02（高德/腾讯）", "bd09": "BD-09（百度）"}
_CRS_MARKS = (  # (regex, crs): prefixes like "gcj02:" and words like 高德 anywhere in the query
    (r"gcj[-_ ]?0?2|高德|腾讯|火星|amap|gaode", "gcj02"),
    (r"bd[-_ ]?0?9|百度|baidu", "bd09"),
    (r"wgs[-_ ]?84|gps|天地图|cgcs2000|4326|4490", "wgs84"),
)


def to_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of lon/lat in `crs` ("wgs84" | "gcj02" | "bd09") -> WGS-84 arrays."""
    lon, lat = np.atleast_1d(np.asarray(lon, float)), np.atleast_1d(np.asarray(lat, float))
    if crs == "wgs84":
        return lon, lat
    x, y = (gcj02.gcj_to_wgs if crs == "gcj02" else gcj02.bd_to_wgs)(lon, lat)
    return np.asarray(x, float), np.asarray(y, float)


def to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat arrays -> GCJ-02 (what AMap and Tencent maps expect)."""
    lon, lat = np.atleast_1d(np.asarray(lon, float)), np.atleast_1d(np.asarray(lat, float))
    x, y = gcj02.wgs_to_gcj(lon, lat)
    return np.asarray(x, float), np.asarray(y, float)


# ---- typed coordinates ----------------------------------------------------------------------

_NUM = r"[-+]?\d{1,3}(?:\.\d+)?"
_DMS = re.compile(
    r"(?P<h1>[NSEW北南东西])?\s*(?P<d>\d{1,3}(?:\.\d+)?)\s*(?:°|度|º|˚)\s*"
    r"(?:(?P<m>\d{1,2}(?:\.\d+)?)\s*(?:'|′|分|’)\s*)?(?:(?P<s>\d{1,2}(?:\.\d+)?)\s*(?:\"|″|′′|秒|”|''|’’)\s*)?"
    r"(?P<h2>[NSEW北南东西])?",
    re.I,
)
_PAIR = re.compile(rf"^\(?\s*({_NUM})\s*(?:,|，|;|；|\s)\s*({_NUM})\s*\)?$")


@dataclass
class TypedPoint:
    """A coordinate pair typed by the user, as understood."""

    lon: float  # in `crs`
    lat: float
    crs: str
    swapped: bool  # typed as lat, lon
    text: str


def _strip_crs(q: str) -> tuple[str, str]:
    crs = "wgs84"
    for pattern, name in _CRS_MARKS:
        if re.search(pattern, q, re.I):
            crs = name
            q = re.sub(pattern, " ", q, flags=re.I)
            break
    q = re.sub(r"\(\s*\)|\[\s*\]", " ", q)
    q = re.sub(r"^[\s:：]+|[\s:：]+$", "", q)
    q = re.sub(r"(坐标|经纬度|位置)[:：]?", " ", q).strip()
    return q, crs


def _dms_value(m: re.Match) -> tuple[float, str | None]:
    v = float(m["d"]) + float(m["m"] or 0) / 60 + float(m["s"] or 0) / 3600
    hemi = (m["h1"] or m["h2"] or "").upper()
    hemi = {"北": "N", "南": "S", "东": "E", "西": "W"}.get(hemi, hemi) or None
    if hemi in ("S", "W"):
        v = -v
    return v, hemi


def parse_coordinates(query: str) -> TypedPoint | None:
    """Read a typed coordinate pair (decimal or degrees/minutes/seconds, either order), or None."""
    q = normalise(query)
    body, crs = _strip_crs(q)
    pair = _PAIR.match(body)
    if pair:
        a, b = float(pair.group(1)), float(pair.group(2))
        hemis = (None, None)
    else:
        found = [m for m in _DMS.finditer(body) if m["d"] and (m["m"] or m["s"] or "°" in m[0] or "度" in m[0])]
        if len(found) != 2 or _DMS.sub("", body).strip(" ,，;；") != "":
            return None
        (a, ha), (b, hb) = _dms_value(found[0]), _dms_value(found[1])
        hemis = (ha, hb)
    if hemis[0] in ("N", "S") or hemis[1] in ("E", "W"):
        lat, lon, swapped = a, b, True
    elif hemis[0] in ("E", "W") or hemis[1] in ("N", "S"):
        lon, lat, swapped = a, b, False
    elif abs(a) <= 90 < abs(b):  # only a longitude can exceed 90: China is 73-135 E
        lat, lon, swapped = a, b, True
    else:
        lon, lat, swapped = a, b, False
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    return TypedPoint(lon=lon, lat=lat, crs=crs, swapped=swapped, text=query)


# ---- the index --------------------------------------------------------------------------------

KIND_ZH = {
    "incident": "突发事件", "case": "欠薪案件", "project": "工程项目", "enterprise": "用人单位",
    "place": "地名", "township": "乡镇", "coordinate": "坐标",
}
_KIND_ORDER = {k: i for i, k in enumerate(KIND_ZH)}


@dataclass
class SearchIndex:
    """Everything a query is matched against, flattened once per scope and data version."""

    records: pd.DataFrame  # kind, key, title, subtitle, address, lon, lat, township_code
    ids: np.ndarray  # normalised business keys (upper case), aligned with records
    alt_ids: np.ndarray  # second key (project's contractor credit code ...), "" when none
    names: list[str]
    addresses: list[str]
    places: pd.DataFrame  # gazetteer: name, names (list), township_code, lon, lat
    townships: gpd.GeoDataFrame = field(repr=False)
    ids_u: np.ndarray = field(default=None, repr=False)  # ids as a fixed-width unicode array (np.strings.find)
    id_pos: dict = field(default=None, repr=False)  # id -> positions (exact codes in O(1))
    alt_pos: dict = field(default=None, repr=False)
    name_codes: np.ndarray = field(default=None, repr=False)  # names/addresses factorised: fuzzy-match each
    name_uniq: list = field(default=None, repr=False)  # distinct string once (many cases share an address)
    addr_codes: np.ndarray = field(default=None, repr=False)
    addr_uniq: list = field(default=None, repr=False)

    def __post_init__(self):
        n = len(self.ids)
        self.ids_u = np.asarray(self.ids, dtype=str) if n else np.array([], dtype="U1")
        pos = pd.Series(np.arange(n))
        self.id_pos = pos.groupby(self.ids, sort=False).indices if n else {}
        self.alt_pos = pos.groupby(self.alt_ids, sort=False).indices if n else {}
        self.name_codes, uniq = pd.factorize(pd.Series(self.names, dtype=object))
        self.name_uniq = list(uniq)
        self.addr_codes, uniq = pd.factorize(pd.Series(self.addresses, dtype=object))
        self.addr_uniq = list(uniq)


def normalise(s: object) -> str:
    """Full-width -> half-width, trimmed, inner spaces collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(s or ""))).strip()


def _frame(df: pd.DataFrame | None, kind: str, key: str, title: str, subtitle: list[str], alt: str | None = None) -> pd.DataFrame:
    cols = ["kind", "key", "alt", "title", "subtitle", "address", "lon", "lat", "township_code"]
    if df is None or len(df) == 0 or key not in df:
        return pd.DataFrame(columns=cols)
    get = lambda c: df[c].astype("string").fillna("") if c in df else pd.Series("", index=df.index, dtype="string")  # noqa: E731
    sub = get(subtitle[0])
    for c in subtitle[1:]:
        sub = sub.str.cat(get(c), sep=" · ").str.strip(" ·")
    out = pd.DataFrame({
        "kind": kind,
        "key": get(key),
        "alt": get(alt) if alt else "",
        "title": get(title) if title in df else get(key),
        "subtitle": sub,
        "address": get("address"),
        "lon": pd.to_numeric(df.get("lon"), errors="coerce") if "lon" in df else np.nan,
        "lat": pd.to_numeric(df.get("lat"), errors="coerce") if "lat" in df else np.nan,
        "township_code": get("township_code"),
    })
    return out[cols]


def build_index(*, townships: gpd.GeoDataFrame, incidents=None, cases=None, projects=None, enterprises=None,
                gazetteer=None) -> SearchIndex:
    """Flatten the frames of one scope into a SearchIndex (vectorised; no per-row Python)."""
    parts = [
        _frame(incidents, "incident", "incident_no", "address", ["grade", "status", "occurred_at"]),
        _frame(cases, "case", "case_no", "employer_name", ["status", "received_date"]),
        _frame(projects, "project", "project_code", "name", ["contractor", "status"], alt="contractor_credit_code"),
        _frame(enterprises, "enterprise", "credit_code", "name", ["industry"]),
    ]
    for i in (0, 1):  # incidents and cases are titled by their number, then address / employer
        if len(parts[i]):
            parts[i]["title"] = parts[i]["key"].str.cat(parts[i]["title"], sep=" ").str.strip()
    rec = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[0]
    rec = rec.astype({"lon": float, "lat": float})
    ids = rec["key"].astype(str).map(normalise).str.upper().to_numpy(dtype=object)
    alt = rec["alt"].astype(str).map(normalise).str.upper().to_numpy(dtype=object)
    places = _places(gazetteer)
    return SearchIndex(rec, ids, alt, rec["title"].astype(str).tolist(), rec["address"].astype(str).tolist(), places,
                       townships)


def _places(gazetteer: pd.DataFrame | None) -> pd.DataFrame:
    if gazetteer is None or len(gazetteer) == 0:
        return pd.DataFrame(columns=["name", "names", "township_code", "lon", "lat", "kind"])
    g = gazetteer.dropna(subset=["lon", "lat"]).copy()
    aliases = g["aliases"].fillna("").astype(str) if "aliases" in g else pd.Series("", index=g.index)
    split = [[a for a in re.split(r"[;；,，、]", al) if a] for al in aliases]
    g["names"] = [[n, *more] for n, more in zip(g["name"].astype(str), split, strict=True)]
    return g[["name", "names", "township_code", "lon", "lat", *(["kind"] if "kind" in g else [])]].reset_index(drop=True)


# ---- the answer -------------------------------------------------------------------------------

@dataclass
class Site:
    """One ranked answer: a place the user can go to, in WGS-84 with its GCJ-02 twin."""

    kind: str  # incident | case | project | enterprise | place | township | coordinate
    key: str  # business key (incident_no, case_no, project_code, credit_code) or place name
    title: str
    subtitle: str
    address: str
    lon: float  # WGS-84
    lat: float
    gcj_lon: float
    gcj_lat: float
    township_code: str
    township_name: str
    score: float  # 0-100
    matched: str  # what matched, Chinese: "事件编号", "项目名称", "地址", "村/社区" ...

    @property
    def kind_zh(self) -> str:
        return KIND_ZH.get(self.kind, self.kind)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kind_zh"] = self.kind_zh
        return d


@dataclass
class SearchResult:
    """What a query gave: status found | ambiguous | none | empty, a Chinese message, ranked sites."""

    query: str
    status: str
    message: str
    sites: list[Site]
    typed: TypedPoint | None = None

    def to_dict(self) -> dict:
        return {"query": self.query, "status": self.status, "message": self.message,
                "typed_crs": self.typed.crs if self.typed else None, "sites": [s.to_dict() for s in self.sites]}


HELP_ZH = ("可输入：事件编号、案件编号、项目名称或编号、单位名称或统一社会信用代码、地址（乡镇/村/社区名）"
           "或坐标（如 113.38,34.54，高德坐标加“高德”）")
MIN_SCORE = 60.0
_ID_FIELD = {"incident": "事件编号", "case": "案件编号", "project": "项目编号", "enterprise": "统一社会信用代码"}
_NAME_FIELD = {"incident": "事件编号/地点", "case": "被投诉单位", "project": "项目名称", "enterprise": "单位名称"}


def search(query: str, index: SearchIndex, limit: int = 10) -> SearchResult:
    """Answer one query: typed coordinates first, else IDs, names, addresses and gazetteer places, ranked."""
    q = normalise(query)
    if not q:
        return SearchResult(query, "empty", "请输入要查找的内容。" + HELP_ZH, [])
    typed = parse_coordinates(q)
    if typed is not None:
        return _coordinate_answer(query, typed, index)
    by_id = _id_hits(q, index)
    if (by_id["score"] >= 100).any():  # an exact incident/case/project/credit code: no need to scan names
        hits = by_id
    else:
        hits = pd.concat([by_id, _text_hits(q, index), _place_hits(q, index), _township_hits(q, index)], ignore_index=True)
    hits = hits[hits["score"] >= MIN_SCORE].dropna(subset=["lon", "lat"])
    if hits.empty:
        return SearchResult(query, "none", f"未找到与“{q}”匹配的地点。{HELP_ZH}", [])
    hits["order"] = hits["kind"].map(_KIND_ORDER)
    hits = (hits.sort_values(["score", "order"], ascending=[False, True])
                .drop_duplicates(["kind", "key"]).head(limit).reset_index(drop=True))
    sites = _sites(hits, index)
    status, message = _verdict(q, sites)
    return SearchResult(query, status, message, sites)


def _verdict(q: str, sites: list[Site]) -> tuple[str, str]:
    top = sites[0]
    rivals = [s for s in sites[1:] if s.score >= top.score - 3 and _metres(top, s) > 100]
    if top.score < 100 and rivals:
        return "ambiguous", f"“{q}”有 {len(rivals) + 1} 个相近的结果，请选择一个。"
    return "found", f"找到 {len(sites)} 个结果，最匹配：{top.title}。"


def _metres(a: Site, b: Site) -> float:
    dy = (a.lat - b.lat) * 111_320.0
    dx = (a.lon - b.lon) * 111_320.0 * np.cos(np.radians(a.lat))
    return float(np.hypot(dx, dy))


def _hits(idx: np.ndarray, index: SearchIndex, score: np.ndarray, matched) -> pd.DataFrame:
    r = index.records.iloc[idx]
    out = r[["kind", "key", "title", "subtitle", "address", "lon", "lat", "township_code"]].reset_index(drop=True)
    out["score"] = np.asarray(score, float)
    out["matched"] = list(matched) if not isinstance(matched, str) else matched
    return out


def _id_hits(q: str, index: SearchIndex) -> pd.DataFrame:
    key = re.sub(r"\s+", "", q).upper()
    if len(key) < 3 or len(index.ids) == 0:
        return _hits(np.array([], int), index, [], "")
    kinds = index.records["kind"].to_numpy()
    exact = np.zeros(len(index.ids), bool)
    exact[index.id_pos.get(key, [])] = True
    alt = np.zeros(len(index.ids), bool)
    alt[index.alt_pos.get(key, []) if key else []] = True
    alt &= ~exact
    part = (np.strings.find(index.ids_u, key) >= 0) & ~exact if len(key) >= 4 else np.zeros(len(exact), bool)
    lens = np.strings.str_len(index.ids_u).astype(float)
    score = np.where(exact, 100.0, np.where(alt, 80.0, 70.0 + 25.0 * len(key) / np.maximum(lens, 1)))
    sel = _best(np.where(exact | alt | part, score, 0.0))
    matched = [("施工单位信用代码" if alt[i] else _ID_FIELD[kinds[i]]) for i in sel]
    return _hits(sel, index, score[sel], matched)


LONG_QUERY = 10  # characters: a longer query is a whole name or address, compared whole (and much faster)


TOP_K = 200  # candidates kept per matcher before ranking (a common word matches thousands)


def _best(score: np.ndarray) -> np.ndarray:
    """Positions of the TOP_K highest scores at or above MIN_SCORE."""
    sel = np.flatnonzero(score >= MIN_SCORE)
    if len(sel) > TOP_K:
        sel = sel[np.argpartition(-score[sel], TOP_K)[:TOP_K]]
    return sel


def _fuzzy(q: str, uniq: list[str], codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score of q against each record's string (each distinct string scored once): partial ratio for
    a fragment (discounted when the string is much shorter than q), plain ratio for a long query;
    and whether the string equals q."""
    if not uniq:
        return np.zeros(len(codes)), np.zeros(len(codes), bool)
    scorer = fuzz.ratio if len(q) > LONG_QUERY else fuzz.partial_ratio
    s = process.cdist([q], uniq, scorer=scorer, score_cutoff=MIN_SCORE, dtype=np.uint8, workers=-1)[0].astype(float)
    lens = np.fromiter((len(c) for c in uniq), float, len(uniq))
    if scorer is fuzz.partial_ratio:
        s = s * (0.6 + 0.4 * np.minimum(1.0, lens / max(len(q), 1)))
    else:
        s = np.minimum(s, 99.0)
    s = np.where(lens == 0, 0.0, s)
    same = np.asarray(uniq, dtype=object) == q
    return s[codes], same[codes]


def _text_hits(q: str, index: SearchIndex) -> pd.DataFrame:
    if len(q) < 2 or not index.names:
        return _hits(np.array([], int), index, [], "")
    kinds = index.records["kind"].to_numpy()
    by_name, same = _fuzzy(q, index.name_uniq, index.name_codes)
    exact_name = same & np.isin(kinds, ["project", "enterprise"])
    by_name = np.where(exact_name, 100.0, np.minimum(by_name, 99.0) * np.where(kinds == "case", 0.9, 1.0))
    by_addr, same = _fuzzy(q, index.addr_uniq, index.addr_codes)
    exact_addr = same | ((by_addr >= 99.0) if len(q) > LONG_QUERY else False)
    by_addr = np.where(exact_addr, 99.0, by_addr * 0.92)  # a fragment of an address ranks below the place itself
    score = np.maximum(by_name, by_addr)
    sel = _best(score)
    matched = [(_NAME_FIELD[kinds[i]] if by_name[i] >= by_addr[i] else "地址") for i in sel]
    return _hits(sel, index, score[sel], matched)


def _mentioned_townships(q: str) -> set[str]:
    return {code for name, code in alias_table().items() if len(name) >= 2 and not name.isdigit() and name in q}


def _place_hits(q: str, index: SearchIndex) -> pd.DataFrame:
    p = index.places
    cols = ["kind", "key", "title", "subtitle", "address", "lon", "lat", "township_code", "score", "matched"]
    if p.empty or len(q) < 2:
        return pd.DataFrame(columns=cols)
    towns = _mentioned_townships(q)
    rest = q
    for code in towns:  # "米村镇朝阳沟" -> look for "朝阳沟" among the villages
        for n in sorted((a for a, c in alias_table().items() if c == code and not a.isdigit()), key=len, reverse=True):
            rest = rest.replace(n, "")
    rest = rest.strip() or q
    scores = []
    for names in p["names"]:  # gazetteer: hundreds of villages per city, a plain loop is fine
        best = 0.0
        for n in names:
            if len(n) < 2:
                continue
            if n in (q, rest):
                best = 99.0
            elif n in rest:
                best = max(best, 90.0 + 6.0 * min(1.0, len(n) / len(rest)))
            elif rest in n:
                best = max(best, 85.0 + 12.0 * len(rest) / len(n))
            else:
                best = max(best, fuzz.ratio(rest, n) * 0.9)
        scores.append(best)
    score = np.asarray(scores)
    if towns:  # "超化镇黄固寺村": the township named in the query decides between same-named villages
        same = p["township_code"].isin(towns).to_numpy()
        score = np.where(same, score + 4.0, score - 15.0)
    score = np.where(score >= 99.0, 99.0, np.minimum(score, 97.0))  # only the exact name reaches 99
    out = pd.DataFrame({
        "kind": "place", "key": p["name"], "title": p["name"],
        "subtitle": p.get("kind", pd.Series("地名", index=p.index)).fillna("地名"),
        "address": p["name"], "lon": p["lon"].astype(float), "lat": p["lat"].astype(float),
        "township_code": p["township_code"], "score": score, "matched": "村/社区",
    })
    return out[out["score"] >= MIN_SCORE]


def _township_hits(q: str, index: SearchIndex) -> pd.DataFrame:
    rows = []
    for code in _mentioned_townships(q):
        t = BY_CODE.get(code)
        tw = index.townships
        hit = tw[tw["code"] == code] if tw is not None and len(tw) else pd.DataFrame()
        lon = float(hit["lon"].iloc[0]) if len(hit) and "lon" in hit and pd.notna(hit["lon"].iloc[0]) else t.lon
        lat = float(hit["lat"].iloc[0]) if len(hit) and "lat" in hit and pd.notna(hit["lat"].iloc[0]) else t.lat
        exact = q in {t.name, t.short, *t.aliases}
        rows.append({"kind": "township", "key": code, "title": t.name, "subtitle": t.kind, "address": t.name,
                     "lon": lon, "lat": lat, "township_code": code, "score": 95.0 if exact else 75.0, "matched": "乡镇"})
    return pd.DataFrame(rows, columns=["kind", "key", "title", "subtitle", "address", "lon", "lat", "township_code",
                                       "score", "matched"])


def _sites(hits: pd.DataFrame, index: SearchIndex) -> list[Site]:
    lon, lat = hits["lon"].to_numpy(float), hits["lat"].to_numpy(float)
    glon, glat = to_gcj02(lon, lat)
    codes = hits["township_code"].fillna("").astype(str).to_numpy(dtype=object)
    missing = codes == ""
    if missing.any():
        codes[missing] = township_of(lon[missing], lat[missing], index.townships)
    return [
        Site(kind=k, key=str(key), title=str(t), subtitle=str(st), address=str(a), lon=round(x, 6), lat=round(y, 6),
             gcj_lon=round(gx, 6), gcj_lat=round(gy, 6), township_code=str(c),
             township_name=BY_CODE[c].name if c in BY_CODE else "", score=round(float(s), 1), matched=str(m))
        for k, key, t, st, a, x, y, gx, gy, c, s, m in zip(
            hits["kind"], hits["key"], hits["title"], hits["subtitle"], hits["address"], lon, lat, glon, glat, codes,
            hits["score"], hits["matched"], strict=False)
    ]


def _coordinate_answer(query: str, typed: TypedPoint, index: SearchIndex) -> SearchResult:
    lon, lat = to_wgs84([typed.lon], [typed.lat], typed.crs)
    code = township_of(lon, lat, index.townships)[0]
    hits = pd.DataFrame({
        "kind": ["coordinate"], "key": [f"{lon[0]:.6f},{lat[0]:.6f}"], "title": [f"坐标 {lon[0]:.6f}, {lat[0]:.6f}"],
        "subtitle": [f"输入为{CRS_ZH[typed.crs]}" + ("，按“纬度 经度”顺序识别" if typed.swapped else "")],
        "address": [""], "lon": lon, "lat": lat, "township_code": [code], "score": [100.0], "matched": ["坐标"],
    })
    sites = _sites(hits, index)
    where = f"位于{sites[0].township_name}" if code else "不在新密市任何乡镇范围内，请核对坐标与坐标系"
    msg = f"坐标（{CRS_ZH[typed.crs]}）已换算为 WGS-84：{lon[0]:.6f}, {lat[0]:.6f}，{where}。"
    return SearchResult(query, "found", msg, sites, typed)


# ---- answered from the store (layers/search_sql.py: SQL on PostGIS, this index on GeoPackage) ---------------

def load_index(store, scope=None) -> SearchIndex:
    """Read what search needs from `store` for `scope` and build the in-memory index (layers.search_sql.load_index)."""
    from layers.search_sql import load_index as load  # noqa: PLC0415

    return load(store, scope)


def search_cli(store, query: str, radius_km: float = 1.0, scope=None, limit: int = 10) -> dict:
    """`wagemap search QUERY [--radius-km R] --json` (layers.search_sql.search_cli)."""
    from layers.search_sql import search_cli as cli  # noqa: PLC0415

    return cli(store, query, radius_km=radius_km, scope=scope, limit=limit)
