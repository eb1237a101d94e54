"""Tests for geodata.gcj02: the vectorised transforms agree with the `prcoords` package."""

from __future__ import annotations

import numpy as np
import prcoords
import pytest
import shapely

from geodata.gcj02 import bd_to_wgs, gcj_to_wgs, in_china, transform_geometries, wgs_to_bd, wgs_to_gcj

EARTH_R = 6371000.0


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Small distances (equirectangular), metres."""
    dx = np.radians(np.asarray(lon2) - lon1) * np.cos(np.radians(lat1)) * EARTH_R
    dy = np.radians(np.asarray(lat2) - lat1) * EARTH_R
    return np.hypot(dx, dy)


@pytest.fixture(scope="module")
def points():
    """A spread over 新密市 and its surroundings, plus a few points across China."""
    rng = np.random.default_rng(7)
    lon = np.r_[rng.uniform(113.1, 113.8, 500), [87.6, 121.5, 126.6, 110.3]]
    lat = np.r_[rng.uniform(34.3, 34.75, 500), [43.8, 31.2, 45.8, 20.0]]
    return lon, lat


def test_forward_equals_prcoords(points):
    lon, lat = points
    glon, glat = wgs_to_gcj(lon, lat)
    ref = np.array([prcoords.wgs_gcj((b, a)) for a, b in zip(lon, lat, strict=True)])
    assert metres(ref[:, 1], ref[:, 0], glon, glat).max() < 1e-6
    assert 100 < metres(lon, lat, glon, glat).min()  # a real offset (hundreds of metres)


def test_inverse_within_half_a_metre_of_prcoords(points):
    lon, lat = points
    glon, glat = wgs_to_gcj(lon, lat)
    wlon, wlat = gcj_to_wgs(glon, glat)
    ref = np.array([prcoords.gcj_wgs_bored((b, a)) for a, b in zip(glon, glat, strict=True)])
    assert metres(ref[:, 1], ref[:, 0], wlon, wlat).max() < 0.5
    assert metres(lon, lat, wlon, wlat).max() < 1e-3  # exact round trip (sub-millimetre)


def test_bd09_round_trip_and_prcoords(points):
    lon, lat = points
    blon, blat = wgs_to_bd(lon, lat)
    ref = np.array([prcoords.wgs_bd((b, a)) for a, b in zip(lon, lat, strict=True)])
    assert metres(ref[:, 1], ref[:, 0], blon, blat).max() < 1e-6
    wlon, wlat = bd_to_wgs(blon, blat)
    assert metres(lon, lat, wlon, wlat).max() < 1e-3


def test_outside_china_unchanged_and_scalars():
    lon, lat = wgs_to_gcj(np.array([2.35, 113.4]), np.array([48.85, 34.5]))
    assert (lon[0], lat[0]) == (2.35, 48.85) and lon[1] != 113.4
    assert list(in_china([2.35, 113.4], [48.85, 34.5])) == [False, True]
    x, y = gcj_to_wgs(113.4, 34.5)
    assert np.ndim(x) == 0 and abs(float(x) - 113.4) < 0.01


def test_transform_geometries_moves_every_vertex():
    poly = shapely.Polygon([(113.3, 34.5), (113.4, 34.5), (113.4, 34.6), (113.3, 34.5)])
    out = transform_geometries(np.array([poly, None], dtype=object), wgs_to_gcj)
    assert out[1] is None
    xy = shapely.get_coordinates(out[0])
    glon, glat = wgs_to_gcj(*shapely.get_coordinates(poly).T)
    assert np.allclose(xy[:, 0], glon) and np.allclose(xy[:, 1], glat)
    back = transform_geometries(out, gcj_to_wgs)[0]
    assert shapely.equals_exact(back, poly, tolerance=1e-9)
