"""Input coordinates to WGS-84: a file's declared CRS (wgs84 | gcj02 | bd09 | EPSG:n), whole columns at once.

GCJ-02 (AMap/Tencent picks) and BD-09 (Baidu) use the vectorised numpy transforms of
geodata.gcj02, re-exported here (forward exact, inverse iterated to < 1e-9 degree; tested
against `prcoords` in tests/etl/test_coords.py); projected or other EPSG systems go through
pyproj. CGCS2000 (EPSG:4490) is treated as WGS-84, as DESIGN §3 allows at dashboard accuracy.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from etl.errors import BadOption
from geodata import gcj02
from geodata.gcj02 import bd_to_gcj, bd_to_wgs, gcj_to_bd, gcj_to_wgs, wgs_to_bd, wgs_to_gcj

__all__ = [
    "parse_crs",
    "to_wgs84",
    "from_wgs84",
    "haversine_m",
    "wgs_to_gcj",
    "gcj_to_wgs",
    "gcj_to_bd",
    "bd_to_gcj",
    "bd_to_wgs",
    "wgs_to_bd",
]

WGS84, GCJ02, BD09 = "wgs84", "gcj02", "bd09"
_ALIASES = {
    WGS84: ("wgs84", "wgs-84", "wgs_84", "gps", "epsg:4326", "4326", "cgcs2000", "epsg:4490", "4490", "天地图", "wgs"),
    GCJ02: ("gcj02", "gcj-02", "gcj", "amap", "gaode", "高德", "tencent", "腾讯", "火星坐标"),
    BD09: ("bd09", "bd-09", "bd09ll", "baidu", "百度"),
}
CRS_HELP = "wgs84、gcj02、bd09 或 EPSG:编号（如 EPSG:4547）"


def parse_crs(text: str | None) -> str:
    """Canonical CRS name: 'wgs84' | 'gcj02' | 'bd09' | 'EPSG:n' (None -> 'wgs84'); BadOption when unknown."""
    if text is None or str(text).strip() == "":
        return WGS84
    key = str(text).strip().lower()
    for name, aliases in _ALIASES.items():
        if key in aliases:
            return name
    m = re.fullmatch(r"(?:epsg:)?(\d{4,6})", key)
    if m:
        code = f"EPSG:{m.group(1)}"
        try:
            CRS.from_user_input(code)
        except CRSError as e:
            raise BadOption(f"unknown EPSG code {code}", f'--crs "{text}" 不是有效的 EPSG 编号；可用：{CRS_HELP}') from e
        return code
    raise BadOption(f"unknown crs {text!r}", f'--crs "{text}" 无法识别；可用：{CRS_HELP}')


@lru_cache(maxsize=16)
def _transformer(code: str, inverse: bool = False) -> Transformer:
    if inverse:
        return Transformer.from_crs("EPSG:4326", code, always_xy=True)
    return Transformer.from_crs(code, "EPSG:4326", always_xy=True)


def to_wgs84(x, y, crs: str = WGS84) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) columns in `crs` -> (lon, lat) WGS-84 arrays; NaN stays NaN."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    crs = parse_crs(crs)
    if crs == WGS84:
        return x.copy(), y.copy()
    lon, lat = np.full(x.shape, np.nan), np.full(y.shape, np.nan)
    ok = np.isfinite(x) & np.isfinite(y)  # the iterative inverses stop early only on finite input
    if crs == GCJ02:
        lon[ok], lat[ok] = gcj02.gcj_to_wgs(x[ok], y[ok])
    elif crs == BD09:
        lon[ok], lat[ok] = gcj02.bd_to_wgs(x[ok], y[ok])
    else:
        lon[ok], lat[ok] = _transformer(crs).transform(x[ok], y[ok])
    return lon, lat


def from_wgs84(lon, lat, crs: str = WGS84) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 -> `crs` (the inverse of `to_wgs84`; used to plant test and demo input)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    crs = parse_crs(crs)
    if crs == WGS84:
        return lon.copy(), lat.copy()
    if crs == GCJ02:
        return gcj02.wgs_to_gcj(lon, lat)
    if crs == BD09:
        return gcj02.wgs_to_bd(lon, lat)
    x, y = _transformer(crs, inverse=True).transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres (for tests and confidence checks)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(a))
