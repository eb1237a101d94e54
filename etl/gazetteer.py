"""The gazetteer: village/community names per township with aliases and points, for address geocoding.

The project bundles a SYNTHETIC demonstration gazetteer (geodata/data/gazetteer_demo.csv):
made-up village and community names, about a dozen per township, with points placed at random
inside each township's demonstration boundary. It is NOT the official village list and its
points are NOT real village locations; `source` says so on every row. A deployment imports the
official list (统计用区划代码 village list: code, name, township, optional point) with
`import_village_list`, which replaces the bundled entries in the store's `gazetteer` table.

    python -m etl.gazetteer            # developer tool: rewrite the bundled demo file
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from etl.errors import MissingColumns
from etl.kinds import header_key
from geodata import schema
from geodata.boundaries import PROJECTED_CRS, demo_boundaries
from geodata.townships import BY_CODE, TOWNSHIPS
from geodata.townships import alias_table as township_alias_table

BUNDLED = Path(__file__).resolve().parent.parent / "geodata" / "data" / "gazetteer_demo.csv"
COLUMNS = ["code", "name", "township_code", "kind", "aliases", "lon", "lat", "source"]
DEMO_SOURCE = "示例数据：合成地名，位置随机置于示意边界内，非真实村庄/社区"
SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会", "社区", "村")

_SURNAMES = list(
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹孟熊秦邱尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔向汤"
)
_FEATURES = [
    "庄",
    "沟",
    "岭",
    "河",
    "坡",
    "寨",
    "洼",
    "店",
    "营",
    "湾",
    "屯",
    "岗",
    "窑",
    "楼",
    "堂",
    "桥",
    "家沟",
    "家庄",
    "家岭",
    "家寨",
    "家河",
    "家坡",
    "家洼",
    "家湾",
]
_COMMUNITY = [
    "和平",
    "幸福",
    "建设",
    "光明",
    "东关",
    "西关",
    "南关",
    "北关",
    "文化",
    "锦绣",
    "桂花",
    "金穗",
    "长乐",
    "安康",
    "翠园",
    "书香",
    "丰收",
    "新城",
    "福寿",
    "康宁",
    "嘉禾",
    "惠民",
    "兴业",
    "鸿福",
    "瑞景",
    "祥和",
    "青松",
    "玉兰",
    "紫荆",
    "丹桂",
    "和美",
    "泰和",
    "如意",
    "吉祥",
    "永安",
    "同心",
    "清泉",
    "溪岸",
    "望岳",
    "朝阳",
    "南苑",
    "北苑",
    "东苑",
    "西苑",
    "秀水",
    "凤凰",
]
SHARED_NAMES = ("王庄村", "李沟村", "张寨村")  # deliberately in two townships each: tests disambiguation

# header aliases of the official village list
IMPORT_FIELDS = {
    "code": ("统计用区划代码", "区划代码", "村级代码", "代码", "村代码", "code"),
    "name": ("名称", "村名", "村（社区）名称", "村(社区)名称", "村居名称", "村委会名称", "社区名称", "name"),
    "township": ("所属乡镇", "乡镇", "乡镇（街道）", "乡镇街道", "乡镇代码", "所属乡镇代码", "所属街道", "township"),
    "kind": ("类型", "城乡分类代码", "城乡分类", "kind"),
    "lon": ("经度", "lon", "lng", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
}


def bundled() -> pd.DataFrame:
    """The bundled synthetic entries (columns COLUMNS)."""
    df = pd.read_csv(
        BUNDLED,
        dtype={"code": str, "township_code": str, "aliases": str},
        keep_default_na=False,
        na_values={"lon": [""], "lat": [""]},
    )
    return df[COLUMNS]


def entries(store=None) -> pd.DataFrame:
    """The gazetteer in use: the store's table when it has rows, else the bundled demo entries."""
    if store is not None:
        df = store.read("gazetteer")
        if len(df):
            return pd.DataFrame(df[COLUMNS])
    return bundled()


def name_forms(name: str, kind: str | None = None) -> set[str]:
    """Every way an address may write a gazetteer name: '黄固寺村' -> 黄固寺村, 黄固寺, 黄固寺村委会, 黄固寺村民委员会."""
    name = str(name).strip()
    base = name
    for suf in SUFFIXES:
        if base.endswith(suf) and len(base) > len(suf) + 1:
            base = base[: -len(suf)]
            break
    forms = {name}
    if kind == "社区" or name.endswith(("社区", "居委会", "居民委员会")):
        forms |= {base + "社区", base + "社区居委会", base + "居委会", base + "社区居民委员会"}
        if len(base) >= 3:
            forms.add(base)
    else:
        forms |= {base + "村", base + "村委会", base + "村民委员会"}
        if len(base) >= 2:
            forms.add(base)
    return {f for f in forms if len(f) >= 2}


def forms_table(gaz: pd.DataFrame) -> pd.DataFrame:
    """form -> entry row (index into `gaz`), one row per (form, entry); longest forms first."""
    recs = []
    for i, (name, kind, aliases) in enumerate(zip(gaz["name"], gaz["kind"], gaz["aliases"].fillna(""), strict=False)):
        forms = name_forms(name, kind)
        for a in str(aliases).split(";"):
            if a.strip():
                forms |= name_forms(a.strip(), kind)
        recs.extend((f, i) for f in forms)
    out = pd.DataFrame(recs, columns=["form", "entry"]).drop_duplicates()
    return out.assign(_len=out["form"].str.len()).sort_values(["_len", "form"], ascending=[False, True]).drop(columns="_len")


# ---- the bundled demo file (developer tool) ----------------------------------------------------


def demo_entries(seed: int = 20180314) -> pd.DataFrame:
    """Synthetic villages/communities per township with points inside each demonstration boundary."""
    rng = np.random.default_rng(seed)
    bounds = demo_boundaries().to_crs(PROJECTED_CRS).set_index("code")
    villages = [s + f + "村" for s in _SURNAMES for f in _FEATURES]
    taken = set(township_alias_table())  # a village may not share a township's name ('刘寨村' vs 刘寨镇)
    villages = [v for v in villages if v not in SHARED_NAMES and v[:-1] not in taken and v not in taken]
    rng.shuffle(villages)
    communities = [c + "社区" for c in _COMMUNITY]
    rng.shuffle(communities)
    rows = []
    shared_at = {
        "410183104000": "王庄村",
        "410183107000": "王庄村",
        "410183101000": "李沟村",
        "410183108000": "李沟村",
        "410183105000": "张寨村",
        "410183200000": "张寨村",
    }
    for t in TOWNSHIPS:
        if t.kind == "街道":
            names = [(communities.pop(), "社区") for _ in range(7)]
        elif t.kind == "管委会":
            names = [(villages.pop(), "村") for _ in range(6)]
        else:
            names = [(villages.pop(), "村") for _ in range(int(rng.integers(11, 16)))] + [(communities.pop(), "社区")]
        if t.code in shared_at:
            names.append((shared_at[t.code], "村"))
        pts = _points_inside(bounds.geometry[t.code], len(names), rng)
        for j, ((name, kind), (x, y)) in enumerate(zip(names, pts, strict=False), start=1):
            rows.append(
                {
                    "code": f"demo-{t.code9}-{j:02d}",
                    "name": name,
                    "township_code": t.code,
                    "kind": kind,
                    "aliases": "",
                    "x": x,
                    "y": y,
                    "source": DEMO_SOURCE,
                }
            )
    df = pd.DataFrame(rows)
    pts = gpd.GeoSeries(gpd.points_from_xy(df["x"], df["y"]), crs=PROJECTED_CRS).to_crs(4326)
    lonlat = shapely.get_coordinates(pts.to_numpy())
    df["lon"], df["lat"] = np.round(lonlat[:, 0], 5), np.round(lonlat[:, 1], 5)
    return df[COLUMNS]


def _points_inside(poly, n: int, rng: np.random.Generator, inset_m: float = 300.0, spacing_m: float = 700.0) -> list:
    """n points inside `poly` (projected), at least `inset_m` from its edge and about `spacing_m` apart."""
    inner = poly.buffer(-inset_m)
    if inner.is_empty:
        inner = poly
    minx, miny, maxx, maxy = inner.bounds
    shapely.prepare(inner)
    out: list[tuple[float, float]] = []
    spacing = spacing_m
    while len(out) < n:
        xs, ys = rng.uniform(minx, maxx, 400), rng.uniform(miny, maxy, 400)
        for x, y in zip(xs[shapely.contains_xy(inner, xs, ys)], ys[shapely.contains_xy(inner, xs, ys)], strict=False):
            if all((x - a) ** 2 + (y - b) ** 2 >= spacing**2 for a, b in out):
                out.append((float(x), float(y)))
                if len(out) == n:
                    break
        spacing *= 0.9  # small townships: relax the spacing until n points fit
    return out


def write_bundled(path: Path = BUNDLED) -> Path:
    demo_entries().to_csv(path, index=False, encoding="utf-8")
    return path


# ---- importer for the official village list ----------------------------------------------------


def village_columns(headers: list[str], mapping: dict[str, str] | None = None) -> dict[str, str]:
    """header -> field (code, name, township, kind, lon, lat) for a village list; the first header per field wins.

    `mapping` is {header_key(源列): field}, as etl.kinds.parse_mapping gives it.
    """
    table = {header_key(a): f for f, names in IMPORT_FIELDS.items() for a in names}
    table.update({k: v for k, v in (mapping or {}).items() if v in IMPORT_FIELDS})
    cols: dict[str, str] = {}
    for h in headers:
        f = table.get(header_key(h))
        if f and f not in cols.values():
            cols[h] = f
    return cols


def looks_like_village_list(headers: list[str], mapping: dict[str, str] | None = None) -> bool:
    """A name column plus a township or code column."""
    got = set(village_columns(headers, mapping).values())
    return "name" in got and bool(got & {"township", "code"})


def village_entries(raw: pd.DataFrame, source: str, crs: str = "wgs84") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Village-list rows (columns named by field, index = source rows) -> (entries, rejected).

    entries: COLUMNS + source_row. rejected: source_row, reason, reason_code. A row needs a name
    and a township (its name or code, else the first 9 digits of the village code). Names like
    '…村民委员会' are shortened to '…村', '…居民委员会' to '…社区'; the original stays an alias.
    """
    from etl.coords import to_wgs84
    from etl.normalise import clean_text, parse_coord, township_codes

    raw = raw.apply(clean_text) if len(raw.columns) else raw
    none = pd.Series(None, index=raw.index, dtype="str")
    name = raw["name"] if "name" in raw else none
    code = raw["code"].str.replace(r"\D", "", regex=True) if "code" in raw else none
    town = township_codes(raw["township"])[0] if "township" in raw else none
    from_code = (code.str.slice(0, 9) + "000").where(code.str.len() >= 9)
    town = town.fillna(from_code.where(from_code.isin(list(BY_CODE))))
    kind = pd.Series(np.where(name.fillna("").str.contains("社区|居委会|居民委员会", regex=True), "社区", "村"), index=raw.index)
    if "kind" in raw:
        k = raw["kind"].fillna("")
        kind = kind.mask(k.str.contains("社区|居委|11[12]|12[123]", regex=True) & ~name.fillna("").str.endswith("村委会"), "社区")
    short = name.str.replace("村民委员会$|村委会$", "村", regex=True).str.replace(
        "社区居民委员会$|居民委员会$|社区居委会$|居委会$", "社区", regex=True
    )
    lon = parse_coord(raw["lon"])[0] if "lon" in raw else pd.Series(np.nan, index=raw.index)
    lat = parse_coord(raw["lat"])[0] if "lat" in raw else pd.Series(np.nan, index=raw.index)
    lon, lat = to_wgs84(lon.to_numpy(), lat.to_numpy(), crs)
    out = pd.DataFrame(
        {
            "code": code.where(code.str.len() > 0),
            "name": short,
            "township_code": town,
            "kind": kind,
            "aliases": name.where(name != short, ""),
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "source": f"导入：{source}",
            "source_row": raw.index.to_numpy(),
        },
        index=raw.index,
    )
    no_name, no_town = out["name"].isna(), out["name"].notna() & out["township_code"].isna()
    bad = no_name | no_town
    reason = np.where(
        no_name, "缺少必填项：村（社区）名称", "无法确定所属乡镇：所属乡镇无法识别，且区划代码前 9 位不是新密市的乡镇"
    )
    rejected = pd.DataFrame(
        {
            "source_row": out.index[bad],
            "reason": reason[bad.to_numpy()],
            "reason_code": np.where(no_name, "missing_required", "bad_township")[bad.to_numpy()],
        }
    )
    return out[~bad].reset_index(drop=True)[[*COLUMNS, "source_row"]], rejected


def read_village_list(
    path: str | Path, mapping: dict[str, str] | None = None, crs: str = "wgs84"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read an official village list (csv/xlsx, every sheet with its headers): (entries, rejected)."""
    from etl.kinds import parse_mapping
    from etl.read import read_file

    keys = parse_mapping(mapping)
    table = frozenset(header_key(a) for names in IMPORT_FIELDS.values() for a in names) | frozenset(keys)
    goods, bads = [], []
    for sheet in read_file(path, table):
        cols = village_columns(sheet.headers, keys)
        if "name" not in cols.values():
            continue
        g, b = village_entries(sheet.data[list(cols)].rename(columns=cols), Path(path).name, crs)
        goods.append(g)
        bads.append(b)
    if not goods:
        raise MissingColumns(
            f"{path}: village list without a name column",
            f"文件 {path}：村（社区）名录缺少名称列；可用列名：" + "/".join(IMPORT_FIELDS["name"]) + "；或用 --map 源列=name",
            file=str(path),
            missing=["name"],
            accepted=list(IMPORT_FIELDS["name"]),
        )
    return pd.concat(goods, ignore_index=True), pd.concat(bads, ignore_index=True)


def write_entries(conn, entries: pd.DataFrame, replace: bool = True) -> int:
    """Write gazetteer entries in the caller's transaction (all entries replaced by default)."""
    recs = entries[COLUMNS].astype(object).where(pd.notna(entries[COLUMNS]), None).to_dict("records")
    if replace:
        conn.execute(schema.gazetteer.delete())
    if recs:
        conn.execute(schema.gazetteer.insert(), recs)
    return len(recs)


def import_village_list(
    store,
    path: str | Path,
    mapping: dict[str, str] | list[str] | None = None,
    crs: str = "wgs84",
    replace: bool = True,
    user: str = "cli",
) -> dict:
    """Load the official village list into the store's gazetteer (one transaction; replaces all entries by default)."""
    good, rejected = read_village_list(path, mapping, crs)
    with store.begin() as conn:
        n = write_entries(conn, good, replace)
        store.audit(user, "import_gazetteer", str(path), f"{n} entries", conn=conn)
    return {
        "file": str(path),
        "rows_read": len(good) + len(rejected),
        "rows_loaded": len(good),
        "rows_rejected": len(rejected),
        "rejected": rejected.to_dict("records"),
    }


if __name__ == "__main__":  # pragma: no cover - developer tool
    print(write_bundled())
