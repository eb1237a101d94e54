"""Normalise raw cells into typed schema columns: full-width, trimming, dates, 万元/元, booleans, township codes.

Every function works on whole columns (pandas string methods, numpy); a value that cannot be
parsed becomes missing and is marked in `Normalised.bad` so that validation can reject its row
with a reason naming the column and the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from etl.kinds import HeaderMap
from geodata import schema
from geodata.townships import CITY_CODE, CITY_NAME
from geodata.townships import alias_table as township_aliases

NA_TOKENS = ["", *"- -- — —— / \\ null NULL Null none None NONE nan NaN NAN #N/A #n/a N/A n/a NA na 空 暂无".split()]
_FW = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)}
_FW.update(
    {
        0x3000: " ",
        0x00A0: " ",
        0x2002: " ",
        0x2003: " ",
        0x2009: " ",
        0x200B: "",
        0xFEFF: "",
        0x2014: "—",
        0x2212: "-",
        0x00B7: "·",
    }
)
FULLWIDTH = str.maketrans(_FW)

TRUE_TOKENS = {"是", "有", "√", "✓", "✔", "☑", "y", "yes", "true", "t", "1", "对", "已", "具备", "符合"}
FALSE_TOKENS = {"否", "无", "×", "✗", "✘", "☒", "x", "n", "no", "false", "f", "0", "没有", "未", "不具备", "不符合"}
MONTH_FIELDS = {"month", "paid_through_month"}
CODE_FIELDS = {"credit_code", "contractor_credit_code", "project_code", "case_no", "incident_no", "unit_code"}
PHONE_FIELDS = {"phone", "contractor_phone", "labour_officer_phone", "complainant_phone"}
CITY_NAMES = {CITY_NAME, "市本级", "全市", "市级", "新密", "410183", CITY_CODE, CITY_CODE[:9]}
INCIDENT_GRADES = {
    "一般": "一般",
    "较大": "较大",
    "重大": "重大",
    "特别重大": "特别重大",
    "iv级": "一般",
    "ⅳ级": "一般",
    "4级": "一般",
    "四级": "一般",
    "iii级": "较大",
    "ⅲ级": "较大",
    "3级": "较大",
    "三级": "较大",
    "ii级": "重大",
    "ⅱ级": "重大",
    "2级": "重大",
    "二级": "重大",
    "i级": "特别重大",
    "ⅰ级": "特别重大",
    "1级": "特别重大",
    "一级": "特别重大",
}
# value suffixes -> factor into the stored unit; money is stored in 万元
MONEY_SUFFIX = {"元": 1e-4, "万元": 1.0, "万": 1.0, "亿元": 1e4, "亿": 1e4}
HEADER_MONEY = {"元": 1e-4, "万元": 1.0, "亿元": 1e4, "万": 1.0}
COUNT_SUFFIX = {"": 1.0, "人": 1.0, "名": 1.0, "个": 1.0, "张": 1.0, "户": 1.0, "家": 1.0, "年": 1.0, "人次": 1.0}
MEASURE_SUFFIX = {
    "": 1.0,
    "千瓦时": 1.0,
    "kwh": 1.0,
    "度": 1.0,
    "立方米": 1.0,
    "m3": 1.0,
    "m³": 1.0,
    "吨": 1.0,
    "方": 1.0,
    "万千瓦时": 1e4,
    "万度": 1e4,
    "万kwh": 1e4,
    "万立方米": 1e4,
    "万吨": 1e4,
    "万方": 1e4,
}
_NUM = r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*)$"
_DATE = (
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?"
    r"(?:[T\s]*(\d{1,2})\s*[:时点]\s*(\d{1,2})?\s*(?:[:分]\s*(\d{1,2})?(?:\.\d+)?\s*秒?)?)?$"
)
_COMPACT = r"^(\d{4})(\d{2})(\d{2})$"
_US = r"^(\d{1,2})/(\d{1,2})/(\d{4})$"
_MONTH = r"^(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*月?|(\d{2}))$"
_DMS = r"^(\d+(?:\.\d+)?)\s*[°度]\s*(?:(\d+(?:\.\d+)?)\s*['′分])?\s*(?:(\d+(?:\.\d+)?)\s*[\"″秒])?\s*([EWNS东西南北])?$"
SERIAL_MIN, SERIAL_MAX = 18264, 73051  # Excel serials 1950-01-01 .. 2099-12-31


@dataclass
class Normalised:
    """Typed columns of one file plus what could not be parsed.

    data: schema field columns (money in 万元, dates datetime64, months 'YYYY-MM', booleans,
      integers Int64), `declared_township` (12-digit code) when the file names a township, and
      `source_row` (Excel row number).
    raw: the same rows with the field columns as text (after trimming), to cite in messages.
    bad: field -> boolean mask of rows whose value was present but unparseable.
    bad_code: field -> reason code for that field (bad_date, bad_number, bad_bool, bad_township, ...).
    """

    data: pd.DataFrame
    raw: pd.DataFrame
    bad: dict[str, pd.Series] = field(default_factory=dict)
    bad_code: dict[str, str] = field(default_factory=dict)


def select_fields(df: pd.DataFrame, hm: HeaderMap) -> pd.DataFrame:
    """The sheet's columns renamed to fields (only mapped ones), index kept (source rows)."""
    cols = [h for h in df.columns if h in hm.columns]
    return df[cols].rename(columns=hm.columns)


_NEEDS_FW = re.compile("[" + "".join(chr(c) for c in _FW) + "]")
_HAS_WS = re.compile(r"\s")


def _clean_one(v: str) -> str:
    if _NEEDS_FW.search(v):  # most cells have no full-width character: skip the translation
        v = v.translate(FULLWIDTH)
    return " ".join(v.split()) if _HAS_WS.search(v) else v


def clean_text(s: pd.Series) -> pd.Series:
    """Full-width -> half-width, spaces collapsed and trimmed, placeholders ('-', '/', 'NULL'...) -> missing.

    One pass of C string methods per value (translate, split, join): callers give distinct values.
    """
    t = pd.Series(s, dtype="str", index=s.index) if s.dtype != "str" else s
    t = pd.Series(t.map(_clean_one, na_action="ignore"), dtype="str", index=s.index)
    return t.mask(t.isin(NA_TOKENS))


def to_half_width(s: pd.Series) -> pd.Series:
    return pd.Series(s, dtype="str").str.translate(FULLWIDTH)


def parse_number(s: pd.Series, suffixes: dict[str, float], default_scale: float = 1.0) -> tuple[pd.Series, pd.Series]:
    """Numbers with thousands separators and unit suffixes -> float (scaled); returns (values, bad mask).

    Plain numbers take the fast path (pd.to_numeric); only the rest go through the regex.
    """
    plain_scale = suffixes[""] * default_scale if "" in suffixes else default_scale
    direct = pd.to_numeric(s, errors="coerce").astype(float)
    values = direct * plain_scale
    rest = s.notna() & direct.isna()
    if rest.any():
        r = s[rest]
        t = r.str.replace(r"[,¥$\s]", "", regex=True).str.replace("人民币", "", regex=False)
        parts = t.str.extract(_NUM)
        num = pd.to_numeric(parts[0], errors="coerce")
        suffix = parts[1].fillna("").str.lower()
        scale = suffix.map(suffixes).astype(float).where(suffix != "", plain_scale)
        values[rest] = (num * scale).astype(float)
    bad = s.notna() & values.isna()
    return values, bad


def parse_money(s: pd.Series, header_unit: str | None) -> tuple[pd.Series, pd.Series]:
    """Money -> 万元. A unit in the value wins over the header's; with neither, 万元 is assumed."""
    return parse_number(s, MONEY_SUFFIX, HEADER_MONEY.get(header_unit or "万元", 1.0))


def parse_int(s: pd.Series, header_unit: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Counts and years ('12', '12人', '2024年', '1.2万' with header unit 万) -> Int64."""
    scale = 1e4 if header_unit == "万" else 1.0
    values, bad = parse_number(s, {**COUNT_SUFFIX, "万": 1e4, "万人": 1e4}, scale)
    integral = values.isna() | np.isclose(values.fillna(0), np.round(values.fillna(0)))
    bad = bad | ~integral
    return values.where(integral).round().astype("Int64"), bad


def parse_rate(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Rates as fractions: '2%' -> 0.02, '0.02' -> 0.02, '2' -> 0.02 (a bare number above 1 is a percentage)."""
    values, bad = parse_number(s, {"": 1.0, "%": 0.01, "‰": 0.001})
    return values.where(values <= 1, values / 100), bad


def parse_coord(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Decimal degrees, or degrees-minutes-seconds ('113°22′33.5″E') -> float degrees."""
    values, bad = parse_number(s, {"": 1.0, "°": 1.0, "度": 1.0, "e": 1.0, "n": 1.0, "东经": 1.0, "北纬": 1.0})
    if bad.any():
        dms = s[bad].str.replace(" ", "", regex=False).str.extract(_DMS)
        deg = (
            pd.to_numeric(dms[0], errors="coerce")
            + pd.to_numeric(dms[1], errors="coerce").fillna(0) / 60
            + pd.to_numeric(dms[2], errors="coerce").fillna(0) / 3600
        )
        use = deg.notna()
        values[deg.index[use]] = deg[use]
        bad = bad.copy()
        bad[deg.index[use]] = False
    return values, bad


def parse_datetime(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates/times as offices write them -> datetime64: 2024-03-01, 2024/3/1, 2024年3月1日, 20240301,
    3/1/2024, Excel serials (45352, 45352.5), each optionally with a time '14:30' / '14时30分'."""
    t = s.str.replace("T", " ", regex=False)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    m = t.str.extract(_DATE)
    out = out.fillna(_from_parts(m[0], m[1], m[2], m[3], m[4], m[5]))
    c = t.str.extract(_COMPACT)
    out = out.fillna(_from_parts(c[0], c[1], c[2]))
    u = t.str.extract(_US)
    out = out.fillna(_from_parts(u[2], u[0], u[1]))
    serial = pd.to_numeric(t.where(t.str.fullmatch(r"\d{5}(?:\.\d+)?")), errors="coerce")
    serial = serial.where((serial >= SERIAL_MIN) & (serial <= SERIAL_MAX))
    out = out.fillna(pd.to_datetime(serial, unit="D", origin="1899-12-30").dt.round("s"))
    bad = s.notna() & out.isna()
    return out, bad


def parse_date(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    dt, bad = parse_datetime(s)
    return dt.dt.normalize(), bad


def parse_month(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Months -> 'YYYY-MM': 2024-03, 2024/3, 2024年3月, 202403, or any date / Excel serial within the month."""
    m = s.str.replace(" ", "", regex=False).str.extract(_MONTH)
    month = pd.to_numeric(m[1].fillna(m[2]), errors="coerce")
    year = pd.to_numeric(m[0], errors="coerce")
    ok = year.notna() & month.between(1, 12)
    text = year.astype("Int64").astype(str).str.zfill(4) + "-" + month.astype("Int64").astype(str).str.zfill(2)
    out = text.where(ok)
    dt, _ = parse_datetime(s.where(~ok))
    out = out.fillna(dt.dt.strftime("%Y-%m").where(dt.notna()))
    out = pd.Series(out, dtype="str", index=s.index)
    return out, s.notna() & out.isna()


def parse_bool(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """是/否/有/无/√/×/Y/N/1/0/true/false (and 已…/未… phrases) -> True/False."""
    low = s.str.lower().str.replace(" ", "", regex=False)
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out = out.mask(low.isin(TRUE_TOKENS) | low.str.startswith("已") | low.str.startswith("有"), True)
    out = out.mask(low.isin(FALSE_TOKENS) | low.str.startswith("未") | low.str.startswith("无") | low.str.startswith("没"), False)
    return out, s.notna() & out.isna()


def township_codes(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Township names (current, old, 办事处 forms, 乡/镇 variants) or 9/12-digit codes -> 12-digit codes."""
    key = s.str.replace(r"\s", "", regex=True).str.replace(r"^(?:河南省)?(?:郑州市)?(?:新密市)?", "", regex=True)
    key = key.str.replace(r"\.0$", "", regex=True)
    out = pd.Series(key.map(township_aliases()), dtype="str", index=s.index)
    return out, s.notna() & out.isna()


def unit_codes(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Fund holder units: a township (name or code) or the city itself ('新密市', '市本级', 410183) -> 12 digits."""
    codes, _ = township_codes(s)
    plain = s.str.replace(r"\s", "", regex=True).str.replace(r"\.0$", "", regex=True)
    city = plain.isin(CITY_NAMES) | plain.str.fullmatch(r"410183(?:000)*")
    codes = codes.mask(city & codes.isna(), CITY_CODE)
    return codes, s.notna() & codes.isna()


def clean_code(s: pd.Series, upper: bool = False) -> pd.Series:
    """Identifiers: no spaces at all, Excel's '.0' removed, optionally upper case."""
    t = s.str.replace(" ", "", regex=False)
    dot0 = t.str.endswith(".0").fillna(False).astype(bool)
    if dot0.any():
        t = t.where(~dot0, t.str.replace(r"^(\d+)\.0$", r"\1", regex=True))
    return t.str.upper() if upper else t


def normalise(
    fields_df: pd.DataFrame, kind: str, units: dict[str, str] | None = None, source_row: pd.Series | np.ndarray | None = None
) -> Normalised:
    """Typed columns for `kind` from raw text columns named by field (see `select_fields`).

    `source_row` defaults to the frame's index (the Excel row numbers `read` gives).
    """
    units = units or {}
    table = schema.DATA_TABLES[kind]
    index = fields_df.index
    data = pd.DataFrame(index=index)
    raw = pd.DataFrame(index=index)
    bad: dict[str, pd.Series] = {}
    codes: dict[str, str] = {}
    for name in fields_df.columns:
        # parse each distinct value once (dates, months, townships, flags repeat a lot), then take
        pos, uniq = pd.factorize(fields_df[name], use_na_sentinel=True)
        u = clean_text(pd.Series(uniq, dtype="str"))
        col = table.c[name] if name in table.c else None
        values, mask, code = _convert(name, col, u, units.get(name))
        data[name] = take(values, pos, index)
        raw[name] = take(u, pos, index)
        if mask is not None and mask.any():
            bad[name], codes[name] = take(mask, pos, index, fill=False).astype(bool), code
        if name == "township_name":
            town, tmask = township_codes(u)
            data["declared_township"] = take(town, pos, index)
            if tmask.any():
                bad[name], codes[name] = take(tmask, pos, index, fill=False).astype(bool), "bad_township"
    data["source_row"] = np.asarray(index if source_row is None else source_row, dtype="int64")
    return Normalised(data, raw, bad, codes)


def take(values: pd.Series, pos: np.ndarray, index: pd.Index, fill=None) -> pd.Series:
    """values[pos] as a Series on `index`; position -1 (a missing cell) gives `fill` (default: missing)."""
    arr = pd.api.extensions.take(values.array, pos, allow_fill=True, fill_value=fill)
    return pd.Series(arr, index=index, name=values.name)


def _convert(name: str, col: sa.Column | None, s: pd.Series, unit: str | None) -> tuple[pd.Series, pd.Series | None, str]:
    """One column: dispatch on the field name first, then on its SQL type."""
    if name in ("lon", "lat"):
        v, b = parse_coord(s)
        return v, b, "bad_coord"
    if name in MONTH_FIELDS:
        v, b = parse_month(s)
        return v, b, "bad_date"
    if name == "unit_code":
        v, b = unit_codes(s)
        return v, b, "bad_unit"
    if name in CODE_FIELDS:
        return clean_code(s, upper="credit" in name), None, ""
    if name in PHONE_FIELDS:
        return clean_code(s), None, ""
    if name == "rate":
        v, b = parse_rate(s)
        return v, b, "bad_number"
    if name == "grade" and col is not None and col.table.name == "credit":
        g = s.str.upper().str.replace(r"\s|级", "", regex=True)
        return g.where(g.isin(["A", "B", "C", "D"])), s.notna() & ~g.isin(["A", "B", "C", "D"]), "bad_enum"
    if name == "grade":
        g = s.str.lower().str.replace(r"\s|事件|响应", "", regex=True).map(INCIDENT_GRADES)
        g = pd.Series(g, dtype="str", index=s.index)
        return g, s.notna() & g.isna(), "bad_enum"
    type_ = col.type if col is not None else sa.String()
    if isinstance(type_, sa.Boolean):
        v, b = parse_bool(s)
        return v, b, "bad_bool"
    if isinstance(type_, sa.DateTime):
        v, b = parse_datetime(s)
        return v, b, "bad_date"
    if isinstance(type_, sa.Date):
        v, b = parse_date(s)
        return v, b, "bad_date"
    if isinstance(type_, sa.Integer):
        v, b = parse_int(s, unit)
        return v, b, "bad_number"
    if isinstance(type_, sa.Float):
        if col is not None and col.info.get("unit") == "万元":
            v, b = parse_money(s, unit)
        else:
            v, b = parse_number(s, MEASURE_SUFFIX, 1e4 if unit == "万" else 1.0)
        return v, b, "bad_number"
    return s, None, ""


def _from_parts(y, mo, d, h=None, mi=None, sec=None) -> pd.Series:
    """datetime64 from string columns of parts; impossible dates (2月30日) -> NaT."""
    parts = {"year": y, "month": mo, "day": d, "hour": h, "minute": mi, "second": sec}
    frame = pd.DataFrame({k: pd.to_numeric(v, errors="coerce") for k, v in parts.items() if v is not None})
    for k in ("hour", "minute", "second"):
        if k in frame:
            frame[k] = frame[k].fillna(0)
    ok = frame[["year", "month", "day"]].notna().all(axis=1)
    if "hour" in frame:
        ok &= frame["hour"].between(0, 23) & frame["minute"].between(0, 59) & frame["second"].between(0, 59)
    out = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    if ok.any():
        out[ok] = pd.to_datetime(frame[ok], errors="coerce")
    return out
