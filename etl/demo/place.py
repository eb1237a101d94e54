"""Where demo things are: points inside the demonstration township boundaries, clusters, villages.

Every point is drawn inside its township's demonstration boundary shrunk by 150 m, so a
point declared in a township is geometrically in it even after a GCJ-02/BD-09 round trip.
The village list (`villages()`) is fixed (independent of the seed): the project's bundled demo
gazetteer, also written out as the 民政 village list so the gazetteer importer can load it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.boundaries import PROJECTED_CRS, city_outline, demo_boundaries
from geodata.townships import TOWNSHIPS

KM_LON = 1 / 91.8  # degrees of longitude per km at 34.5°N
KM_LAT = 1 / 111.0
INSET_M = 150.0
VILLAGE_SEED = 20181414  # the village list does not change with --seed

# hot spots where arrears cluster: (township code, offset from its point in km east/north, sigma km, strength)
HOT_SPOTS = (
    ("410183402000", (0.5, -0.8), 1.5, 6.0),  # 曲梁产业集聚区: factories and their construction sites
    ("410183104000", (1.0, 0.6), 1.2, 4.0),  # 超化镇: a resettlement-housing cluster
    ("410183100000", (0.4, 0.5), 1.0, 3.0),  # 城关镇: the new district
    ("410183109000", (-0.6, 0.2), 1.0, 2.5),  # 岳村镇
)


@dataclass(frozen=True)
class Geo:
    """The demo map: township codes, shrunken polygons (WGS-84) and cluster centres."""

    codes: np.ndarray
    names: np.ndarray
    inner: np.ndarray  # shapely polygons, WGS-84, inset INSET_M
    points: np.ndarray  # n x 2 township points (lon, lat)
    bounds: np.ndarray  # n x 4


@lru_cache(maxsize=1)
def geo() -> Geo:
    """The demonstration boundaries, shrunk so that points stay clearly inside."""
    b = demo_boundaries().to_crs(PROJECTED_CRS)
    inner = gpd.GeoSeries(b.geometry.buffer(-INSET_M), crs=PROJECTED_CRS).to_crs(4326).to_numpy()
    shapely.prepare(inner)
    by_code = {t.code: t for t in TOWNSHIPS}
    pts = np.array([[by_code[c].lon, by_code[c].lat] for c in b["code"]])
    return Geo(b["code"].to_numpy(), b["name"].to_numpy(), inner, pts, shapely.bounds(inner))


def township_index(code: str) -> int:
    """Position of a 12-digit township code in `geo().codes`."""
    return int(np.flatnonzero(geo().codes == code)[0])


def sample_in(
    rng: np.random.Generator,
    t: int,
    n: int,
    centres: np.ndarray | None = None,
    sigma_km: float = 1.0,
    uniform_share: float = 0.35,
) -> np.ndarray:
    """`n` points (n x 2, lon/lat) inside township `t`: part uniform, part around `centres`."""
    g = geo()
    poly, (x0, y0, x1, y1) = g.inner[t], g.bounds[t]
    out = np.empty((0, 2))
    while len(out) < n:
        m = max(64, 2 * (n - len(out)))
        xy = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        if centres is not None and len(centres):
            near = rng.random(m) >= uniform_share
            c = centres[rng.integers(0, len(centres), m)]
            jitter = rng.normal(0, sigma_km, (m, 2)) * [KM_LON, KM_LAT]
            xy[near] = c[near] + jitter[near]
        ok = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
        out = np.vstack([out, xy[ok]])
    return out[:n]


def cluster_centres(rng: np.random.Generator, k: int = 3) -> list[np.ndarray]:
    """Per township, `k` centres where sites gather (towns, industrial areas), plus its hot spot."""
    g = geo()
    centres = []
    for t in range(len(g.codes)):
        c = sample_in(rng, t, k, uniform_share=1.0)
        c = np.vstack([g.points[t][None, :], c]) if shapely.contains_xy(g.inner[t], *g.points[t]) else c
        centres.append(c)
    return centres


def points_for(
    rng: np.random.Generator, township: np.ndarray, centres: list[np.ndarray], sigma_km: float = 1.0, uniform_share: float = 0.35
) -> np.ndarray:
    """A point for every row of `township` (indices into geo().codes), clustered per township."""
    out = np.empty((len(township), 2))
    for t in np.unique(township):
        m = township == t
        out[m] = sample_in(rng, int(t), int(m.sum()), centres[t], sigma_km, uniform_share)
    return out


def hot_factor(xy: np.ndarray) -> np.ndarray:
    """How much a location raises arrears propensity: 1 + sum of Gaussian hot spots."""
    g = geo()
    f = np.ones(len(xy))
    for code, (dx, dy), sigma, strength in HOT_SPOTS:
        cx, cy = g.points[township_index(code)] + np.array([dx * KM_LON, dy * KM_LAT])
        d2 = ((xy[:, 0] - cx) / KM_LON) ** 2 + ((xy[:, 1] - cy) / KM_LAT) ** 2
        f += strength * np.exp(-d2 / (2 * sigma**2))
    return f


def outside_points(rng: np.random.Generator, n: int) -> np.ndarray:
    """Points clearly outside the city (郑州 urban area, 登封, 荥阳 directions)."""
    base = np.array([[113.65, 34.76], [113.05, 34.46], [113.38, 34.79], [113.80, 34.40]])
    xy = base[rng.integers(0, len(base), n)] + rng.normal(0, 0.01, (n, 2))
    assert not shapely.contains_xy(city_outline(), xy[:, 0], xy[:, 1]).any()
    return xy


_V1 = list("东西南北前后上下大小新老")
_V2 = list("岗沟庄寨河坡洼营店楼湾岭窑堡")
_V_SKIP = {"下岗", "大堡", "小河"}  # awkward or too common as a fragment of other words


BUNDLED_GAZETTEER = Path(__file__).resolve().parents[2] / "geodata" / "data" / "gazetteer_demo.csv"


@lru_cache(maxsize=1)
def villages() -> pd.DataFrame:
    """The demo gazetteer: villages/communities per township with a point inside it.

    Columns code, name, township_code, township_name, kind, lon, lat. These are the entries of
    the project's bundled synthetic gazetteer (geodata/data/gazetteer_demo.csv, etl.gazetteer),
    so addresses naming them geocode with nothing imported; without that file, a list of the
    same nature is made here (generic names unique citywide: 东岗村, 西沟社区 ...).
    """
    names = dict(zip(geo().codes, geo().names, strict=True))
    if BUNDLED_GAZETTEER.exists():
        v = pd.read_csv(BUNDLED_GAZETTEER, dtype={"code": str, "township_code": str, "name": str, "kind": str})
        v = v[v["township_code"].isin(list(names)) & v["lon"].notna() & v["lat"].notna()]
        v = v.drop_duplicates("name", keep=False)  # only names that point at one place
        v = v.assign(township_name=v["township_code"].map(names))
        return v[["code", "name", "township_code", "township_name", "kind", "lon", "lat"]].reset_index(drop=True)
    return _made_villages()


def _made_villages() -> pd.DataFrame:
    rng = np.random.default_rng(VILLAGE_SEED)
    g = geo()
    combos = np.array([a + b for a in _V1 for b in _V2 if a + b not in _V_SKIP], dtype=object)
    combos = combos[rng.permutation(len(combos))]
    rows, used = [], 0
    kinds = {t.code: t.kind for t in TOWNSHIPS}
    for t, code in enumerate(g.codes):
        street = kinds[code] == "街道"  # 街道: communities; 镇/乡/管委会: villages
        n = int(rng.integers(6, 11))
        xy = sample_in(rng, t, n, uniform_share=1.0)
        for i in range(n):
            kind = "社区" if street or i == 0 else "村"
            rows.append(
                {
                    "code": code[:9] + (f"{i + 1:03d}" if kind == "社区" else f"{200 + i:03d}"),
                    "name": combos[used] + kind,
                    "township_code": code,
                    "township_name": g.names[t],
                    "kind": kind,
                    "lon": round(float(xy[i, 0]), 6),
                    "lat": round(float(xy[i, 1]), 6),
                }
            )
            used += 1
    return pd.DataFrame(rows)


def nearest_village(township: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Index into villages() of the nearest village of the same township, per row."""
    v = villages()
    vcode = v["township_code"].to_numpy()
    vxy = v[["lon", "lat"]].to_numpy()
    out = np.zeros(len(township), dtype=int)
    for t in np.unique(township):
        m = township == t
        cand = np.flatnonzero(vcode == geo().codes[t])
        d = ((xy[m, None, 0] - vxy[None, cand, 0]) / KM_LON) ** 2 + ((xy[m, None, 1] - vxy[None, cand, 1]) / KM_LAT) ** 2
        out[m] = cand[np.argmin(d, axis=1)]
    return out
