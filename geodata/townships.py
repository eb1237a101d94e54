"""The 19 township-level units of 新密市: codes, names, kinds, aliases and approximate points.

Facts and where each came from (the files named are reference copies, never shipped):
- codes and current names: NBS 统计用区划代码 2023 (cut-off 2023-06-30), via
  modood/Administrative-divisions-of-China dist/streets.csv (WTFPL).
- old names / aliases: the same repository's streets.csv releases 2016-2023 ("…街道办事处"
  became "…街道" in 2019; 410183401 was 尖山风景区管理委员会 up to 2020), plus the 2018 policy
  (新密政办文〔2018〕14号), which calls 410183401 "尖山风景区管委"; 乡/镇 and "办事处" variants
  are added by rule in `aliases_for`.
- approximate points (WGS-84): derived in ../shared/geodata-sources/township_points_approx.csv
  from representative points of c.2000 township polygons, or placed by hand near the city
  centre. NONE is a surveyed government seat; `POINT_BASIS` says which are guesses.
"""

from __future__ import annotations

from dataclasses import dataclass

CITY_CODE = "410183000000"
CITY_NAME = "新密市"


@dataclass(frozen=True)
class Township:
    """One township-level unit (街道/镇/乡/管委会)."""

    code: str  # 12 digits
    name: str
    kind: str
    lon: float  # approximate point, WGS-84
    lat: float
    aliases: tuple[str, ...] = ()

    @property
    def code9(self) -> str:
        return self.code[:9]

    @property
    def short(self) -> str:
        """Name without the kind suffix (青屏街, 超化, 伏羲山风景区...)."""
        for suffix in ("管理委员会", "街道", "镇", "乡"):
            if self.name.endswith(suffix):
                return self.name[: -len(suffix)]
        return self.name


# code12, name, kind, lon, lat, explicit aliases (old names and the 2018 policy's names)
TOWNSHIPS: tuple[Township, ...] = (
    Township("410183001000", "青屏街街道", "街道", 113.3780, 34.5405, ("青屏街街道办事处", "青屏街办事处")),
    Township("410183002000", "新华路街道", "街道", 113.3960, 34.5345, ("新华路街道办事处", "新华路办事处")),
    Township("410183003000", "西大街街道", "街道", 113.3590, 34.5360, ("西大街街道办事处", "西大街办事处")),
    Township("410183100000", "城关镇", "镇", 113.352871, 34.512408),
    Township("410183101000", "米村镇", "镇", 113.271600, 34.558937),
    Township("410183102000", "牛店镇", "镇", 113.253165, 34.515051),
    Township("410183103000", "平陌镇", "镇", 113.333660, 34.450614),
    Township("410183104000", "超化镇", "镇", 113.404852, 34.430865),
    Township("410183105000", "苟堂镇", "镇", 113.491445, 34.384081),
    Township("410183106000", "大隗镇", "镇", 113.510755, 34.445709),
    Township("410183107000", "刘寨镇", "镇", 113.545932, 34.489234),
    Township("410183108000", "白寨镇", "镇", 113.523539, 34.610041),
    Township("410183109000", "岳村镇", "镇", 113.466153, 34.567156),
    Township("410183110000", "来集镇", "镇", 113.468413, 34.491424),
    Township("410183113000", "曲梁镇", "镇", 113.6450, 34.5000, ("曲梁乡",)),
    Township("410183200000", "袁庄乡", "乡", 113.378223, 34.587377),
    Township("410183400000", "矿区街道", "街道", 113.414177, 34.519639, ("矿区街道办事处", "矿区办事处")),
    Township(
        "410183401000",
        "伏羲山风景区管理委员会",
        "管委会",
        113.234055,
        34.590921,
        ("尖山风景区管理委员会", "尖山风景区管委会", "尖山风景区管委", "尖山风景区",
         "伏羲山风景区", "伏羲山风景区管委会", "伏羲山管委会", "尖山乡"),
    ),
    Township(
        "410183402000",
        "郑州曲梁产业集聚区管理委员会",
        "管委会",
        113.6050,
        34.5280,
        ("曲梁产业集聚区", "曲梁产业集聚区管委会", "曲梁集聚区", "郑州曲梁产业集聚区", "曲梁产业集聚区管理委员会"),
    ),
)

# Codes that existed in earlier NBS releases and no longer do (for the boundary importer:
# a feature carrying one of these falls back to name/alias matching).
OBSOLETE_CODES = {
    "410183111": "七里岗镇",
    "410183201": "尖山乡",
    "410183202": "曲梁乡",
}

POINT_BASIS = {
    "410183001000": "placed at the city government (outline centre, GCJ-02 -> WGS-84); not a surveyed seat",
    "410183002000": "placed east of the city centre; guess",
    "410183003000": "placed west of the city centre; guess",
    "410183113000": "near the representative point of the defunct 曲梁乡 polygon; guess",
    "410183400000": "representative point of the defunct 七里岗镇 polygon; guess",
    "410183401000": "representative point of the defunct 尖山乡 polygon",
    "410183402000": "inside the defunct 曲梁乡 area; guess",
}  # every other unit: representative point of its c.2000 township polygon (not the seat)

BY_CODE = {t.code: t for t in TOWNSHIPS}


def aliases_for(t: Township) -> set[str]:
    """Every name a spreadsheet may use for `t`: current, old, 办事处 forms, 乡/镇 variants."""
    names = {t.name, t.short, *t.aliases}
    if t.kind in ("镇", "乡"):
        names |= {t.short + "镇", t.short + "乡"}
    if t.kind == "街道":
        names |= {t.short + "街道办事处", t.short + "办事处", t.short + "街道办"}
    if t.kind == "管委会":
        names |= {t.name.replace("管理委员会", "管委会"), t.name.replace("管理委员会", "管委")}
    return {n for n in names if n}


def alias_table() -> dict[str, str]:
    """Map every known name (current, old, variant) to its 12-digit code."""
    table: dict[str, str] = {}
    for t in TOWNSHIPS:
        for n in aliases_for(t):
            table[n] = t.code
        table[t.code] = t.code
        table[t.code9] = t.code
    return table


def to_code(value: object) -> str | None:
    """Return the 12-digit code for a township name, alias or 9/12-digit code, or None."""
    if value is None:
        return None
    s = str(value).strip().replace(" ", "").replace("\u3000", "")
    return alias_table().get(s)


def valid_names() -> str:
    """The names users may use, for error messages."""
    return "、".join(t.name for t in TOWNSHIPS)
