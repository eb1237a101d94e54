"""Township boundaries: the bundled outline and the demonstration boundaries built from it.

Official township boundaries are not public. Until they are imported (`geodata.importer`),
the project ships *demonstration* boundaries ("示意边界"): a Voronoi tessellation of the
approximate township points (geodata.townships) clipped to the simplified city outline.
They are valid, tile the outline exactly, and each contains its own point; they are NOT
the legal boundaries and every map labels them as such.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import shape

from geodata.townships import TOWNSHIPS

PROJECTED_CRS = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E: areas, buffers, distances
DEMO_LABEL = "示意边界"
_OUTLINE_FILE = Path(__file__).with_name("data") / "xinmi_outline_simplified.geojson"


@lru_cache(maxsize=1)
def city_outline() -> shapely.Geometry:
    """The simplified city outline (WGS-84), see geodata/derive.py for its source."""
    data = json.loads(_OUTLINE_FILE.read_text(encoding="utf-8"))
    return shapely.make_valid(shape(data["features"][0]["geometry"]))


def township_points() -> gpd.GeoDataFrame:
    """The approximate point of every unit, WGS-84."""
    return gpd.GeoDataFrame(
        {"code": [t.code for t in TOWNSHIPS], "name": [t.name for t in TOWNSHIPS], "kind": [t.kind for t in TOWNSHIPS]},
        geometry=gpd.points_from_xy([t.lon for t in TOWNSHIPS], [t.lat for t in TOWNSHIPS]),
        crs=4326,
    )


def demo_boundaries() -> gpd.GeoDataFrame:
    """Demonstration boundaries: Voronoi cells of the township points, clipped to the outline.

    Built in EPSG:4547 so the cells are fair in metres, returned in WGS-84 with columns
    code, name, kind, is_demo, area_km2, geometry.
    """
    pts = township_points().to_crs(PROJECTED_CRS)
    outline = gpd.GeoSeries([city_outline()], crs=4326).to_crs(PROJECTED_CRS).iloc[0]
    extent = shapely.box(*outline.buffer(10_000).bounds)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(list(pts.geometry)), extend_to=extent)
    cell_list = np.asarray(shapely.get_parts(cells))
    # voronoi_polygons does not keep input order: match each cell to the point inside it
    owner = [int(np.flatnonzero(shapely.contains(cell_list, p))[0]) for p in pts.geometry]
    clipped = shapely.intersection(cell_list[owner], outline)
    clipped = shapely.make_valid(clipped)
    out = gpd.GeoDataFrame(
        {"code": pts["code"], "name": pts["name"], "kind": pts["kind"], "is_demo": True},
        geometry=gpd.GeoSeries(clipped, crs=PROJECTED_CRS),
    )
    out["area_km2"] = out.geometry.area / 1e6
    out["geometry"] = out.geometry.apply(_as_multi)
    return out.to_crs(4326)


def _as_multi(g: shapely.Geometry) -> shapely.Geometry:
    """Keep polygonal parts only, as a MultiPolygon (one geometry type per column)."""
    polys = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    flat = [q for p in polys for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(flat)


def area_km2(gdf: gpd.GeoDataFrame) -> "np.ndarray":
    """Areas in km² computed in EPSG:4547."""
    return gdf.to_crs(PROJECTED_CRS).geometry.area.to_numpy() / 1e6
