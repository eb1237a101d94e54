"""Validate normalised rows: required fields, values, ranges, credit codes (GB 32100), date order, duplicates.

A bad row is data, not a crash: it is rejected with a Chinese reason naming the column and the
value, and a stable `reason_code` (REASONS); the other rows go on. All checks are column-wise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from etl import kinds
from etl.normalise import Normalised
from geodata import schema
from geodata.townships import valid_names

# reason_code -> short Chinese label (the report's rejected_by_reason is keyed by reason_code)
REASONS = {  # in priority order: a row with several problems is counted under the first
    "bad_shape": "单元格多于表头",
    "missing_required": "缺少必填项",
    "bad_credit_code": "统一社会信用代码错误",
    "bad_date": "日期无法识别",
    "bad_number": "数字无法识别",
    "bad_bool": "是/否无法识别",
    "bad_enum": "取值不在允许范围",
    "bad_coord": "坐标无法识别",
    "bad_township": "所属乡镇无法识别",
    "bad_unit": "单位代码无法识别",
    "negative_value": "数值为负",
    "out_of_range": "数值超出合理范围",
    "date_order": "日期先后矛盾",
    "duplicate_key": "文件内重复",
    "outside_city": "坐标不在新密市范围内",
}
_PRIORITY = {c: i for i, c in enumerate(REASONS)}
# composite requirements: at least one of the fields (DESIGN §4)
ONE_OF = {
    "deposits": ("project_code", "credit_code"),
    "cases": ("project_code", "credit_code", "employer_name"),
}
# (earlier, later): the later date may not precede the earlier one
DATE_ORDER = {
    "cases": [("received_date", "closed_date")],
    "credit": [("listed_date", "delisted_date")],
    "projects": [("special_account_opened", "special_account_filed")],
}
CREDIT_FIELDS = ("credit_code", "contractor_credit_code")
GB32100_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GB32100_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
_LUT = np.full(256, -1, dtype=np.int64)
_LUT[[ord(c) for c in GB32100_CHARS]] = np.arange(31)
YEAR_MIN, YEAR_MAX = 1990, 2100


@dataclass
class Checked:
    """Rows that passed (`good`, index kept) and rows rejected (`rejected`: source_row, reason, reason_code,
    index = the row's position in the normalised frame)."""

    good: pd.DataFrame
    rejected: pd.DataFrame


class Problems:
    """Collects per-row problems column-wise: the code of highest priority (REASONS order) wins,
    all reasons are joined with '；'. Messages are built only for the rows concerned: pass a
    string, or a function of the row mask returning the messages of those rows."""

    def __init__(self, index: pd.Index):
        self.index = index
        self.code = np.full(len(index), None, dtype=object)
        self.reason = np.full(len(index), "", dtype=object)

    def add(self, mask, code: str, message: str | Callable[[pd.Series], pd.Series]) -> None:
        mask = pd.Series(mask, index=self.index).fillna(False).astype(bool)
        where = np.flatnonzero(mask.to_numpy())
        if not len(where):
            return
        msg = (
            np.full(len(where), message, dtype=object)
            if isinstance(message, str)
            else np.asarray(message(mask).astype(str), dtype=object)
        )
        cur = self.reason[where]
        self.reason[where] = np.where(cur == "", msg, cur + "；" + msg)
        prio = _PRIORITY.get(code, len(_PRIORITY))
        current = np.array([_PRIORITY.get(c, len(_PRIORITY) + 1) for c in self.code[where]])
        self.code[where] = np.where(current > prio, code, self.code[where])

    @property
    def mask(self) -> pd.Series:
        return pd.Series(pd.notna(self.code), index=self.index)

    def frame(self, source_row: pd.Series) -> pd.DataFrame:
        m = self.mask.to_numpy()
        return pd.DataFrame(
            {"source_row": source_row.to_numpy()[m], "reason": self.reason[m], "reason_code": self.code[m]}, index=self.index[m]
        )


def credit_code_expected(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """GB 32100-2015: (well_formed, expected check character) per code; vectorised over the column.

    well_formed: 18 characters from the code alphabet (no I, O, Z, S, V). The check character
    is C18 = 31 - (sum(Ci * Wi) mod 31), Wi = 3^(i-1) mod 31, with 31 written as 0.
    """
    pos, uniq = pd.factorize(codes.astype(object).where(codes.notna(), None), use_na_sentinel=True)
    s = pd.Series(uniq, dtype=object).astype(str)
    well_u = s.str.fullmatch(f"[{GB32100_CHARS}]{{18}}").fillna(False).to_numpy(bool)
    exp_u = np.full(len(s), None, dtype=object)
    if well_u.any():
        arr = np.frombuffer("".join(s[well_u]).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
        check = (31 - (_LUT[arr[:, :17]] @ GB32100_WEIGHTS) % 31) % 31
        exp_u[well_u] = np.array(list(GB32100_CHARS), dtype=object)[check]
    ok = pos >= 0
    well = np.zeros(len(pos), dtype=bool)
    well[ok] = well_u[pos[ok]]
    expected = np.full(len(pos), None, dtype=object)
    expected[ok] = exp_u[pos[ok]]
    return pd.Series(well, index=codes.index), pd.Series(expected, index=codes.index, dtype=object)


def make_credit_code(prefix17: str) -> str:
    """The full 18-character code for 17 leading characters (for tests and demo data)."""
    vals = np.array([GB32100_CHARS.index(c) for c in prefix17])
    return prefix17 + GB32100_CHARS[(31 - int(vals @ GB32100_WEIGHTS) % 31) % 31]


def add_deposit_key(df: pd.DataFrame) -> pd.DataFrame:
    """deposits' business key: project_code|credit_code|paid_date (empty parts kept empty)."""
    parts = [df[c] if c in df else pd.Series(None, index=df.index, dtype="str") for c in ("project_code", "credit_code")]
    paid = df["paid_date"] if "paid_date" in df else pd.Series(pd.NaT, index=df.index)
    date_text = pd.to_datetime(paid, errors="coerce").dt.strftime("%Y-%m-%d").fillna("")
    key = parts[0].fillna("").astype(str) + "|" + parts[1].fillna("").astype(str) + "|" + date_text
    return df.assign(deposit_key=key)


def validate(norm: Normalised, kind: str, extra: pd.Series | None = None) -> Checked:
    """Run every check on a normalised file; the first occurrence of a business key is kept."""
    data, raw = norm.data, norm.raw
    if kind == "deposits":
        data = add_deposit_key(data)
    p = Problems(data.index)
    if extra is not None:
        p.add(extra.reindex(data.index, fill_value=False), "bad_shape", "该行单元格多于表头（可能有未加引号的逗号或错位）")
    _required(p, data, kind)
    for name, mask in norm.bad.items():
        code = norm.bad_code.get(name, "bad_value")
        p.add(mask, code, lambda m, name=name, code=code: _bad_message(kind, name, code, raw[name][m]))
    _ranges(p, data, kind)
    _credit_codes(p, data, kind)
    for early, late in DATE_ORDER.get(kind, []):
        if early in data and late in data:
            wrong = data[late] < data[early]
            p.add(
                wrong,
                "date_order",
                lambda m, e=early, la=late: (
                    f"{kinds.field_zh(kind, la)}早于{kinds.field_zh(kind, e)}："
                    + raw[la][m].astype(str)
                    + " < "
                    + raw[e][m].astype(str)
                ),
            )
    _duplicates(p, data, kind)
    good = data[~p.mask]
    return Checked(good, p.frame(data["source_row"]))


def _required(p: Problems, data: pd.DataFrame, kind: str) -> None:
    for f in kinds.required(kind):
        col = data[f] if f in data else pd.Series(None, index=data.index)
        p.add(col.isna(), "missing_required", f"缺少必填项：{kinds.field_zh(kind, f)}")
    if kind in ONE_OF:
        names = ONE_OF[kind]
        present = pd.concat([data[f].notna() if f in data else pd.Series(False, index=data.index) for f in names], axis=1).any(
            axis=1
        )
        p.add(~present, "missing_required", f"{'、'.join(kinds.field_zh(kind, f) for f in names)}至少填写一项")


def _bad_message(kind: str, name: str, code: str, raw: pd.Series) -> pd.Series:
    label = kinds.field_zh(kind, name)
    what = {
        "bad_date": "无法识别为日期（可用 2024-03-01、2024/3/1、2024年3月1日）"
        if name not in ("month", "paid_through_month")
        else "无法识别为月份（可用 2024-03、2024年3月）",
        "bad_number": "无法识别为数字",
        "bad_bool": "无法识别为是/否（可用 是/否、有/无、√/×、Y/N、1/0）",
        "bad_coord": "无法识别为经纬度",
        "bad_township": f"无法识别为乡镇（可用：{valid_names()}）",
        "bad_unit": "无法识别为单位（可用 新密市、乡镇名称或 12 位区划代码）",
        "bad_enum": "取值不允许（可用：A/B/C/D）" if kind == "credit" else "取值不允许（可用：一般/较大/重大/特别重大）",
    }.get(code, "格式错误")
    return label + "“" + raw.astype(str) + "”" + what


def _ranges(p: Problems, data: pd.DataFrame, kind: str) -> None:
    table = schema.DATA_TABLES[kind]
    for name in data.columns:
        if name not in table.c:
            continue
        col = table.c[name]
        label = kinds.field_zh(kind, name)
        values = data[name]
        if isinstance(col.type, (sa.Float, sa.Integer)) and name != "year":
            num = pd.to_numeric(values, errors="coerce")
            p.add(num < 0, "negative_value", lambda m, v=num, la=label: la + "不能为负数：" + v[m].astype(str))
        if name == "year":
            y = pd.to_numeric(values, errors="coerce")
            p.add(
                (y < YEAR_MIN) | (y > YEAR_MAX),
                "out_of_range",
                lambda m, y=y, la=label: la + f"应在 {YEAR_MIN}-{YEAR_MAX} 之间：" + y[m].astype(str),
            )
        if name == "rate":
            p.add(pd.to_numeric(values, errors="coerce") > 1, "out_of_range", "缴存比例应在 0-100% 之间")
        if isinstance(col.type, (sa.Date, sa.DateTime)):
            d = pd.to_datetime(values, errors="coerce")
            p.add(
                (d.dt.year < YEAR_MIN) | (d.dt.year > YEAR_MAX),
                "out_of_range",
                lambda m, d=d, la=label: la + f"应在 {YEAR_MIN}-{YEAR_MAX} 年之间：" + d[m].dt.strftime("%Y-%m-%d"),
            )
    for name in ("month", "paid_through_month"):
        if name in data:
            y = _per_value(data[name], lambda u: pd.to_numeric(u.str.slice(0, 4), errors="coerce").astype(float))
            p.add(
                (y < YEAR_MIN) | (y > YEAR_MAX),
                "out_of_range",
                lambda m, name=name: kinds.field_zh(kind, name) + "年份不合理：" + data[name][m].astype(str),
            )


def _credit_codes(p: Problems, data: pd.DataFrame, kind: str) -> None:
    for name in CREDIT_FIELDS:
        if name not in data:
            continue
        s = data[name]
        label = kinds.field_zh(kind, name)
        well, expected = credit_code_expected(s)
        p.add(
            s.notna() & ~well,
            "bad_credit_code",
            lambda m, s=s, la=label: la + "“" + s[m].astype(str) + "”应为 18 位数字或大写字母（不含 I、O、Z、S、V）",
        )
        wrong = well & _per_value(s, lambda u: u.str.slice(17, 18)).ne(expected)
        p.add(
            wrong,
            "bad_credit_code",
            lambda m, s=s, e=expected, la=label: (
                la + "“" + s[m].astype(str) + "”校验位错误（按 GB 32100 应为 " + e[m].astype(str) + "）"
            ),
        )


def _duplicates(p: Problems, data: pd.DataFrame, kind: str) -> None:
    """Among rows otherwise valid, a business key seen earlier in the file is rejected."""
    key = schema.DATA_TABLES[kind].info["key"]
    if not all(k in data for k in key):
        return
    ok = ~p.mask
    sub = data.loc[ok, key + ["source_row"]]
    ids = sub.groupby(key, dropna=False, sort=False).ngroup().to_numpy()  # one id per key (missing parts equal)
    dup_arr = pd.Series(ids).duplicated(keep="first").to_numpy()
    if not dup_arr.any():
        return
    dup = pd.Series(dup_arr, index=sub.index)
    first_row = np.zeros(int(ids.max()) + 1, dtype=np.int64)
    first_row[ids[~dup_arr]] = sub["source_row"].to_numpy(dtype=np.int64)[~dup_arr]  # source row of each key's first row
    first = pd.Series(first_row[ids[dup_arr]], index=sub.index[dup_arr])
    shown = ["project_code", "credit_code", "paid_date"] if kind == "deposits" else key
    label = "、".join(kinds.field_zh(kind, k) for k in shown)
    keys = sub.loc[dup, key].astype(str)
    key_text = keys.iloc[:, 0].str.replace("|", " ", regex=False)
    for k in key[1:]:
        key_text = key_text + " " + keys[k]
    msg = "与第 " + first.astype(str) + f" 行重复（{label}：" + key_text + "）"
    p.add(dup.reindex(data.index, fill_value=False), "duplicate_key", lambda m: msg.reindex(m.index[m]))


def _per_value(s: pd.Series, fn) -> pd.Series:
    """fn over the distinct values of a text column, taken back to every row (months and codes repeat)."""
    pos, uniq = pd.factorize(s, use_na_sentinel=True)
    out = fn(pd.Series(uniq, dtype=s.dtype) if s.dtype == "str" else pd.Series(uniq, dtype="str"))
    return pd.Series(pd.api.extensions.take(out.array, pos, allow_fill=True), index=s.index)


def row_json(raw: pd.DataFrame, rows: pd.Index) -> pd.Series:
    """The source rows kept whole, as JSON objects with the file's own headers (for rejected_rows)."""
    if len(rows) == 0:
        return pd.Series([], dtype="object")
    sub = raw.loc[rows]
    text = sub.to_json(orient="records", force_ascii=False, lines=True, date_format="iso").replace("\\/", "/").splitlines()
    return pd.Series(text, index=rows, dtype="object")


def json_of(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)
