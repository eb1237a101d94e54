"""Vectorised GCJ-02 (AMap/Tencent) and BD-09 (Baidu) <-> WGS-84 coordinate transforms.

GCJ-02 is the obfuscated lon/lat datum that Chinese web maps use: WGS-84 plus a smooth,
published offset (a few hundred metres around 新密市). The forward transform is exact; the
inverse is a fixed-point iteration (the offset varies by < 1e-4 per metre, so each step gains
about four orders of magnitude) that converges to < 1e-9 degree (< 0.1 mm) in a few steps.
Formulas as in the public-domain PRCoords (CC0); tested against the `prcoords` package.

All functions take and return numpy arrays (or scalars) of longitudes and latitudes in
degrees, so whole columns convert at once. Points outside China's rough box are returned
unchanged, as every GCJ-02 implementation does.

    lon, lat = gcj_to_wgs(df["lon"].to_numpy(), df["lat"].to_numpy())
    geoms = transform_geometries(gdf.geometry.to_numpy(), gcj_to_wgs)   # whole shapely arrays
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely

GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 formulas use it
GCJ_EE = 0.00669342162296594323  # Krasovsky first eccentricity squared
BD_DLON, BD_DLAT = 0.0065, 0.0060  # BD-09's extra fixed shift
_ITER_TOL_DEG = 1e-10
_MAX_ITER = 30

ArrayLike = np.ndarray | float


def in_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """True where the point is inside the rough box within which GCJ-02 is applied."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS-84 (lon, lat)."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    common_x = 2 * np.sin(6 * pi * x) + 2 * np.sin(2 * pi * x)
    dlat_m = (
        -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + (common_x + 2 * np.sin(pi * y) + 4 * np.sin(pi * y / 3) + 16 * np.sin(pi * y / 12) + 32 * np.sin(pi * y / 30))
        * 20 / 3
    )
    dlon_m = (
        300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + (common_x + 2 * np.sin(pi * x) + 4 * np.sin(pi * x / 3) + 15 * np.sin(pi * x / 12) + 30 * np.sin(pi * x / 30))
        * 20 / 3
    )
    rad_lat = np.radians(lat)
    magic = 1 - GCJ_EE * np.sin(rad_lat) ** 2
    lat_deg_len = np.radians(GCJ_A * (1 - GCJ_EE) / magic**1.5)  # metres per degree of latitude
    lon_deg_len = np.radians(GCJ_A * np.cos(rad_lat) / np.sqrt(magic))  # metres per degree of longitude
    return dlon_m / lon_deg_len, dlat_m / lat_deg_len


def wgs_to_gcj(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 -> GCJ-02 (exact, by definition)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _offset(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj_to_wgs(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> WGS-84 by fixed-point iteration; error < 1e-9 degree."""
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(_MAX_ITER):
        flon, flat = wgs_to_gcj(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < _ITER_TOL_DEG) and np.all(np.abs(elat) < _ITER_TOL_DEG):
            break
    return wlon, wlat


def gcj_to_bd(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> BD-09 (exact, by definition)."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    r = np.hypot(x, y) + 0.00002 * np.sin(np.radians(y) * 3000)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(np.radians(x) * 3000)
    return r * np.cos(theta) + BD_DLON, r * np.sin(theta) + BD_DLAT


def bd_to_gcj(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> GCJ-02 by fixed-point iteration on the exact forward transform."""
    blon, blat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    x, y = blon - BD_DLON, blat - BD_DLAT
    r = np.hypot(x, y) - 0.00002 * np.sin(np.radians(y) * 3000)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(np.radians(x) * 3000)
    glon, glat = r * np.cos(theta), r * np.sin(theta)
    for _ in range(_MAX_ITER):
        flon, flat = gcj_to_bd(glon, glat)
        elon, elat = flon - blon, flat - blat
        glon, glat = glon - elon, glat - elat
        if np.all(np.abs(elon) < _ITER_TOL_DEG) and np.all(np.abs(elat) < _ITER_TOL_DEG):
            break
    return glon, glat


def bd_to_wgs(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> WGS-84."""
    return gcj_to_wgs(*bd_to_gcj(lon, lat))


def wgs_to_bd(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 -> BD-09."""
    return gcj_to_bd(*wgs_to_gcj(lon, lat))


def transform_geometries(geoms: np.ndarray, func: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]):
    """Apply a lon/lat transform (e.g. `gcj_to_wgs`) to every vertex of an array of shapely geometries at once."""

    def _xy(coords: np.ndarray) -> np.ndarray:
        lon, lat = func(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), _xy)
