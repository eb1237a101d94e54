"""What a boundary import found: matches, repairs, gaps, overlaps, missing units, and its Chinese summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from geodata.townships import BY_CODE

METHOD_LABELS = {"map": "--map 指定", "code": "代码", "name": "名称", "alias": "别名/旧名", "fuzzy": "模糊名称"}


class BoundaryImportError(Exception):
    """The import was refused; the message (Chinese, one block) says why and what to do.

    `report` holds what was found up to the refusal (may be None when the file could not be read).
    Nothing was written to the store.
    """

    def __init__(self, message: str, report: ImportReport | None = None):
        super().__init__(message)
        self.user_msg = message
        self.report = report


class Match(NamedTuple):
    """One feature of the file matched to a current unit."""

    feature: int  # 0-based feature index in the file (the FID of most GIS software)
    code: str  # 12-digit unit code
    method: str  # code | name | alias | fuzzy | map
    score: float  # 100 for exact methods; the rapidfuzz ratio for fuzzy
    value: str = ""  # what was matched ("名称=超化真")


class Repair(NamedTuple):
    """One invalid geometry made valid."""

    feature: int
    problem: str  # Chinese, from shapely.is_valid_reason
    area_km2: float  # area after the repair (EPSG:4547)
    parts: int  # polygons after the repair


class Overlap(NamedTuple):
    """Two units whose imported boundaries overlap by more than the threshold."""

    code_a: str
    code_b: str
    area_km2: float


class Gap(NamedTuple):
    """A part of the city outline covered by no unit (a hole between units or a wide border strip)."""

    area_km2: float
    lon: float  # a point inside the gap, WGS-84
    lat: float
    neighbours: tuple[str, ...]  # codes of the units that touch it
    kind: str  # hole | border


def unit_label(code: str) -> str:
    t = BY_CODE.get(code)
    return f"{t.name}（{code}）" if t else code


@dataclass
class ImportReport:
    """The result of `geodata.importer.import_boundaries` (also attached to a refusal)."""

    source: str
    crs: str = ""  # the CRS the coordinates were read in, as understood
    features: int = 0
    matched: list[Match] = field(default_factory=list)
    repaired: list[Repair] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # 12-digit codes of current units the file lacks
    warnings: list[str] = field(default_factory=list)
    areas: dict[str, float] = field(default_factory=dict)  # code -> km² (EPSG:4547), imported units
    uncovered_km2: float = 0.0  # city outline covered by no unit
    outside_km2: float = 0.0  # imported area outside the city outline
    written: bool = False

    def to_dict(self) -> dict:
        """Plain data for a JSON report."""
        return {
            "source": self.source,
            "crs": self.crs,
            "features": self.features,
            "matched": [m._asdict() for m in self.matched],
            "repaired": [r._asdict() for r in self.repaired],
            "gaps": [g._asdict() for g in self.gaps],
            "overlaps": [o._asdict() for o in self.overlaps],
            "missing": list(self.missing),
            "warnings": list(self.warnings),
            "areas": dict(self.areas),
            "uncovered_km2": self.uncovered_km2,
            "outside_km2": self.outside_km2,
            "written": self.written,
        }

    def to_text(self) -> str:
        """A Chinese summary for the command line."""
        lines = [f"边界文件：{self.source}", f"坐标系：{self.crs or '未知'}；要素 {self.features} 个（序号从 0 起，同 FID）"]
        n_units = len({m.code for m in self.matched})
        lines.append(f"已匹配 {n_units}/{len(BY_CODE)} 个单位：")
        for m in sorted(self.matched, key=lambda m: (m.code, m.feature)):
            how = METHOD_LABELS.get(m.method, m.method)
            score = f"，得分 {m.score:.0f}" if m.method == "fuzzy" else ""
            value = f"，{m.value}" if m.value else ""
            area = self.areas.get(m.code)
            area_txt = f"，{area:.2f} km²" if area is not None else ""
            lines.append(f"  要素 {m.feature} → {unit_label(m.code)}（{how}{score}{value}{area_txt}）")
        if self.repaired:
            lines.append(f"已修复 {len(self.repaired)} 个无效几何：")
            lines += [f"  要素 {r.feature}：{r.problem} → 修复为 {r.parts} 个面，{r.area_km2:.2f} km²" for r in self.repaired]
        else:
            lines.append("无效几何：无")
        if self.overlaps:
            lines.append(f"单位之间的重叠（> 0.01 km²）{len(self.overlaps)} 处：")
            lines += [f"  {unit_label(o.code_a)} 与 {unit_label(o.code_b)}：{o.area_km2:.3f} km²" for o in self.overlaps]
        else:
            lines.append("单位之间的重叠（> 0.01 km²）：无")
        if self.gaps:
            lines.append(f"市界内的缝隙（> 0.01 km²）{len(self.gaps)} 处：")
            for g in self.gaps:
                near = "、".join(unit_label(c) for c in g.neighbours) or "无相邻单位"
                where = "单位之间的空洞" if g.kind == "hole" else "市界边缘未覆盖"
                lines.append(f"  {g.area_km2:.3f} km²，{where}，约在 ({g.lon:.5f}, {g.lat:.5f})，相邻：{near}")
        else:
            lines.append("市界内的缝隙（> 0.01 km²）：无")
        lines.append(f"与简化市界相比：未覆盖 {self.uncovered_km2:.2f} km²，市界外 {self.outside_km2:.2f} km²")
        if self.missing:
            lines.append("文件缺少的现行单位：" + "、".join(unit_label(c) for c in self.missing))
        for w in self.warnings:
            lines.append(f"提示：{w}")
        if self.written:
            if self.missing:
                lines.append(
                    f"结果：已写入 {n_units} 个单位的导入边界（面积按 EPSG:4547 计算）；"
                    f"缺少的 {len(self.missing)} 个单位保留原边界（去掉与导入边界重叠的部分）。"
                )
            else:
                lines.append(f"结果：已写入 {n_units} 个单位的导入边界（面积按 EPSG:4547 计算），不再标注“示意边界”。")
        else:
            lines.append("结果：未写入任何数据。")
        return "\n".join(lines)
