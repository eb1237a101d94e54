"""Import official township boundaries (Shapefile/zip, GeoPackage, GeoJSON; any CRS) into the store.

    report = import_boundaries(store, "乡镇界.shp", crs=None, mapping={"七里岗": "410183400000"})
    print(report.to_text())

Steps: read -> to WGS-84 -> repair -> check alignment -> match -> merge -> check topology -> write.
Refusals raise BoundaryImportError (Chinese, one block, naming what to do); nothing is written
unless the whole import succeeds (store.replace_townships is one transaction).

Decisions:
- Several features matching one unit (enclaves, a unit split in pieces) are merged (unioned)
  into one MultiPolygon, with a warning naming them: official files often carry a 飞地 as its own
  record. A wrong match that steals another unit's name leaves that unit missing, which refuses.
- A unit the file lacks, with `allow_missing`, keeps its previous boundary minus the imported
  ones (and its 示意 flag if it had one).
- CGCS2000 (EPSG:4490) is taken as WGS-84 (they differ by centimetres).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geodata.boundaries import PROJECTED_CRS, city_outline
from geodata.gcj02 import bd_to_wgs, gcj_to_wgs, transform_geometries
from geodata.importer_match import match_features, resolve_target
from geodata.importer_report import BoundaryImportError, ImportReport, Match, unit_label
from geodata.importer_topology import gaps, overlaps, polygonal, repair
from geodata.townships import TOWNSHIPS

__all__ = ["BoundaryImportError", "ImportReport", "import_boundaries", "parse_mapping", "CRS_CHOICES"]

CRS_CHOICES = "wgs84、cgcs2000（EPSG:4490）、EPSG:4547、EPSG:3857、EPSG:3395、gcj02、bd09，或任一 EPSG:编号"
_NAMED_CRS = {
    "wgs84": "EPSG:4326", "wgs-84": "EPSG:4326", "4326": "EPSG:4326",
    "cgcs2000": "EPSG:4490", "4490": "EPSG:4490",
    "4547": "EPSG:4547", "3857": "EPSG:3857", "3395": "EPSG:3395", "webmercator": "EPSG:3857", "mercator": "EPSG:3395",
    "gcj02": "gcj02", "gcj-02": "gcj02", "bd09": "bd09", "bd-09": "bd09",
}
_READABLE = (".shp", ".zip", ".gpkg", ".geojson", ".json")
MIN_OVERLAP_WITH_CITY = 0.5  # share of the imported area that must lie inside the city outline
_SHIFT_HINT_GAIN = 0.01  # IoU gain with the outline that makes us suspect undeclared GCJ-02
_GUESS_MIN = 40.0  # fuzzy score below which a guess is not worth showing


def import_boundaries(store, path, crs: str | None = None, mapping: dict[str, str] | None = None,
                      allow_missing: bool = False, layer: str | None = None) -> ImportReport:
    """Import the boundary file at `path` into `store`; return the report or raise BoundaryImportError."""
    path = Path(path)
    target = _parse_crs(crs)
    mapping = _check_mapping(mapping or {})
    report = ImportReport(source=str(path))
    gdf = _read(path, layer, report)
    geoms = _to_wgs84(gdf, target, path, report)
    attrs = gdf.drop(columns=gdf.geometry.name)
    geoms = _drop_unusable(geoms, report)
    geoms, report.repaired = repair(geoms, _km2)
    _check_alignment(geoms, target, report)
    matched = match_features(attrs, mapping)
    report.matched, report.warnings = matched.matches, report.warnings + matched.warnings
    report.matched = [m for m in report.matched if geoms[m.feature] is not None]
    units = _merge(report.matched, geoms, report)
    report.missing = [t.code for t in TOWNSHIPS if t.code not in units]
    _check_topology(units, report)
    _refuse_unmatched(matched, geoms, report, allow_missing)
    _write(store, units, path, report)
    return report


# ---- arguments ---------------------------------------------------------------------------------
def _parse_crs(text: str | None) -> CRS | str | None:
    """--crs value -> pyproj CRS, or "gcj02"/"bd09", or None."""
    if text is None or not str(text).strip():
        return None
    key = str(text).strip().lower().replace("epsg:", "").replace(" ", "")
    named = _NAMED_CRS.get(key)
    if named in ("gcj02", "bd09"):
        return named
    try:
        return CRS.from_user_input(named or str(text).strip())
    except CRSError:
        raise BoundaryImportError(f"--crs “{text}” 无法识别。可用：{CRS_CHOICES}。") from None


def parse_mapping(entries: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """`--map` entries "NAME_OR_CODE=CODE" -> dict; a malformed entry refuses with the form to use."""
    mapping: dict[str, str] = {}
    for entry in entries or ():
        key, sep, value = str(entry).partition("=")
        if not sep or not key.strip() or not value.strip():
            raise BoundaryImportError(f"--map “{entry}” 格式不对，应为 名称或代码=单位代码，例如 --map 七里岗镇=410183400000")
        mapping[key.strip()] = value.strip()
    return _check_mapping(mapping)


def _check_mapping(mapping: dict[str, str]) -> dict[str, str]:
    """Every --map target must be a current unit (12/9-digit code or name)."""
    bad = [f"{k}={v}" for k, v in mapping.items() if resolve_target(v) is None]
    if bad:
        raise BoundaryImportError(
            "--map 的右边须是现行单位的 12 位或 9 位代码：" + "、".join(bad) + " 无法识别。\n可用的单位："
            + "、".join(unit_label(t.code) for t in TOWNSHIPS)
        )
    return {str(k).strip(): str(v).strip() for k, v in mapping.items()}


# ---- read --------------------------------------------------------------------------------------
def _read(path: Path, layer: str | None, report: ImportReport) -> gpd.GeoDataFrame:
    """Read the file (a zip holding one dataset is opened inside) with pyogrio."""
    if not path.exists():
        raise BoundaryImportError(f"边界文件不存在：{path}")
    suffix = path.suffix.lower()
    if suffix not in _READABLE:
        raise BoundaryImportError(
            f"不支持的文件类型 “{path.suffix}”：{path}。"
            "可用：Shapefile（.shp 及 .prj/.dbf，或打包为 .zip）、GeoPackage（.gpkg）、GeoJSON（.geojson/.json）。"
        )
    source = str(path)
    if suffix == ".zip":
        source = _zip_member(path)
    layer = layer or _polygon_layer(source, path)
    try:
        gdf = pyogrio.read_dataframe(source, layer=layer)
        if source.lower().endswith(".shp") and _looks_misdecoded(gdf):
            gdf = pyogrio.read_dataframe(source, layer=layer, encoding="gb18030")
            report.warnings.append("Shapefile 未声明字符编码（无 .cpg），已按 GB18030（GBK）读取属性表")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as e:
        raise BoundaryImportError(f"无法读取边界文件 {path}：{e}") from None
    report.features = len(gdf)
    if not len(gdf):
        raise BoundaryImportError(f"边界文件 {path} 没有任何要素。")
    return gdf.reset_index(drop=True)


def _zip_member(path: Path) -> str:
    """The /vsizip/ path of the one dataset inside a zip."""
    try:
        names = zipfile.ZipFile(path).namelist()
    except zipfile.BadZipFile:
        raise BoundaryImportError(f"{path} 不是有效的 zip 文件。") from None
    found = [n for n in names if n.lower().endswith((".shp", ".gpkg", ".geojson", ".json")) and not n.startswith("__MACOSX")]
    if len(found) != 1:
        listed = "、".join(found) if found else "无"
        raise BoundaryImportError(f"zip 文件 {path} 中须恰好有一个 .shp/.gpkg/.geojson 数据集，实际：{listed}。")
    return f"/vsizip/{path.resolve()}/{found[0]}"


def _polygon_layer(source: str, path: Path) -> str | None:
    """The single polygon layer of a multi-layer source (GeoPackage); None for single-layer files."""
    try:
        layers = pyogrio.list_layers(source)
    except (pyogrio.errors.DataSourceError, OSError) as e:
        raise BoundaryImportError(f"无法读取边界文件 {path}：{e}") from None
    if len(layers) <= 1:
        return None
    polys = [str(n) for n, g in layers if g and "polygon" in str(g).lower()]
    if len(polys) == 1:
        return polys[0]
    listed = "、".join(f"{n}（{g}）" for n, g in layers)
    raise BoundaryImportError(f"{path} 有多个图层，无法确定边界图层：{listed}。请只保留一个面图层。")


def _looks_misdecoded(gdf: gpd.GeoDataFrame) -> bool:
    """Text with Latin-1 letters and no CJK: a GBK .dbf read as Latin-1."""
    text = "".join(str(v) for c in gdf.columns if gdf[c].dtype == object or str(gdf[c].dtype) in ("str", "string")
                   for v in gdf[c].dropna() if isinstance(v, str))
    return any("\u0080" <= ch <= "\u00ff" for ch in text) and not any("\u4e00" <= ch <= "\u9fff" for ch in text)


# ---- coordinates -------------------------------------------------------------------------------
def _to_wgs84(gdf: gpd.GeoDataFrame, target: CRS | str | None, path: Path, report: ImportReport) -> np.ndarray:
    """Geometries as 2-D WGS-84 shapely objects; --crs overrides the file's CRS."""
    geoms = gdf.geometry
    if target is None and geoms.crs is None:
        prj = " 缺少 .prj 文件，" if path.suffix.lower() == ".shp" and not path.with_suffix(".prj").exists() else ""
        raise BoundaryImportError(
            f"边界文件 {path} 没有坐标系信息，{prj}请用 --crs 指定。可用：{CRS_CHOICES}。\n"
            f"文件坐标范围：{_bounds_text(geoms.total_bounds)}{_guess_crs(geoms.total_bounds)}"
        )
    arr = shapely.force_2d(geoms.to_numpy())
    if target in ("gcj02", "bd09"):
        report.crs = "GCJ-02 经纬度（--crs gcj02）" if target == "gcj02" else "BD-09 经纬度（--crs bd09）"
        return transform_geometries(arr, gcj_to_wgs if target == "gcj02" else bd_to_wgs)
    crs = target if target is not None else geoms.crs
    report.crs = _crs_name(crs) + ("（--crs 指定）" if target is not None else "（文件自带）")
    if crs.to_epsg() in (4326, 4490) or (crs.is_geographic and crs.to_epsg() is None and "2000" in crs.name):
        return arr  # CGCS2000 geographic == WGS-84 at dashboard accuracy
    try:
        return gpd.GeoSeries(arr, crs=crs).to_crs(4326).to_numpy()
    except Exception as e:  # pyproj cannot build a transformation
        raise BoundaryImportError(f"无法把坐标系 {_crs_name(crs)} 转换为 WGS-84：{e}。可用 --crs 指定：{CRS_CHOICES}。") from None


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} {crs.name}" if epsg else crs.name


def _bounds_text(b) -> str:
    return f"x {b[0]:.6g} ~ {b[2]:.6g}，y {b[1]:.6g} ~ {b[3]:.6g}" if np.all(np.isfinite(b)) else "空"


def _guess_crs(b) -> str:
    """A hint from the coordinate range (新密市 is near 113.4E 34.5N)."""
    x, y = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    if 100 < x < 130 and 20 < y < 50:
        return "（像经纬度：wgs84/cgcs2000，来自高德/腾讯地图则为 gcj02，百度为 bd09）"
    if 3e5 < x < 7e5 and 3.6e6 < y < 4e6:
        return "（像 EPSG:4547，CGCS2000 3 度带 114E）"
    if 1.2e7 < x < 1.3e7 and 4.05e6 < y < 4.15e6:
        return "（像 Web 墨卡托 EPSG:3857）"
    if 1.2e7 < x < 1.3e7 and 4.0e6 < y < 4.05e6:
        return "（像 World 墨卡托 EPSG:3395）"
    return ""


def _km2(geoms: np.ndarray) -> np.ndarray:
    """Areas (km², EPSG:4547) of WGS-84 geometries; None counts 0."""
    return gpd.GeoSeries(list(geoms), crs=4326).to_crs(PROJECTED_CRS).area.fillna(0).to_numpy() / 1e6


def _to_lonlat(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = gpd.GeoSeries(list(points), crs=PROJECTED_CRS).to_crs(4326)
    return pts.x.to_numpy(), pts.y.to_numpy()


# ---- checks ------------------------------------------------------------------------------------
def _drop_unusable(geoms: np.ndarray, report: ImportReport) -> np.ndarray:
    """Features without polygonal geometry become None (warned); refuse when none is left."""
    geoms = np.asarray(geoms, dtype=object)
    bad = [i for i, g in enumerate(geoms) if g is None or g.is_empty or "Polygon" not in g.geom_type and not _has_polygon(g)]
    for i in bad:
        kind = "空几何" if geoms[i] is None or geoms[i].is_empty else geoms[i].geom_type
        report.warnings.append(f"要素 {i} 不是面（{kind}），已跳过")
        geoms[i] = None
    if len(bad) == len(geoms):
        raise BoundaryImportError(f"边界文件 {report.source} 不含任何面要素（全部为点、线或空几何），无法作为乡镇边界导入。")
    return geoms


def _has_polygon(g: shapely.Geometry) -> bool:
    return any("Polygon" in p.geom_type for p in shapely.get_parts(g))


def _check_alignment(geoms: np.ndarray, target, report: ImportReport) -> None:
    """Refuse a file that lies mostly outside the city (wrong CRS); hint at undeclared GCJ-02."""
    valid = [g for g in geoms if g is not None]
    union = gpd.GeoSeries([shapely.union_all(valid)], crs=4326).to_crs(PROJECTED_CRS).iloc[0]
    outline = gpd.GeoSeries([city_outline()], crs=4326).to_crs(PROJECTED_CRS).iloc[0]
    inside = union.intersection(outline).area / union.area if union.area > 0 else 0.0
    if inside < MIN_OVERLAP_WITH_CITY:
        b = shapely.total_bounds(np.array(valid, dtype=object))
        raise BoundaryImportError(
            f"导入的边界只有 {inside:.0%} 落在新密市范围内，坐标系很可能不对（按 {report.crs or '未知'} 读取）。\n"
            f"转换后的范围：{_bounds_text(b)}。请用 --crs 指定正确的坐标系。可用：{CRS_CHOICES}。"
        )
    if target is None and union.intersection(outline).area > 0.8 * outline.area:
        shifted = gpd.GeoSeries(transform_geometries(np.array([shapely.union_all(valid)], dtype=object), gcj_to_wgs), crs=4326)
        shifted = shifted.to_crs(PROJECTED_CRS).iloc[0]
        iou = union.intersection(outline).area / union.union(outline).area
        iou_shifted = shifted.intersection(outline).area / shifted.union(outline).area
        if iou_shifted > iou + _SHIFT_HINT_GAIN:
            report.warnings.append(
                f"按 GCJ-02 纠偏后与市界的吻合度更高（{iou:.1%} → {iou_shifted:.1%}）："
                "文件可能是高德/腾讯坐标，请考虑 --crs gcj02"
            )


def _check_topology(units: dict[str, shapely.MultiPolygon], report: ImportReport) -> None:
    """Areas, overlaps and gaps of the matched units, measured in EPSG:4547."""
    if not units:
        return
    codes = list(units)
    proj = gpd.GeoSeries(list(units.values()), crs=4326).to_crs(PROJECTED_CRS).to_numpy()
    report.areas = {c: round(float(a), 4) for c, a in zip(codes, shapely.area(proj) / 1e6, strict=False)}
    report.overlaps = overlaps(codes, proj)
    outline = gpd.GeoSeries([city_outline()], crs=4326).to_crs(PROJECTED_CRS).iloc[0]
    report.gaps, report.uncovered_km2, report.outside_km2 = gaps(codes, proj, outline, _to_lonlat)


def _merge(matches: list[Match], geoms: np.ndarray, report: ImportReport) -> dict[str, shapely.MultiPolygon]:
    """One geometry per unit code; several features of one unit are unioned (warned)."""
    by_code: dict[str, list[int]] = {}
    for m in matches:
        by_code.setdefault(m.code, []).append(m.feature)
    units = {}
    for code in sorted(by_code):
        feats = by_code[code]
        if len(feats) == 1:
            units[code] = geoms[feats[0]]
            continue
        units[code] = polygonal(shapely.make_valid(shapely.union_all([geoms[i] for i in feats])))
        report.warnings.append(f"要素 {'、'.join(map(str, feats))} 都对应 {unit_label(code)}，已合并为一个（多）面")
    return units


def _refuse_unmatched(matched, geoms: np.ndarray, report: ImportReport, allow_missing: bool) -> None:
    """Refuse when a feature matches no unit, or a unit is missing without allow_missing."""
    unmatched = [u for u in matched.unmatched if geoms[u.feature] is not None]
    if not unmatched and (allow_missing or not report.missing):
        return
    lines = [f"边界文件 {report.source} 无法导入："]
    if unmatched:
        lines.append(f"- {len(unmatched)} 个要素无法对应到现行单位：")
        for u in unmatched:
            close = [(c, s) for c, s in u.guesses[:2] if s >= _GUESS_MIN]
            near = "；最接近：" + "、".join(f"{unit_label(c)} {s:.0f} 分" for c, s in close) if close else ""
            lines.append(f"    要素 {u.feature}：{u.label}{near}")
            lines.append(f"      → --map {u.key}={close[0][0] if close else '<12位单位代码>'}")
        lines.append("  请用 --map 名称或代码=单位代码 指定（可重复），单位代码见下。")
        lines.append("  可用的单位：" + "、".join(unit_label(t.code) for t in TOWNSHIPS))
    if report.missing:
        lines.append(f"- 文件缺少 {len(report.missing)} 个现行单位：" + "、".join(unit_label(c) for c in report.missing))
        if not allow_missing:
            lines.append("  如确认文件只含部分单位，加 --allow-missing（缺少的单位保留原边界）。")
    lines.append("未写入任何数据。")
    raise BoundaryImportError("\n".join(lines), report)


# ---- write -------------------------------------------------------------------------------------
def _write(store, units: dict[str, shapely.MultiPolygon], path: Path, report: ImportReport) -> None:
    """Replace the store's townships in one transaction; missing units keep their old boundary minus the new ones."""
    old = store.townships()
    rows = [{"code": c, "is_demo": False, "geometry": g} for c, g in units.items()]
    if report.missing:
        union = shapely.union_all(list(units.values()))
        for code in report.missing:
            prev = old.loc[old["code"] == code]
            if prev.empty or prev.geometry.iloc[0] is None:
                msg = f"{unit_label(code)} 在文件中缺少，且数据库中也没有它的原边界；无法只导入部分单位。"
                raise BoundaryImportError(msg, report)
            rest = polygonal(shapely.make_valid(shapely.difference(prev.geometry.iloc[0], union)))
            if rest is None:
                report.warnings.append(f"{unit_label(code)} 的原边界完全被导入的边界覆盖，保留原边界")
                rest = prev.geometry.iloc[0]
            rows.append({"code": code, "is_demo": bool(prev["is_demo"].iloc[0]), "geometry": rest})
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    gdf["name"] = [unit_label(c).split("（")[0] for c in gdf["code"]]
    store.replace_townships(gdf, source=f"导入：{path.name}（{report.crs}）")
    report.written = True
