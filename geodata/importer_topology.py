"""Geometry checks for imported boundaries: repair invalid rings, find overlaps and gaps (EPSG:4547).

Thresholds:
- OVERLAP_MIN_KM2 / GAP_MIN_KM2 = 0.01 km² (1 ha): smaller slivers are digitising noise.
- A gap is a part of the city outline covered by no unit. Holes between units always count.
  A strip along the city border counts only if it is wider than BORDER_TOLERANCE_M (100 m),
  because the bundled outline is itself simplified with a 100 m tolerance (geodata/derive.py):
  narrower strips are the outline's own error, not the file's.
"""

from __future__ import annotations

import re

import numpy as np
import shapely
from shapely import STRtree

from geodata.importer_report import Gap, Overlap, Repair

OVERLAP_MIN_KM2 = 0.01
GAP_MIN_KM2 = 0.01
BORDER_TOLERANCE_M = 100.0

_PROBLEMS = (
    ("Ring Self-intersection", "环自相交"),
    ("Self-intersection", "边界自相交（如“蝴蝶结”形）"),
    ("Too few points", "环的点数过少"),
    ("Hole lies outside shell", "内环在外环之外"),
    ("Nested holes", "内环互相嵌套"),
    ("Nested shells", "外环互相嵌套"),
    ("Interior is disconnected", "内部不连通"),
    ("Invalid Coordinate", "坐标无效（NaN/无穷）"),
    ("Duplicate Rings", "重复的环"),
    ("Ring is not closed", "环未闭合"),
)


def polygonal(g: shapely.Geometry | None) -> shapely.MultiPolygon | None:
    """The polygonal parts of `g` as one MultiPolygon (None when there are none)."""
    if g is None or g.is_empty:
        return None
    polys = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    flat = [q for p in polys for q in shapely.get_parts(p) if not q.is_empty]
    return shapely.MultiPolygon(flat) if flat else None


def explain(reason: str) -> str:
    """shapely.is_valid_reason -> Chinese, keeping the location."""
    loc = re.search(r"\[([-\d.eE+]+)\s+([-\d.eE+]+)\]", reason)
    where = f"，位置 ({float(loc.group(1)):.5f}, {float(loc.group(2)):.5f})" if loc else ""
    for en, zh in _PROBLEMS:
        if reason.startswith(en):
            return zh + where
    return reason


def repair(geoms: np.ndarray, to_km2) -> tuple[np.ndarray, list[Repair]]:
    """Make every geometry valid (shapely.make_valid) and a MultiPolygon; report what was repaired.

    `geoms` are WGS-84 shapely geometries (2-D); `to_km2(array) -> areas` measures in EPSG:4547.
    Returns the repaired array (None where nothing polygonal is left) and the repairs.
    """
    geoms = np.asarray(geoms, dtype=object)
    invalid = ~shapely.is_valid(geoms)
    reasons = shapely.is_valid_reason(geoms[invalid]) if invalid.any() else []
    fixed = geoms.copy()
    if invalid.any():
        fixed[invalid] = shapely.make_valid(geoms[invalid])
    out = np.array([polygonal(g) for g in fixed], dtype=object)
    repairs = []
    idx = np.flatnonzero(invalid)
    if len(idx):
        areas = to_km2(out[idx])
        for k, i in enumerate(idx):
            parts = 0 if out[i] is None else len(out[i].geoms)
            repairs.append(Repair(int(i), explain(str(reasons[k])), round(float(areas[k]), 4), parts))
    return out, repairs


def overlaps(codes: list[str], geoms: np.ndarray, min_km2: float = OVERLAP_MIN_KM2) -> list[Overlap]:
    """Pairs of units (projected geometries, metres) that overlap by more than `min_km2`."""
    geoms = np.asarray(geoms, dtype=object)
    left, right = STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return []
    areas = shapely.area(shapely.intersection(geoms[left], geoms[right])) / 1e6
    found = [Overlap(codes[a], codes[b], round(float(s), 4)) for a, b, s in zip(left, right, areas, strict=False) if s > min_km2]
    return sorted(found, key=lambda o: -o.area_km2)


def gaps(
    codes: list[str], geoms: np.ndarray, outline: shapely.Geometry, to_wgs84, min_km2: float = GAP_MIN_KM2,
    border_m: float = BORDER_TOLERANCE_M,
) -> tuple[list[Gap], float, float]:
    """Gaps inside the outline (projected, metres); also (outline uncovered km², area outside outline km²).

    `to_wgs84(points) -> (lon, lat)` converts the gap points back for the report.
    """
    geoms = np.asarray(geoms, dtype=object)
    union = shapely.union_all(geoms)
    uncovered = shapely.difference(outline, union)
    outside = shapely.difference(union, outline)
    holes = [shapely.Polygon(r) for p in shapely.get_parts(union) for r in getattr(p, "interiors", [])]
    hole_area = shapely.union_all(holes) if holes else shapely.Polygon()
    parts = np.asarray(shapely.get_parts(uncovered), dtype=object)
    parts = parts[shapely.area(parts) / 1e6 > min_km2] if len(parts) else parts
    found = []
    if len(parts):
        inside_hole = shapely.area(shapely.intersection(parts, hole_area)) >= 0.5 * shapely.area(parts)
        wide = ~shapely.is_empty(shapely.buffer(parts, -border_m / 2))
        keep = inside_hole | wide
        parts, inside_hole = parts[keep], inside_hole[keep]
        if len(parts):
            pts = shapely.point_on_surface(parts)
            lon, lat = to_wgs84(pts)
            tree = STRtree(geoms)
            for k, part in enumerate(parts):
                near = tree.query(part, predicate="dwithin", distance=1.0)
                found.append(
                    Gap(
                        round(float(part.area / 1e6), 4), round(float(lon[k]), 6), round(float(lat[k]), 6),
                        tuple(sorted(codes[j] for j in near)), "hole" if inside_hole[k] else "border",
                    )
                )
    found.sort(key=lambda g: -g.area_km2)
    return found, round(float(uncovered.area / 1e6), 4), round(float(outside.area / 1e6), 4)
