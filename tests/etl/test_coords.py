"""Input coordinates to WGS-84: GCJ-02 and BD-09 against the `prcoords` reference, projected EPSG via pyproj."""

import numpy as np
import prcoords
import pytest

from etl.coords import from_wgs84, haversine_m, parse_crs, to_wgs84
from etl.errors import BadOption


def _grid():
    """Points over 新密 (dense) and over China (sparse), WGS-84."""
    lon, lat = np.meshgrid(np.linspace(113.15, 113.70, 12), np.linspace(34.35, 34.65, 9))
    wide_lon, wide_lat = np.meshgrid(np.linspace(75, 134, 7), np.linspace(19, 52, 6))
    return np.r_[lon.ravel(), wide_lon.ravel()], np.r_[lat.ravel(), wide_lat.ravel()]


def test_gcj02_forward_matches_prcoords():
    lon, lat = _grid()
    glon, glat = from_wgs84(lon, lat, "gcj02")
    ref = np.array([prcoords.wgs_gcj((b, a), False) for a, b in zip(lon, lat, strict=False)])  # (lat, lon)
    assert haversine_m(glon, glat, ref[:, 1], ref[:, 0]).max() < 0.01


def test_gcj02_inverse_within_half_a_metre_of_prcoords():
    lon, lat = _grid()
    glon, glat = from_wgs84(lon, lat, "gcj02")
    wlon, wlat = to_wgs84(glon, glat, "gcj02")
    ref = np.array([prcoords.gcj_wgs_bored((b, a), False) for a, b in zip(glon, glat, strict=False)])
    assert haversine_m(wlon, wlat, ref[:, 1], ref[:, 0]).max() < 0.5
    assert haversine_m(wlon, wlat, lon, lat).max() < 0.01  # and it really inverts the forward transform


def test_bd09_both_ways_against_prcoords():
    lon, lat = _grid()
    blon, blat = from_wgs84(lon, lat, "bd09")
    ref_fwd = np.array([prcoords.wgs_bd((b, a), False) for a, b in zip(lon, lat, strict=False)])
    assert haversine_m(blon, blat, ref_fwd[:, 1], ref_fwd[:, 0]).max() < 0.5
    wlon, wlat = to_wgs84(blon, blat, "bd09")
    ref = np.array([prcoords.bd_wgs_bored((b, a), False) for a, b in zip(blon, blat, strict=False)])
    assert haversine_m(wlon, wlat, ref[:, 1], ref[:, 0]).max() < 0.5
    assert haversine_m(wlon, wlat, lon, lat).max() < 0.01


def test_the_offsets_are_real_around_xinmi():
    """GCJ-02 is a few hundred metres off WGS-84 here, BD-09 about a kilometre: not converting would matter."""
    glon, glat = from_wgs84([113.38], [34.54], "gcj02")
    blon, blat = from_wgs84([113.38], [34.54], "bd09")
    assert 200 < haversine_m(113.38, 34.54, glon, glat)[0] < 800
    assert haversine_m(113.38, 34.54, blon, blat)[0] > 800


def test_projected_crs_through_pyproj():
    x, y = from_wgs84([113.38, 113.5], [34.54, 34.4], "EPSG:4547")
    assert 400_000 < x[0] < 500_000 and 3_800_000 < y[0] < 3_900_000  # CGCS2000 GK CM 114E, metres
    lon, lat = to_wgs84(x, y, "4547")
    assert np.allclose(lon, [113.38, 113.5]) and np.allclose(lat, [34.54, 34.4])


def test_missing_values_pass_through():
    lon, lat = to_wgs84([np.nan, 113.4], [34.5, np.nan], "gcj02")
    assert np.isnan(lon).all() and np.isnan(lat).all()


@pytest.mark.parametrize(
    "given,expected",
    [
        (None, "wgs84"),
        ("WGS84", "wgs84"),
        ("GPS", "wgs84"),
        ("cgcs2000", "wgs84"),
        ("GCJ-02", "gcj02"),
        ("高德", "gcj02"),
        ("amap", "gcj02"),
        ("BD09", "bd09"),
        ("百度", "bd09"),
        ("EPSG:4547", "EPSG:4547"),
        ("3857", "EPSG:3857"),
    ],
)
def test_parse_crs(given, expected):
    assert parse_crs(given) == expected


@pytest.mark.parametrize("given", ["mars", "EPSG:999999"])
def test_parse_crs_rejects_unknown(given):
    with pytest.raises(BadOption) as e:
        parse_crs(given)
    assert "--crs" in e.value.user_msg and "wgs84" in e.value.user_msg


def test_bd09_gcj02_pair_against_prcoords():
    from etl.coords import bd_to_gcj, gcj_to_bd

    lon, lat = _grid()
    blon, blat = gcj_to_bd(lon, lat)
    ref = np.array([prcoords.gcj_bd((b, a)) for a, b in zip(lon, lat, strict=True)])
    assert haversine_m(blon, blat, ref[:, 1], ref[:, 0]).max() < 0.01
    glon, glat = bd_to_gcj(blon, blat)
    ref = np.array([prcoords.bd_gcj_bored((b, a)) for a, b in zip(blon, blat, strict=True)])
    assert haversine_m(glon, glat, ref[:, 1], ref[:, 0]).max() < 0.5
