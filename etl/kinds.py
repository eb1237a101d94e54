"""Data kinds and their header aliases (built from geodata/schema.py), kind detection, `--map`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process

from etl.errors import BadOption, MissingColumns, UnknownKind
from geodata import schema

KINDS = tuple(schema.DATA_TABLES)
# files of a run are processed in this order: a village list first (addresses of the same run are
# geocoded with it), projects and enterprises before the kinds that take their township from them
LOAD_ORDER = (
    "gazetteer",
    "enterprises",
    "projects",
    "funds",
    "credit",
    "indicators",
    "compliance",
    "deposits",
    "cases",
    "incidents",
)
POINT_FIELDS = {"lon": schema.LON_FIELD, "lat": schema.LAT_FIELD}
# headers offices add that carry nothing to load; ignored silently (still listed in the report)
NOISE_HEADERS = {"序号", "编号序号", "no", "no.", "备注", "说明", "填报人", "填表人", "审核人"}

_PAREN = re.compile(r"[\(\[（【][^\)\]）】]*[\)\]）】]\s*$")


def header_key(text: object) -> str:
    """The comparable form of a header: NFKC (full-width -> half-width), no spaces, no '*', lower case."""
    s = unicodedata.normalize("NFKC", str(text if text is not None else ""))
    s = re.sub(r"\s+", "", s).replace("*", "").replace("★", "").rstrip(":：")
    return s.lower()


def _base(key: str) -> str:
    """The header without a trailing unit in brackets: '合同价款(万元)' -> '合同价款'."""
    return _PAREN.sub("", key)


def header_unit(text: object) -> str | None:
    """The unit a header declares: '万元', '元', '亿元', '万' (ten thousand of a count) or None."""
    key = header_key(text)
    m = re.search(r"[\(\[（【]([^\)\]）】]*)[\)\]）】]\s*$", key)
    unit = m.group(1) if m else key
    for u in ("亿元", "万元", "元"):
        if unit.endswith(u) or (m is None and key.endswith(u)):
            return u
    if m and unit.startswith("万"):
        return "万"
    return None


def is_spatial(kind: str) -> bool:
    return kind in schema.DATA_TABLES and bool(schema.DATA_TABLES[kind].info["spatial"])


def fields(kind: str) -> dict[str, list[str]]:
    """Field name -> every header accepted for it (canonical Chinese first, then aliases, then the name)."""
    out: dict[str, list[str]] = {}
    for c in schema.data_columns(kind):
        names = [c.info["zh"], *c.info.get("aliases", [])]
        if c.name not in names:
            names.append(c.name)
        out[c.name] = names
    if is_spatial(kind):
        for f, names in POINT_FIELDS.items():
            out[f] = [n for n in names[1:]] + [f]
    return out


def required(kind: str) -> list[str]:
    return [c.name for c in schema.data_columns(kind) if c.info.get("required")]


def field_zh(kind: str, name: str) -> str:
    """The Chinese label of a field, for messages ('项目名称')."""
    names = fields(kind).get(name)
    return names[0] if names else name


@lru_cache(maxsize=None)
def alias_table(kind: str) -> dict[str, str]:
    """header_key -> field for one kind; exact forms first, then the forms without unit brackets."""
    table: dict[str, str] = {}
    for f, names in fields(kind).items():
        for n in names:
            table.setdefault(header_key(n), f)
    for f, names in fields(kind).items():
        for n in names:
            table.setdefault(_base(header_key(n)), f)
    return table


@lru_cache(maxsize=1)
def all_header_keys() -> frozenset[str]:
    """Every header key any kind accepts (used to find the header row of a sheet)."""
    return frozenset(k for kind in KINDS for k in alias_table(kind))


def lookup(kind: str, header: object) -> str | None:
    key = header_key(header)
    table = alias_table(kind)
    return table.get(key) or table.get(_base(key))


def parse_mapping(items: list[str] | dict[str, str] | None) -> dict[str, str]:
    """`["源列=field", ...]` (or a dict) -> {header_key(源列): field}. Raises BadOption when malformed."""
    if not items:
        return {}
    pairs = items.items() if isinstance(items, dict) else [_split_map(i) for i in items]
    return {header_key(src): str(dst).strip() for src, dst in pairs}


def _split_map(item: str) -> tuple[str, str]:
    src, sep, dst = str(item).partition("=")
    if not sep or not src.strip() or not dst.strip():
        raise BadOption(f"bad --map {item!r}", f'--map 参数 "{item}" 格式不对：应为 源列=字段，例如 --map 工程名称=name')
    return src.strip(), dst.strip()


def _map_target(kind: str, dst: str, file: str) -> str:
    """The field a `--map` target names (field name or any accepted header), or BadOption."""
    fl = fields(kind)
    if dst in fl:
        return dst
    f = lookup(kind, dst)
    if f:
        return f
    raise BadOption(
        f"{file}: --map target {dst!r} is no field of {kind}",
        f'文件 {file}：--map 的目标 "{dst}" 不是{schema.KIND_ZH[kind]}的字段；可用字段：{"、".join(fl)}',
        file=file,
        unknown=[dst],
        accepted=list(fl),
    )


@dataclass
class HeaderMap:
    """How a file's headers map onto one kind's fields."""

    kind: str
    columns: dict[str, str]  # original header -> field
    units: dict[str, str] = field(default_factory=dict)  # field -> unit declared in its header
    ignored: list[str] = field(default_factory=list)  # headers that matched nothing (or a field twice)


def match_headers(kind: str, headers: list[str], mapping: dict[str, str] | None = None) -> HeaderMap:
    """Map headers to fields: `--map` first, then the alias table; the first header for a field wins."""
    mapping = mapping or {}
    cols: dict[str, str] = {}
    units: dict[str, str] = {}
    ignored: list[str] = []
    taken: set[str] = set()
    for h in headers:
        key = header_key(h)
        f = mapping.get(key) or lookup(kind, h)
        if f is None or f in taken:
            if key and key not in NOISE_HEADERS:
                ignored.append(str(h))
            continue
        cols[h] = f
        taken.add(f)
        unit = header_unit(h)
        if unit:
            units[f] = unit
    return HeaderMap(kind, cols, units, ignored)


def resolve(headers: list[str], kind: str | None = None, mapping: dict[str, str] | None = None, file: str = "") -> HeaderMap:
    """Detect the kind (unless given) and map the headers; raise UnusableInput naming what is wrong."""
    mapping = mapping or {}
    if kind is not None and kind not in KINDS:
        raise UnknownKind(
            f"unknown kind {kind!r}",
            f'--kind "{kind}" 无法识别；可用：{_kinds_text()}',
            file=file,
            unknown=[kind],
            accepted=list(KINDS),
        )
    kinds = [kind] if kind else list(KINDS)
    maps = {}
    for k in kinds:
        resolved = {src: _map_target(k, dst, file) for src, dst in mapping.items()} if kind else _soft_targets(k, mapping)
        maps[k] = match_headers(k, headers, resolved)
    complete = [k for k in kinds if not set(required(k)) - set(maps[k].columns.values())]
    if complete:
        best = max(complete, key=lambda k: (len(maps[k].columns), len(maps[k].columns) / len(fields(k))))
        ties = [
            k
            for k in complete
            if len(maps[k].columns) == len(maps[best].columns)
            and k != best
            and len(maps[k].columns) / len(fields(k)) == len(maps[best].columns) / len(fields(best))
        ]
        if ties:
            names = "、".join(f"{k}（{schema.KIND_ZH[k]}）" for k in [best, *ties])
            raise UnknownKind(
                f"{file}: ambiguous kind {[best, *ties]}",
                f"文件 {file}：无法判断数据类型（可能是 {names}）；请用 --kind 指定",
                file=file,
                accepted=[best, *ties],
            )
        return maps[best]
    closest = max(kinds, key=lambda k: len(maps[k].columns))
    if not maps[closest].columns:
        shown = "、".join(f'"{h}"' for h in headers[:8] if str(h).strip())
        raise UnknownKind(
            f"{file}: no header recognised ({headers[:8]})",
            f"文件 {file}：无法识别数据类型，列 {shown} 均无法识别；"
            f"请用 --kind 指定（{_kinds_text()}），并用 --map 源列=字段 对应列名",
            file=file,
            unknown=[str(h) for h in headers],
            accepted=list(KINDS),
        )
    raise _missing_error(closest, maps[closest], file)


def _soft_targets(kind: str, mapping: dict[str, str]) -> dict[str, str]:
    """Mapping targets valid for `kind` (during detection a target may belong to other kinds only)."""
    out = {}
    for src, dst in mapping.items():
        f = dst if dst in fields(kind) else lookup(kind, dst)
        if f:
            out[src] = f
    return out


def _missing_error(kind: str, hm: HeaderMap, file: str) -> MissingColumns:
    missing = [f for f in required(kind) if f not in hm.columns.values()]
    unknown = list(hm.ignored)
    accepted = [n for f in missing for n in fields(kind)[f]]
    parts = [f"文件 {file}（{schema.KIND_ZH[kind]}）：缺少必填列 " + "、".join(f"{field_zh(kind, f)}({f})" for f in missing)]
    if unknown:
        parts.append("列 " + "、".join(f'"{u}"' for u in unknown[:6]) + (" 等" if len(unknown) > 6 else "") + " 无法识别")
    parts.append("可用列名：" + "；".join(f"{f}=" + "/".join(fields(kind)[f]) for f in missing))
    parts.append("或用 " + " ".join(f"--map {src}={f}" for src, f in _suggest(kind, missing, unknown)))
    return MissingColumns(
        f"{file}: kind {kind} misses required {missing}; unknown headers {unknown}",
        "；".join(parts),
        file=file,
        missing=missing,
        unknown=unknown,
        accepted=accepted,
        kind=kind,
    )


def _suggest(kind: str, missing: list[str], unknown: list[str]) -> list[tuple[str, str]]:
    """Pair each missing field with the unknown header most like one of its names."""
    out: list[tuple[str, str]] = []
    left = list(unknown)
    for f in missing:
        best = None
        if left:
            scored = [(process.extractOne(u, fields(kind)[f], scorer=fuzz.partial_ratio) or (None, 0))[1] for u in left]
            i = max(range(len(left)), key=lambda j: scored[j])
            best = left.pop(i) if (scored[i] >= 50 or len(left) == 1 and len(missing) == 1) else None
        out.append((best or "源列", f))
    return out


def _kinds_text() -> str:
    return "、".join(f"{k}（{schema.KIND_ZH[k]}）" for k in KINDS)
