"""Credit grades, the blacklist, its quarterly publication list and each employer's arrears record.

Policy: (十三) grades A/B/C/D assessed every March-May for the previous year; (十四) the
blacklist published once a quarter; (十七) blacklisted or C/D employers are restricted
(joint punishment); (六)(九) an employer's arrears record (past / open cases) drives key
monitoring and its deposit rate. Also holds the small column coercions every policy layer
shares (booleans, dates, months) so that rules, deposits, funds and assessment agree.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from geodata.settings import Rules, get_settings
from layers.base import Filters, LayerData, LayerResult, LegendItem, derived

TRUE_STRINGS = {"true", "1", "1.0", "是", "有", "y", "yes", "√", "已设立", "已开设", "已缴存"}
CLOSED_DEFAULT = ("结案", "已结案")
GRADES = ("A", "B", "C", "D")
QUARTER_RE = re.compile(r"^\d{4}Q[1-4]$")


# ---- coercions shared by the policy layers ---------------------------------------------------

def col(df: pd.DataFrame, name: str, default: Any = np.nan) -> pd.Series:
    """Column `name` of `df`, or a column of `default` when the file did not carry it."""
    if name in df.columns:
        return df[name]
    return pd.Series(default, index=df.index, dtype=object if isinstance(default, str) or default is None else None)


def as_bool(s: pd.Series) -> pd.Series:
    """True/1/"是"/"有" -> True; everything else (False, 0, "否", empty) -> False."""
    s = pd.Series(s)
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.fillna(False).astype(bool)
    return s.astype("string").str.strip().str.lower().isin(TRUE_STRINGS).fillna(False).astype(bool)


def as_date(s: pd.Series) -> pd.Series:
    """Dates (date, datetime, 'YYYY-MM-DD' strings) as naive datetime64; unparseable -> NaT."""
    out = pd.to_datetime(pd.Series(s), errors="coerce")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out


def as_num(s: pd.Series) -> pd.Series:
    """Numbers as float; blanks and text -> NaN."""
    return pd.to_numeric(pd.Series(s), errors="coerce").astype(float)


def as_text(s: pd.Series) -> pd.Series:
    """Stripped strings; missing stays <NA>. A text column is stripped once per distinct value."""
    s = pd.Series(s)
    if not isinstance(s.dtype, pd.StringDtype) or len(s) < 64:
        return s.astype("string").str.strip()
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    clean = pd.Series(uniq).astype("string").str.strip().array
    return pd.Series(clean.take(codes, allow_fill=True), index=s.index, name=s.name)


def month_index(s: pd.Series) -> pd.Series:
    """'YYYY-MM' (or a date) -> year*12 + month-1 as float (NaN when missing); parsed once per distinct value."""
    s = pd.Series(s)
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    txt = pd.Series(uniq, dtype=object).astype("string").str.slice(0, 7)
    d = pd.to_datetime(txt + "-01", errors="coerce", format="%Y-%m-%d")
    table = np.append((d.dt.year * 12 + d.dt.month - 1).astype(float).to_numpy(), np.nan)
    return pd.Series(table[codes], index=s.index, name=s.name, dtype=float)


def month_str(idx: int | float) -> str:
    """Inverse of month_index for one value: 'YYYY-MM'."""
    i = int(idx)
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def month_end(month: str) -> pd.Timestamp:
    """Last day of 'YYYY-MM'."""
    return pd.Timestamp(f"{month}-01") + pd.offsets.MonthEnd(0)


def month_zh(month: str) -> str:
    """'2024-03' -> '2024年3月'."""
    return f"{int(month[:4])}年{int(month[5:7])}月"


def date_zh(s: pd.Series, day: bool = True) -> pd.Series:
    """Dates as '2024年3月5日' (or '2024年3月' with day=False); NaT -> <NA>."""
    d = pd.to_datetime(pd.Series(s), errors="coerce")
    out = d.dt.year.astype("Int64").astype("string") + "年" + d.dt.month.astype("Int64").astype("string") + "月"
    return out + d.dt.day.astype("Int64").astype("string") + "日" if day else out


def escape(s: pd.Series) -> pd.Series:
    """Text made safe for map labels (HTML-escaped; missing -> '')."""
    return pd.Series(s).astype("string").fillna("").map(html.escape).astype(object)


def rules_of(rules: Rules | None) -> Rules:
    return rules if rules is not None else get_settings().rules


# ---- arrears record (六)(九) -----------------------------------------------------------------

def case_links(data: LayerData) -> pd.DataFrame:
    """Every case's entities: columns case_no, entity_type ('project'|'employer'), entity_id.

    Project: the case's project_code. Employer: its credit_code; else its employer_name matched
    exactly to an enterprise name; else the contractor of its project ((一) 总包负总责).
    Computed once per read of the frames (LayerData.shared); callers must not modify it.
    """
    return derived(data, ("cases", "enterprises", "projects"), ("credit.case_links",), lambda: _case_links(data))


def _case_links(data: LayerData) -> pd.DataFrame:
    c = data.cases
    if c is None or c.empty:
        return pd.DataFrame(columns=["case_no", "entity_type", "entity_id"])
    case_no = as_text(col(c, "case_no"))
    pcode = as_text(col(c, "project_code", None))
    ccode = as_text(col(c, "credit_code", None)).str.upper()
    if not data.enterprises.empty and "employer_name" in c.columns:
        by_name = dict(zip(as_text(data.enterprises["name"]), as_text(data.enterprises["credit_code"]).str.upper(), strict=False))
        ccode = ccode.fillna(as_text(c["employer_name"]).map(by_name))
    if not data.projects.empty:
        contractor = dict(zip(as_text(data.projects["project_code"]),
                              as_text(col(data.projects, "contractor_credit_code", None)).str.upper(), strict=False))
        ccode = ccode.fillna(pcode.map(contractor))
    proj = pd.DataFrame({"case_no": case_no, "entity_type": "project", "entity_id": pcode})
    emp = pd.DataFrame({"case_no": case_no, "entity_type": "employer", "entity_id": ccode})
    out = pd.concat([proj, emp], ignore_index=True)
    return out[out["entity_id"].notna() & (out["entity_id"] != "")].reset_index(drop=True)


def cases(data: LayerData) -> pd.DataFrame:
    """The case columns the policy layers use, normalised once per read of the frames (do not modify)."""
    def build() -> pd.DataFrame:
        c = data.cases if data.cases is not None else pd.DataFrame()
        return pd.DataFrame({
            "case_no": as_text(col(c, "case_no")), "received": as_date(col(c, "received_date")),
            "closed_date": as_date(col(c, "closed_date")), "amount": as_num(col(c, "amount")),
            "workers": as_num(col(c, "workers")), "status": as_text(col(c, "status", None)),
            "employer_name": as_text(col(c, "employer_name", None)), "project_code": as_text(col(c, "project_code", None)),
        })

    return derived(data, ("cases",), ("credit.cases",), build)


def case_state(data: LayerData, as_of: pd.Timestamp, rules: Rules | None = None) -> pd.DataFrame:
    """Cases received on or before `as_of` with received, closed (bool at as_of), amount, workers."""
    r = rules_of(rules)
    c = cases(data)
    received, closed_date, status = c["received"], c["closed_date"], c["status"]
    # a closed date counts from that day; a 结案 status without a date counts as closed
    by_status = closed_date.isna() & status.isin(r.case_closed_statuses).fillna(False)
    closed = (closed_date.notna() & (closed_date <= as_of)) | by_status
    out = pd.DataFrame({
        "case_no": c["case_no"], "received": received, "closed": closed.astype(bool),
        "closed_date": closed_date.where(closed_date <= as_of), "amount": c["amount"],
        "workers": c["workers"], "status": status, "employer_name": c["employer_name"],
        "project_code": c["project_code"],
    })
    return out[out["received"].notna() & (out["received"] <= as_of)].reset_index(drop=True)


def arrears_record(data: LayerData, as_of: pd.Timestamp, rules: Rules | None = None) -> pd.DataFrame:
    """Per entity (entity_type, entity_id): n_cases, n_open, last_case (date), case_nos (text), open_amount.

    Computed once per read of the frames, date and rules (LayerData.shared); callers must not modify it.
    """
    r = rules_of(rules)
    return derived(data, ("cases", "enterprises", "projects"), ("credit.arrears_record", as_of, r.model_dump_json()),
                   lambda: _arrears_record(data, as_of, r))


def _arrears_record(data: LayerData, as_of: pd.Timestamp, rules: Rules) -> pd.DataFrame:
    state = case_state(data, as_of, rules)
    links = case_links(data)
    m = links.merge(state, on="case_no", how="inner")
    if m.empty:
        return pd.DataFrame(columns=["entity_type", "entity_id", "n_cases", "n_open", "last_case", "case_nos", "open_amount"])
    m["open"] = ~m["closed"]
    m["open_amount"] = m["amount"].where(m["open"], 0.0).fillna(0.0)
    g = m.groupby(["entity_type", "entity_id"], sort=True)
    out = g.agg(n_cases=("case_no", "nunique"), n_open=("open", "sum"), last_case=("received", "max"),
                open_amount=("open_amount", "sum"))
    # each entity's distinct case numbers, sorted, joined (one sort for all entities instead of one per entity)
    nos = m[["entity_type", "entity_id", "case_no"]].drop_duplicates().sort_values(["entity_type", "entity_id", "case_no"])
    out.insert(3, "case_nos", nos.groupby(["entity_type", "entity_id"], sort=True)["case_no"].agg("、".join))
    out["n_open"] = out["n_open"].astype(int)
    return out.reset_index()


# ---- grades and blacklist (十三)(十四)(十七) --------------------------------------------------

def credit_rows(data: LayerData, rules: Rules | None = None) -> pd.DataFrame:
    """The credit table normalised: credit_code, year, grade, blacklisted, listed, delisted, effective, reason.

    Computed once per read of the frames and rules (LayerData.shared); callers must not modify it.
    """
    r = rules_of(rules)
    return derived(data, ("credit",), ("credit.credit_rows", r.model_dump_json()), lambda: _credit_rows(data, r))


def _credit_rows(data: LayerData, r: Rules) -> pd.DataFrame:
    c = data.credit
    if c is None or c.empty:
        return pd.DataFrame(columns=["credit_code", "year", "grade", "blacklisted", "listed", "delisted", "effective", "reason"])
    year = as_num(col(c, "year"))
    # (十三) the grade of year Y is assessed in March-May of Y (on the conduct of Y-1) and is in
    # force from month `credit_effective_month` of Y until the next year's grade
    effective = pd.to_datetime(year.astype("Int64").astype("string") + f"-{r.credit_effective_month:02d}-01", errors="coerce")
    black = as_bool(col(c, "blacklisted", False))
    listed = as_date(col(c, "listed_date"))
    out = pd.DataFrame({
        "credit_code": as_text(col(c, "credit_code")).str.upper(), "year": year.astype("Int64"),
        "grade": as_text(col(c, "grade", None)).str.upper(), "blacklisted": black,
        "listed": listed.where(~black | listed.notna(), effective.where(black)),
        "delisted": as_date(col(c, "delisted_date")), "effective": effective, "reason": as_text(col(c, "reason", None)),
    })
    return out[out["credit_code"].notna()].reset_index(drop=True)


def grades_as_of(data: LayerData, as_of: pd.Timestamp, rules: Rules | None = None) -> pd.DataFrame:
    """The grade in force on `as_of` per credit_code (latest year already effective): credit_code, grade, grade_year."""
    cr = credit_rows(data, rules)
    cr = cr[cr["grade"].notna() & (cr["effective"] <= as_of)]
    latest = cr.sort_values(["credit_code", "year"]).groupby("credit_code").tail(1)
    return latest[["credit_code", "grade", "year"]].rename(columns={"year": "grade_year"}).reset_index(drop=True)


def blacklist_as_of(data: LayerData, as_of: pd.Timestamp, rules: Rules | None = None) -> pd.DataFrame:
    """(十四) The blacklist on `as_of`: one row per credit_code listed on or before and not yet delisted."""
    cr = credit_rows(data, rules)
    on = cr[cr["blacklisted"] & (cr["listed"] <= as_of) & (cr["delisted"].isna() | (cr["delisted"] > as_of))]
    on = on.sort_values(["credit_code", "listed"]).groupby("credit_code").tail(1)
    return on[["credit_code", "listed", "delisted", "reason"]].reset_index(drop=True)


def restricted_as_of(data: LayerData, as_of: pd.Timestamp, rules: Rules | None = None) -> pd.DataFrame:
    """(十七)(二十六) Employers under joint punishment (blacklisted or C/D): credit_code, grade, blacklisted, why.

    Computed once per read of the frames, date and rules (LayerData.shared); callers must not modify it.
    """
    r = rules_of(rules)
    return derived(data, ("credit",), ("credit.restricted", as_of, r.model_dump_json()), lambda: _restricted(data, as_of, r))


def _restricted(data: LayerData, as_of: pd.Timestamp, r: Rules) -> pd.DataFrame:
    g = grades_as_of(data, as_of, r)
    g = g[g["grade"].isin(r.guarantee_grades)]
    b = blacklist_as_of(data, as_of, r)
    out = pd.merge(g[["credit_code", "grade", "grade_year"]], b[["credit_code", "listed"]], on="credit_code", how="outer")
    out["blacklisted"] = out["listed"].notna()
    why_grade = ("诚信等级" + out["grade"].astype("string") + "（" + out["grade_year"].astype("string") + "年度）").fillna("")
    why_black = (date_zh(out["listed"]) + "列入黑名单").fillna("")
    out["why"] = (why_black + "；" + why_grade).str.strip("；")
    return out.reset_index(drop=True)


def grades_by_year(data: LayerData, rules: Rules | None = None) -> pd.DataFrame:
    """(十三) A wide table: one row per employer, one column per year with its grade."""
    cr = credit_rows(data, rules)
    if cr.empty:
        return pd.DataFrame(columns=["credit_code"])
    wide = cr.pivot_table(index="credit_code", columns="year", values="grade", aggfunc="last")
    wide.columns = [f"{int(y)}年度" for y in wide.columns]
    names = _names(data)
    wide.insert(0, "单位名称", wide.index.map(names))
    return wide.reset_index().rename(columns={"credit_code": "统一社会信用代码"})


def quarter_bounds(quarter: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """'2024Q2' -> (2024-04-01, 2024-06-30)."""
    p = pd.Period(quarter.upper().replace("-", ""), freq="Q")
    return p.start_time.normalize(), p.end_time.normalize()


PUBLICATION_COLUMNS = ["季度", "类别", "统一社会信用代码", "单位名称", "所属乡镇", "诚信等级", "列入日期", "移出日期", "列入原因"]


def publication_list(data: LayerData, quarter: str, rules: Rules | None = None) -> pd.DataFrame:
    """(十四) The quarter's publication: 新列入 (listed in it), 移出 (delisted in it), 继续公示 (listed before, still on)."""
    start, end = quarter_bounds(quarter)
    cr = credit_rows(data, rules)
    cr = cr[cr["blacklisted"] & cr["listed"].notna()].sort_values(["credit_code", "listed"]).groupby("credit_code").tail(1)
    joined = cr["listed"].between(start, end)
    left = cr["delisted"].between(start, end)
    stays = (cr["listed"] < start) & (cr["delisted"].isna() | (cr["delisted"] > end))
    kind = np.select([left, joined, stays], ["移出", "新列入", "继续公示"], default="")
    out = cr.assign(kind=kind)
    out = out[out["kind"] != ""]
    grades = grades_as_of(data, end, rules).set_index("credit_code")["grade"]
    ent = _enterprise_info(data)
    table = pd.DataFrame({
        "季度": quarter.upper(), "类别": out["kind"], "统一社会信用代码": out["credit_code"],
        "单位名称": out["credit_code"].map(ent["name"]), "所属乡镇": out["credit_code"].map(ent["township"]),
        "诚信等级": out["credit_code"].map(grades), "列入日期": out["listed"].dt.strftime("%Y-%m-%d"),
        # a removal after the quarter was not known when the list was published
        "移出日期": out["delisted"].where(out["delisted"] <= end).dt.strftime("%Y-%m-%d"), "列入原因": out["reason"],
    }, columns=PUBLICATION_COLUMNS)
    order = {"新列入": 0, "移出": 1, "继续公示": 2}
    table = table.sort_values(["类别", "统一社会信用代码"], key=lambda s: s.map(order) if s.name == "类别" else s)
    return table.reset_index(drop=True)


def publication_xlsx(table: pd.DataFrame, target: str | Path | IO[bytes]) -> Path | IO[bytes]:
    """Write the quarterly list to xlsx, a path or a binary file (formula-like cells neutralised)."""
    if hasattr(target, "write"):
        from layers.exports import write_xlsx

        write_xlsx({"黑名单公示": table}, target)
        return target
    from layers.assessment import write_sheets  # one xlsx writer for the policy layers

    return write_sheets({"黑名单公示": table}, target)


def is_quarter(q: Any) -> bool:
    """'2024Q2' (what a URL or a route may carry)."""
    return isinstance(q, str) and QUARTER_RE.match(q) is not None


def quarter_zh(quarter: str) -> str:
    """'2024Q2' -> '2024年第2季度'."""
    return f"{quarter[:4]}年第{quarter[-1]}季度"


def quarter_of(when: pd.Timestamp) -> str:
    return str(pd.Period(when, freq="Q")).upper()


def event_quarters(data: LayerData, rules: Rules | None = None) -> list[str]:
    """(十四) Quarters in which an employer joined or left the blacklist, oldest first."""
    cr = credit_rows(data, rules)
    cr = cr[cr["blacklisted"]]
    when = pd.concat([cr["listed"], cr["delisted"]]).dropna()
    return sorted({quarter_of(t) for t in when.drop_duplicates()})


BLACKLIST_COLUMNS = ["统一社会信用代码", "单位名称", "所属乡镇", "诚信等级", "列入日期", "列入原因"]


def blacklist_table(data: LayerData, as_of: pd.Timestamp, rules: Rules | None = None) -> pd.DataFrame:
    """(十四) The blacklist on `as_of` with Chinese headers: who, where, grade in force, since when, why."""
    b = blacklist_as_of(data, as_of, rules)
    ent = _enterprise_info(data)
    grades = grades_as_of(data, as_of, rules).set_index("credit_code")["grade"]
    out = pd.DataFrame({
        "统一社会信用代码": b["credit_code"], "单位名称": b["credit_code"].map(ent["name"]),
        "所属乡镇": b["credit_code"].map(ent["township"]), "诚信等级": b["credit_code"].map(grades),
        "列入日期": b["listed"].dt.strftime("%Y-%m-%d"), "列入原因": b["reason"],
    }, columns=BLACKLIST_COLUMNS)
    return out.sort_values(["列入日期", "统一社会信用代码"], ascending=[False, True]).reset_index(drop=True)


def grade_distribution(data: LayerData, rules: Rules | None = None) -> pd.DataFrame:
    """(十三) Employers per grade per year: 年度, A, B, C, D, 合计 (one row per year, newest first)."""
    cr = credit_rows(data, rules)
    cr = cr[cr["grade"].isin(GRADES) & cr["year"].notna()]
    if cr.empty:
        return pd.DataFrame(columns=["年度", *GRADES, "合计"])
    t = pd.crosstab(cr["year"].astype(int), cr["grade"]).reindex(columns=list(GRADES), fill_value=0)
    t["合计"] = t.sum(axis=1)
    t = t.sort_index(ascending=False)
    t.index = [f"{y}年度" for y in t.index]
    return t.rename_axis("年度").reset_index()


def _names(data: LayerData) -> pd.Series:
    e = data.enterprises
    if e is None or e.empty:
        return pd.Series(dtype=object)
    return pd.Series(as_text(e["name"]).to_numpy(), index=as_text(e["credit_code"]).str.upper()).groupby(level=0).first()


def _enterprise_info(data: LayerData) -> pd.DataFrame:
    """name and township name by credit code (from enterprises, else from projects' contractors).

    Computed once per read of the frames (LayerData.shared); callers must not modify it.
    """
    return derived(data, ("enterprises", "projects"), ("credit.enterprise_info",), lambda: _enterprise_info_of(data))


def _enterprise_info_of(data: LayerData) -> pd.DataFrame:
    from geodata.townships import BY_CODE

    e = data.enterprises
    frames = []
    if e is not None and not e.empty:
        frames.append(pd.DataFrame({"credit_code": as_text(e["credit_code"]).str.upper(), "name": as_text(e["name"]),
                                    "township_code": as_text(col(e, "township_code", None))}))
    p = data.projects
    if p is not None and not p.empty and "contractor_credit_code" in p.columns:
        frames.append(pd.DataFrame({"credit_code": as_text(p["contractor_credit_code"]).str.upper(),
                                    "name": as_text(col(p, "contractor", None)), "township_code": pd.NA}))
    if not frames:
        return pd.DataFrame(columns=["name", "township_code", "township"])
    info = pd.concat(frames, ignore_index=True).dropna(subset=["credit_code"]).groupby("credit_code").first()
    info["township"] = info["township_code"].map(lambda c: BY_CODE[c].name if c in BY_CODE else pd.NA)
    return info


# ---- the layer ------------------------------------------------------------------------------

class CreditLayer:
    """失信单位：each township's blacklisted or C/D employers now ((十四)(十七)); city scale."""

    key = "credit"
    title = "黑名单及C/D级单位"
    kind = "risk"
    higher_is_better = False

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        as_of = pd.Timestamp(filters.as_of) if filters.as_of else pd.Timestamp.today().normalize()
        # the month plays no part: the employers and points of a date and township, once per read of the frames
        key = ("credit.layer", as_of.strftime("%Y-%m-%d"), str(as_of), filters.township or None,
               get_settings().rules.model_dump_json())
        bad, pts = derived(data, ("credit", "enterprises", "projects"), key, lambda: _layer_rows(data, as_of, filters))
        counts = bad.groupby("township_code").size()
        codes = data.townships["code"] if not data.townships.empty else pd.Series(dtype=str)
        by = pd.DataFrame({"code": codes.to_numpy()})
        by["value"] = by["code"].map(counts).fillna(0).astype(float)
        by["label"] = by["value"].astype(int).astype(str) + "家"
        table = pd.DataFrame({"统一社会信用代码": bad["credit_code"], "单位名称": bad["name"], "诚信等级": bad["grade"],
                              "黑名单": np.where(bad["blacklisted"], "是", "否"), "原因": bad["why"]})
        from layers import mapfig
        from layers.palettes import amount_classes

        classes = amount_classes(by["value"], "家")
        return LayerResult(key=self.key, title=self.title, unit="家", by_township=by, points=pts, table=table,
                           legend=classes.legend() + [LegendItem("黑名单", "#d62728"), LegendItem("C/D级", "#ff7f0e")],
                           traces=[mapfig.choropleth_trace(by, classes, self.title)],
                           notes=[f"截至{date_zh(pd.Series([as_of])).iloc[0]}；(十三) 年度等级于当年"
                                  f"{get_settings().rules.credit_effective_month}月起生效"])

    def export_folium(self, result: LayerResult, fmap: Any) -> None:
        from layers.folium_export import add_layer

        add_layer(result, fmap)


def _layer_rows(data: LayerData, as_of: pd.Timestamp, filters: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The credit layer's employers (restricted on `as_of`, of the township when one is chosen) and their points."""
    bad = restricted_as_of(data, as_of)
    ent = _enterprise_info(data)
    bad = bad.assign(name=bad["credit_code"].map(ent["name"]), township_code=bad["credit_code"].map(ent["township_code"]))
    if filters.township:
        bad = bad[bad["township_code"] == filters.township]
    pts = pd.DataFrame()
    e = data.enterprises
    if e is not None and not e.empty and {"lon", "lat"} <= set(e.columns):
        loc = pd.DataFrame({"credit_code": as_text(e["credit_code"]).str.upper(), "lon": as_num(e["lon"]),
                            "lat": as_num(e["lat"])})
        pts = bad.merge(loc, on="credit_code", how="inner").dropna(subset=["lon", "lat"])
        pts = pts.assign(label="<b>" + escape(pts["name"].fillna(pts["credit_code"])) + "</b><br>" + escape(pts["why"]),
                         color=np.where(pts["blacklisted"], "#d62728", "#ff7f0e"), size=10,
                         link="/enterprise/" + pts["credit_code"])
    return bad, pts


LAYER = CreditLayer()
