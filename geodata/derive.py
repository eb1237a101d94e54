"""Developer tool: derive the bundled simplified city outline from the public reference file.

Run once by a developer (not at run time, not by tests):

    python -m geodata.derive ../shared/geodata-sources/xinmi_outline_wgs84.geojson

Source: tnnevol/gmap 410183.json (DataV GeoAtlas, AMap-derived, GCJ-02), converted to WGS-84
with the standard iterative inverse (see ../shared/geodata-sources/SOURCES.md). We keep only a
simplification (Douglas-Peucker, 100 m tolerance in EPSG:4547, ~220 vertices, coordinates
rounded to 1e-5 degree, about 1 m) — enough for a city-wide dashboard, small enough to ship.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
from shapely.geometry import mapping, shape

OUT = Path(__file__).with_name("data") / "xinmi_outline_simplified.geojson"


def derive(src: Path, tolerance_m: float = 100.0) -> dict:
    """Read the reference outline and return the simplified GeoJSON we ship."""
    ref = json.loads(Path(src).read_text(encoding="utf-8"))
    geom = shape(ref["features"][0]["geometry"])
    simp = gpd.GeoSeries([geom], crs=4326).to_crs(4547).simplify(tolerance_m).to_crs(4326)
    rounded = json.loads(json.dumps(mapping(simp.iloc[0])), parse_float=lambda v: round(float(v), 5))
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": "410183",
                    "name": "新密市",
                    "source": "tnnevol/gmap 410183.json (DataV, 2019), GCJ-02 -> WGS-84 inverse, "
                    f"simplified {tolerance_m:g} m in EPSG:4547",
                },
                "geometry": rounded,
            }
        ],
    }


if __name__ == "__main__":  # pragma: no cover - developer tool
    OUT.write_text(json.dumps(derive(Path(sys.argv[1])), ensure_ascii=False), encoding="utf-8")
    print(OUT)
