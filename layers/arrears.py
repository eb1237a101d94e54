"""Arrears layers: cases as points sized by amount and coloured by status; open cases, amount and workers per township.

The month range defaults to the 12 months up to the reference month ("new" and "closed in
the range" count there; closed cases older than the range are not drawn).
A case is open at the reference date (end of the month range, see layers/units.ref_date)
when it was received by then and not closed by then: closed = a 结案日期 on or before the
date, or status 结案 without a date. "Amount owed" = 欠薪金额 − 追回金额 of open cases, in
万元 (十二)(十九). Cases with an unreported status count as open (在办).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geodata.settings import get_settings
from layers import mapfig
from layers.base import DERIVED, Filters, LayerData, LayerResult, LazyTable, LegendItem, derived, memo, of_frame
from layers.palettes import CLOSED_STATUS, OPEN_STATUSES, STATUS_COLORS, amount_classes, status_color
from layers.units import (
    as_dates,
    as_numbers,
    as_text,
    column,
    fmt_dates,
    links,
    month_range,
    month_start,
    ref_date,
)

METRICS = {
    # key: (title, unit, by_township column)
    "arrears": ("欠薪金额", "万元", "amount_wan"),
    "arrears_cases": ("在办欠薪案件", "件", "open_cases"),
    "arrears_workers": ("欠薪涉及人数", "人", "workers"),
}


def case_state(data: LayerData, filters: Filters | None = None) -> pd.DataFrame:
    """Cases normalised at the reference date: open, display status, owed amount, link.

    Memoised on `data` like coverage_rules.project_status.
    """
    filters = filters or Filters()
    memo = data.__dict__.setdefault("_wagemap_memo", {})
    key = ("cases", filters.month_from, filters.month_to, filters.as_of, filters.township)
    if key not in memo:
        memo[key] = _case_state(data, filters)
    return memo[key]


def _case_state(data: LayerData, filters: Filters) -> pd.DataFrame:
    ref = ref_date(filters)
    start = month_start(month_range(filters)[0])  # month_from, default the 12 months up to the reference month
    base, rows = memo(data, ("cases.at", ref, filters.township), lambda: _state_at(data, ref, filters.township))
    out = base.copy(deep=False)  # the columns of the window's range and the links are added to this copy only
    closed = ~out["open"]
    out["new_in_range"] = out["received"] >= start
    out["closed_in_range"] = closed & (out["closed_at"] >= start)
    c = _cases_of(data)
    out["link"] = pd.Series(_filled(c, "link", rows, lambda r: (_links(c.norm.iloc[r]).to_numpy(dtype=object),))[0],
                            index=out.index, dtype=object) if len(rows) else _links(out)
    out.attrs["ref_date"] = ref.strftime("%Y-%m-%d")
    out.__dict__.setdefault(DERIVED, {})[("arrears.rows",)] = (c, rows)  # where each row comes from (case_points)
    return out


def _state_at(data: LayerData, ref: pd.Timestamp, township: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The cases at the reference date (not yet the range columns and links) and their rows in the normalised cases.

    Shared by every month range ending at the same date (the trend asks for the default range).
    """
    c = _cases_of(data)
    rows = c.by_township.get(township, np.array([], dtype=np.int64)) if township else c.dated
    rows = rows[c.norm["received"].to_numpy()[rows] <= ref.to_datetime64()]
    if not c.unique_numbers:
        rows = rows[~pd.Series(c.number[rows]).duplicated().to_numpy()]  # a case number twice: its first row
    out = c.norm.iloc[rows].reset_index(drop=True)
    closed = (out["closed"] <= ref) | (out["closed"].isna() & c.closed_status[rows])
    out["open"] = ~closed
    out["closed_at"] = out["closed"].where(closed, pd.NaT).fillna(out["received"].where(closed))
    shown = pd.Series(c.shown[rows], index=out.index, dtype=object)
    out["shown_status"] = shown.where(~(out["open"] & (shown == CLOSED_STATUS)), "在办")
    out["owed"] = (out["amount"] - out["recovered"]).clip(lower=0.0).where(out["open"], 0.0)
    return out, rows


@dataclass
class _Cases:
    """Every case normalised, with what does not depend on the date: the number of its case_no, the rows
    that can be counted (received date and case number known) in all and by township, and per-row texts
    (link, point label parts) made on first use of each row and kept for the other windows.

    Texts are pure functions of the row: two threads filling the same rows write the same values.
    """

    norm: pd.DataFrame
    number: np.ndarray
    dated: np.ndarray
    by_township: dict
    unique_numbers: bool  # no case number twice among the dated rows
    closed_status: np.ndarray  # per row: status 结案
    shown: np.ndarray  # per row: the status shown (在办 where not one of the known ones) before the date's check
    town_number: np.ndarray  # per row: number of its township code in town_codes (-1: none)
    town_codes: np.ndarray  # the township codes, sorted
    shown_number: np.ndarray  # per row: number of its `shown` in shown_names
    shown_names: np.ndarray
    texts: dict = field(default_factory=dict)  # name -> (done per row, one object array per part)


def _cases_of(data: LayerData) -> _Cases:
    return derived(data, ("cases",), ("arrears.case_keys",), lambda: _make_cases(data))


def _make_cases(data: LayerData) -> _Cases:
    norm = derived(data, ("cases",), ("arrears.cases",), lambda: _normalised(data.cases))
    number = pd.factorize(norm["case_no"].astype(object), use_na_sentinel=True)[0]
    dated = np.flatnonzero((norm["received"].notna() & norm["case_no"].notna()).to_numpy(dtype=bool))
    towns = norm["township_code"].to_numpy()[dated]
    by_township = {str(k): dated[v] for k, v in pd.Series(towns).groupby(towns, sort=False).indices.items()}
    status = norm["status"]
    numbers = number[dated]
    town_number, town_codes = pd.factorize(norm["township_code"].astype(object), sort=True, use_na_sentinel=True)
    shown = status.where(status.isin([*OPEN_STATUSES, CLOSED_STATUS]).fillna(False), "在办").to_numpy(dtype=object)
    shown_number, shown_names = pd.factorize(shown)
    return _Cases(norm=norm, number=number, dated=dated, by_township=by_township,
                  unique_numbers=len(np.unique(numbers)) == len(numbers),
                  closed_status=status.eq(CLOSED_STATUS).fillna(False).to_numpy(dtype=bool), shown=shown,
                  town_number=town_number, town_codes=np.asarray(town_codes, dtype=object),
                  shown_number=shown_number, shown_names=np.asarray(shown_names, dtype=object))


def _filled(c: _Cases, name: str, rows: np.ndarray, make: Callable[[np.ndarray], tuple]) -> list[np.ndarray]:
    """The parts of text `name` at `rows`; `make(rows)` (a tuple: one array per part) runs for the rows not made yet."""
    n = len(c.norm)
    done, parts = c.texts.setdefault(name, (np.zeros(n, dtype=bool), {}))
    todo = np.unique(rows[~done[rows]])
    if len(todo):
        for i, values in enumerate(make(todo)):
            parts.setdefault(i, np.full(n, None, dtype=object))[todo] = values
        done[todo] = True  # after the values
    return [parts[i][rows] for i in sorted(parts)]


def _normalised(cases: pd.DataFrame | None) -> pd.DataFrame:
    """Every case's columns normalised (text, dates, numbers), once per read of the frames; do not modify."""
    c = cases if cases is not None else pd.DataFrame()
    i = c.index
    out = pd.DataFrame({
        k: as_text(column(c, k), i)
        for k in ("case_no", "township_code", "source", "project_code", "credit_code", "employer_name", "address", "status")
    }, index=i)
    out["received"] = as_dates(column(c, "received_date"), i)
    out["closed"] = as_dates(column(c, "closed_date"), i)
    out["amount"] = as_numbers(column(c, "amount"), i).fillna(0.0)
    out["recovered"] = as_numbers(column(c, "recovered"), i).fillna(0.0)
    out["advanced"] = as_numbers(column(c, "advanced"), i).fillna(0.0)
    out["workers"] = as_numbers(column(c, "workers"), i).fillna(0.0)
    out["lon"] = as_numbers(column(c, "lon"), i)
    out["lat"] = as_numbers(column(c, "lat"), i)
    return out


def _links(c: pd.DataFrame) -> pd.Series:
    """Where a click on the case goes: its project, else its employer, else nowhere ('')."""
    proj = links("/project/", c["project_code"])
    ent = links("/enterprise/", c["credit_code"])
    return proj.where(proj != "", ent).astype(object)


def township_arrears(cs: pd.DataFrame, towns: pd.DataFrame) -> pd.DataFrame:
    """Per township: open cases, amount owed (万元), workers in open cases, new and closed in the range."""
    o = cs["open"]
    number, codes = _township_numbers(cs)
    frame = pd.DataFrame({
        "code": number, "open_cases": o.astype(int), "amount_wan": cs["owed"],
        "workers": cs["workers"].where(o, 0.0), "new_cases": cs["new_in_range"].astype(int),
        "closed_cases": cs["closed_in_range"].astype(int), "advanced_wan": cs["advanced"],
    })
    # grouped by the number of the code (numbers in the order of the codes): the sums of a grouping by the code itself
    g = frame.groupby("code", as_index=False).sum()
    g = g[g["code"].to_numpy() >= 0]
    g = g.assign(code=codes[g["code"].to_numpy()])
    out = towns[["code", "name"]].merge(g, on="code", how="left")
    for col in ("open_cases", "amount_wan", "workers", "new_cases", "closed_cases", "advanced_wan"):
        out[col] = out[col].fillna(0)
    return out


def _township_numbers(cs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per case: the number of its township code (-1: none) and the codes, sorted (made once per read for a
    case_state frame, from its normalised rows)."""
    made = cs.__dict__.get(DERIVED, {}).get(("arrears.rows",))
    if made is not None:
        c, rows = made
        return c.town_number[rows], c.town_codes
    number, codes = pd.factorize(cs["township_code"].astype(object), sort=True, use_na_sentinel=True)
    return number, np.asarray(codes, dtype=object)


class ArrearsLayer:
    """Arrears by township (one metric per layer) with the case points over it."""

    kind = "arrears"
    higher_is_better = False

    def __init__(self, key: str):
        self.key = key
        self.title, self.unit, self.column = METRICS[key]

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        cs = case_state(data, filters)
        towns = pd.DataFrame({"code": data.townships["code"].astype(str), "name": data.townships["name"].astype(str)})
        if filters.township:
            towns = towns[towns["code"] == filters.township].reset_index(drop=True)
        # the three layers of a window share the sums and labels (kept on the window's case state)
        by, labels = of_frame(cs, ("arrears.by_township", filters.township), lambda: _by_township(cs, towns))
        by = by.copy()
        by["value"] = by[self.column].astype(float)
        by["label"] = labels
        classes = amount_classes(by["value"], self.unit)
        points, notes = case_points(cs)
        ref = cs.attrs.get("ref_date", "")
        names = dict(zip(towns["code"], towns["name"], strict=True))
        notes = [f"截至{ref}在办案件；欠薪金额 = 涉及金额 − 已追回金额（万元）", *notes]
        legend = classes.legend() + status_legend(cs)
        shown = _in_table(cs)
        return LayerResult(
            key=self.key, title=self.title, unit=self.unit, by_township=by, points=points,
            table=LazyTable(lambda: case_table(cs[shown], names), int(shown.sum()), TABLE_COLUMNS), legend=legend,
            notes=notes, traces=[mapfig.choropleth_trace(by, classes, self.title), mapfig.point_trace(points, "欠薪案件")],
        )

    def export_folium(self, result: LayerResult, fmap) -> None:
        from layers.folium_export import add_layer

        add_layer(result, fmap)


def _in_table(cs: pd.DataFrame) -> pd.Series:
    """The cases of the layers' table: open at the reference date or closed within the range."""
    return of_frame(cs, ("arrears.in_table",), lambda: cs["open"] | cs["closed_in_range"])


def _by_township(cs: pd.DataFrame, towns: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """township_arrears and its labels (do not modify them: the three layers copy the frame)."""
    by = township_arrears(cs, towns)
    return by, _labels(by)


def _labels(by: pd.DataFrame) -> list[str]:
    return [
        f"在办{int(n)}件，欠薪{a:,.1f}万元，涉及{int(w)}人"
        for n, a, w in zip(by["open_cases"], by["amount_wan"], by["workers"], strict=True)
    ]


def point_size(amount_wan: pd.Series) -> pd.Series:
    """Marker diameter (px) from the amount: 6 px + 3·√万元, 6-30 px (fixed scale, comparable across views)."""
    return (6.0 + 3.0 * np.sqrt(amount_wan.clip(lower=0.0))).clip(6.0, 30.0)


CLOSED_POINT = "#bdbdbd"  # closed cases: small light-grey dots under the open ones


def case_points(cs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Open cases (sized by amount, warning colours) and cases closed within the range (small grey), labels escaped.

    Made once per case_state frame (kept on it: the overview draws them under every indicator); do not modify.
    """
    return of_frame(cs, ("case_points", get_settings().max_points_per_layer), lambda: _case_points(cs))


def _label_parts(c: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """A case point's label before and after its status (which depends on the date); `c` not empty."""
    esc = lambda s: s.fillna("").astype(str).map(html.escape)  # noqa: E731
    head = "<b>案件 " + esc(c["case_no"]) + "</b><br>" + esc(c["employer_name"]) + "<br>状态："
    tail = ("<br>欠薪金额：" + c["amount"].map(lambda v: f"{v:,.1f}万元")
            + "（未追回" + (c["amount"] - c["recovered"]).clip(lower=0).map(lambda v: f"{v:,.1f}万元") + "）"
            + "<br>涉及人数：" + c["workers"].round().astype(int).astype(str) + "人"
            + "<br>受理日期：" + fmt_dates(c["received"]))
    return head, tail


def _case_points(cs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    drawn = np.flatnonzero(((cs["open"] | cs["closed_in_range"]) & cs["lon"].notna() & cs["lat"].notna()).to_numpy())
    # which points are kept and in which order, from the two columns that decide it (labels for those only);
    # np.lexsort is stable and puts NaN last, as sort_values(kind="stable") does (amount descending: -amount)
    is_open, minus = cs["open"].to_numpy(dtype=bool)[drawn], -cs["amount"].to_numpy(dtype=float)[drawn]
    limit = get_settings().max_points_per_layer
    notes = []
    kept = np.arange(len(drawn))
    if len(kept) > limit:  # open first, largest first
        kept = np.lexsort((minus, ~is_open))[:limit]
        notes.append(f"案件点过多，仅显示{limit}件（在办、金额大者优先）")
    # drawn in order: closed (small, grey) first, then open cases largest first, so small ones on top stay clickable
    kept = drawn[kept[np.lexsort((minus[kept], is_open[kept]))]]
    c = cs.iloc[kept]
    made = cs.__dict__.get(DERIVED, {}).get(("arrears.rows",))
    if made is not None and len(c):  # from case_state: the label parts of each case are made once for every window
        cases, rows = made
        head, tail = _filled(cases, "label", rows[kept],
                             lambda r: tuple(s.to_numpy(dtype=object) for s in _label_parts(cases.norm.iloc[r])))
        label = (pd.Series(head, index=c.index, dtype=object) + c["shown_status"].astype(object)
                 + pd.Series(tail, index=c.index, dtype=object)).astype(str)
    elif len(c):
        head, tail = _label_parts(c)
        label = head + c["shown_status"] + tail
    else:
        label = pd.Series([], index=c.index, dtype="str")  # what the concatenation gives for no rows
    pts = pd.DataFrame({
        "id": c["case_no"], "lon": c["lon"], "lat": c["lat"], "label": label,
        "color": c["shown_status"].map(_colors(c["shown_status"])).where(c["open"], CLOSED_POINT),
        "size": point_size(c["amount"]).where(c["open"], 5.0), "link": c["link"],
        "open": c["open"], "amount": c["amount"], "category": c["shown_status"], "township_code": c["township_code"],
    })
    return pts.reset_index(drop=True), notes


def _colors(shown: pd.Series):
    """status_color as a lookup of the statuses present (a dict maps a column at once; empty: the function itself)."""
    return {s: status_color(s) for s in shown.unique()} if len(shown) else status_color


def status_legend(cs: pd.DataFrame) -> list[LegendItem]:
    """Point colours for the statuses present (warning colours for open, grey for closed)."""
    present = of_frame(cs, ("arrears.statuses",), lambda: _statuses(cs)) if len(cs) else set()
    order = [*OPEN_STATUSES, "在办", CLOSED_STATUS]
    return [LegendItem(label=f"案件：{s}" + ("（范围内结案）" if s == CLOSED_STATUS else ""),
                       color=CLOSED_POINT if s == CLOSED_STATUS else STATUS_COLORS[s]) for s in order if s in present]


TABLE_COLUMNS = ["案件编号", "受理日期", "案件来源", "所属乡镇", "欠薪单位", "项目编号", "涉及人数", "欠薪金额(万元)",
                 "未追回(万元)", "办理状态", "结案日期", "链接"]  # case_table


def _statuses(cs: pd.DataFrame) -> set:
    """The shown statuses present, counted by the number of each case's status (made once per read) when `cs` is
    a case_state frame: the status shown, or 在办 for a case open at the date with status 结案 (see _state_at)."""
    made = cs.__dict__.get(DERIVED, {}).get(("arrears.rows",))
    if made is None:
        return set(cs["shown_status"].dropna().unique())
    c, rows = made
    number, names = c.shown_number[rows], list(c.shown_names)
    turned = cs["open"].to_numpy(dtype=bool) & (number == names.index(CLOSED_STATUS) if CLOSED_STATUS in names else False)
    present = {names[i] for i in np.flatnonzero(np.bincount(number[~turned], minlength=len(names)))}
    return present | ({"在办"} if turned.any() else set())


def case_table(cs: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Cases for grids and exports, without personal data (complainants are in the ledgers, masked); TABLE_COLUMNS."""
    town = cs["township_code"].map(names or {}).fillna(cs["township_code"])
    return pd.DataFrame({
        "案件编号": cs["case_no"], "受理日期": fmt_dates(cs["received"]), "案件来源": cs["source"], "所属乡镇": town,
        "欠薪单位": cs["employer_name"], "项目编号": cs["project_code"], "涉及人数": cs["workers"].round().astype(int),
        "欠薪金额(万元)": cs["amount"].round(2), "未追回(万元)": (cs["amount"] - cs["recovered"]).clip(lower=0).round(2),
        "办理状态": cs["shown_status"], "结案日期": fmt_dates(cs["closed_at"]).replace("—", ""),
        "链接": cs["link"],
    }).reset_index(drop=True)


def summary(cs: pd.DataFrame) -> dict[str, float]:
    """Open cases, amount owed (万元), workers affected — the arrears KPIs."""
    o = cs["open"]
    return {"open_cases": int(o.sum()), "amount_wan": float(cs["owed"].sum()), "workers": float(cs["workers"][o].sum())}


LAYERS = {key: ArrearsLayer(key) for key in METRICS}
