"""The array machinery of the 欠薪预警 rules (layers.rules): per-read inputs, the trends, the sort, the deposit rows.

Why apart from layers.rules: the rules are defined there (the rule table, each check `rule_*`, `CHECKS`,
`warnings`, the layer); this module is what makes a month window cheap, and the checks only call it.
Cut along the dependency: nothing here reads a check, `CHECKS` or the evaluation context's construction,
so it does not import layers.rules (only the type `Context`, for annotations); layers.rules imports it and
re-exports every name other modules and tests use (`entity_locations`, `indicator_trends`, ...).
  - what the checks read, normalised once per read of the frames with `layers.base.derived`: every project
    and report, entity locations, builder/contractor credit codes, each case entity's name and evidence;
  - evidence numbers formatted once per distinct value (`_f`);
  - the indicator trends (八) of every employer, from the history in layers/rule_history.py;
  - the sort of the warnings (red first, township, entity, rule) on integer ranks (`_ranked_order`);
  - the rows of the deposit rule (九) a window's check reads (`low_deposits`).
SEVERITY_RANK and SEVERITY_COLOR live here since the sort and the points use them (re-exported by layers.rules);
the map points are in layers/rule_points.py.
Not the other cut (the checks to a layers/rule_checks.py): the checks need the rule table, COLUMNS and
`Context`, which stay in layers.rules, so that module would import layers.rules back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geodata.settings import Rules
from layers import rule_history
from layers.base import DERIVED, LayerData, derived
from layers.credit import _enterprise_info, as_bool, as_date, as_num, as_text, col, month_index, rules_of
from layers.deposits import required_at, required_deposits

if TYPE_CHECKING:
    from layers.rules import Context

SEVERITY_COLOR = {"red": "#d62728", "orange": "#ff7f0e", "yellow": "#e8c500"}
SEVERITY_RANK = {"red": 0, "orange": 1, "yellow": 2}


# ---- what the checks read, once per read of the frames --------------------------------------

def _projects(data: LayerData) -> pd.DataFrame:
    """Every project, normalised for the rules (once per read of the frames)."""
    def build() -> pd.DataFrame:
        p = data.projects if data.projects is not None else pd.DataFrame()
        return pd.DataFrame({
            "project_code": as_text(col(p, "project_code", None)), "name": as_text(col(p, "name", None)),
            "township_code": as_text(col(p, "township_code", None)), "status": as_text(col(p, "status", None)),
            "start": as_date(col(p, "start_date")), "filed": as_date(col(p, "filed_date")),
            "contractor_credit_code": as_text(col(p, "contractor_credit_code", None)).str.upper(),
            "contractor": as_text(col(p, "contractor", None)), "builder": as_text(col(p, "builder", None)),
            "guarantee": as_bool(col(p, "payment_guarantee", False)),
        })

    return derived(data, ("projects",), ("rules.projects",), build)


def _reports(data: LayerData) -> pd.DataFrame:
    """Every monthly report, normalised for the rules (once per read of the frames)."""
    def build() -> pd.DataFrame:
        c = data.compliance if data.compliance is not None else pd.DataFrame()
        return pd.DataFrame({
            "project_code": as_text(col(c, "project_code", None)), "m": month_index(col(c, "month")),
            "onsite": as_num(col(c, "workers_onsite")), "registered": as_num(col(c, "workers_registered")),
            "cards": as_num(col(c, "cards_issued")), "due": as_num(col(c, "wages_due")),
            "paid_bank": as_num(col(c, "wages_paid_bank")),
            "funded": as_num(col(c, "account_funded")), "paid_through": month_index(col(c, "paid_through_month")),
        })

    return derived(data, ("compliance",), ("rules.reports",), build)


def entity_locations(data: LayerData) -> pd.DataFrame:
    """entity_type, entity_id, lon, lat for projects and employers that have coordinates (once per read; do not modify)."""
    return derived(data, ("projects", "enterprises"), ("rules.entity_locations",), lambda: _entity_locations(data))


def _entity_locations(data: LayerData) -> pd.DataFrame:
    frames = []
    for kind, df, key in (("project", data.projects, "project_code"), ("employer", data.enterprises, "credit_code")):
        if df is not None and not df.empty and {"lon", "lat"} <= set(df.columns):
            ids = as_text(df[key]).str.upper() if kind == "employer" else as_text(df[key])
            frames.append(pd.DataFrame({"entity_type": kind, "entity_id": ids, "lon": as_num(df["lon"]),
                                        "lat": as_num(df["lat"])}))
    if not frames:
        return pd.DataFrame(columns=["entity_type", "entity_id", "lon", "lat"])
    return pd.concat(frames, ignore_index=True).dropna().drop_duplicates(["entity_type", "entity_id"])


def prepare_inputs(data: LayerData, r: Rules) -> None:
    """Normalise the projects, reports, indicators and locations the rules read (layers.inputs.prepare)."""
    _projects(data)
    _reports(data)
    entity_locations(data)
    ind = data.indicators
    if ind is not None and not ind.empty:
        derived(data, ("indicators",), ("rules.indicator_base",), lambda: _indicator_base(ind))
        for field in r.indicator_fields:
            if field in ind.columns:
                derived(data, ("indicators",), ("rules.indicator_values", field), lambda field=field: as_num(ind[field]))


def _credit_ids(ctx: Context, h: rule_history.CreditHistory) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Builder and contractor of each active project as positions in h.codes (its length: not there), from every
    project's once per read of the frames; (None, None) when the active projects are not known."""
    if ctx.active is None:
        return None, None

    def build() -> tuple[np.ndarray, np.ndarray, pd.Index]:
        every = _projects(ctx.data)
        builder = derived(ctx.data, ("enterprises", "projects"), ("rules.builder_codes",),
                          lambda: every["builder"].map(_codes_by_name(ctx.data)))
        out = []
        for code in (builder, every["contractor_credit_code"]):
            i = h.codes.get_indexer(code)
            out.append(np.where(i >= 0, i, len(h.codes)))
        return out[0], out[1], h.codes

    key = ("rules.credit_ids", ctx.rules.model_dump_json())
    both = derived(ctx.data, ("credit", "projects", "enterprises"), key, build)
    if both[2] is not h.codes:
        return None, None
    pos = np.flatnonzero(ctx.active)
    return both[0][pos], both[1][pos]


def _builder_codes(ctx: Context) -> pd.Series:
    """The builder's credit code (by name) of each active project, from every project's once per read of the frames."""
    if ctx.active is None:
        return ctx.projects["builder"].map(_codes_by_name(ctx.data))
    every = derived(ctx.data, ("enterprises", "projects"), ("rules.builder_codes",),
                    lambda: _projects(ctx.data)["builder"].map(_codes_by_name(ctx.data)))
    return every.take(np.flatnonzero(ctx.active)).reset_index(drop=True)


def _codes_by_name(data: LayerData) -> pd.Series:
    """Credit code by employer name (first of each name), once per read of the frames."""
    def build() -> pd.Series:
        names = _enterprise_info(data)
        if names.empty:
            return pd.Series(dtype=object)
        return pd.Series(names.index, index=names["name"]).groupby(level=0).first()

    return derived(data, ("enterprises", "projects"), ("rules.codes_by_name",), build)


def _case_entities(data: LayerData, h: rule_history.CaseHistory, r: Rules) -> dict[str, np.ndarray] | None:
    """Per entity of the case history: whether a project, its row in the projects (-1: none), name and township
    (as rule_past_arrears maps them), and per history row the evidence after the date (once per read of the frames).
    None when project codes are missing or repeated."""
    def build() -> dict[str, np.ndarray] | None:
        every = _projects(data)
        codes = every["project_code"]
        if codes.isna().any() or codes.duplicated().any():
            return None
        info = _enterprise_info(data)
        eid = pd.Series(h.entity_id, dtype=every["project_code"].dtype)
        is_p = h.entity_type == "project"
        by_code = every.set_index("project_code")
        name = np.where(is_p, eid.map(by_code["name"]), eid.map(info["name"]))
        town = np.where(is_p, eid.map(by_code["township_code"]), eid.map(info["township_code"]))
        row = np.where(is_p, pd.Index(codes).get_indexer(eid), -1)
        middle = ("共有欠薪案件" + pd.Series(h.n_cases).astype(str) + "件（" + pd.Series(h.case_nos) + "），最近受理于"
                  + pd.Series(h.last_case_zh))
        return {"is_project": is_p, "project_row": row, "entity_id": h.entity_id, "name": name, "township_code": town,
                "middle": middle.to_numpy(dtype=object)}

    return derived(data, ("cases", "enterprises", "projects"), ("rules.case_entities", tuple(r.case_closed_statuses)), build)


def low_deposits(ctx: Context) -> pd.DataFrame:
    """The rows of required_deposits(data, as_of) held below the rule (`low_balance`) of the active projects, as
    rule_deposit_short reads them: computed for the active projects only and without the flag texts when the
    project codes are distinct (then the active rows are the rows of their codes), else from the whole frame."""
    every = _projects(ctx.data)
    distinct = derived(ctx.data, ("projects",), ("rules.codes_distinct",),
                       lambda: bool(every["project_code"].notna().all() and not every["project_code"].duplicated().any()))
    if ctx.active is None or not distinct or ctx.data.projects is None or ctx.data.projects.empty:
        dep = required_deposits(ctx.data, ctx.as_of, ctx.rules)
        return dep if dep.empty else dep[dep["low_balance"] & dep["project_code"].isin(ctx.projects["project_code"])]
    dep = required_at(ctx.data, ctx.as_of, np.flatnonzero(ctx.active), ctx.rules, texts=False)
    return dep[dep["low_balance"]]


# ---- evidence numbers -----------------------------------------------------------------------

def _f(s: pd.Series | float, nd: int = 1) -> pd.Series | str:
    """Round and format numbers for evidence text (a scalar gives a str)."""
    if np.isscalar(s):
        return f"{round(float(s), nd):g}"
    r = pd.Series(s).round(nd)
    if (len(r) < 64 or not isinstance(r.dtype, np.dtype)
            or (r.dtype.kind == "f" and np.signbit(r.to_numpy()[r.to_numpy() == 0]).any())):
        return _format(r)
    # each distinct value formatted once (factorize keeps 0.0 and -0.0 together: those go the long way above)
    codes, uniq = pd.factorize(r, use_na_sentinel=True)
    txt = _format(pd.Series(np.asarray(uniq), dtype=r.dtype))
    return pd.Series(txt.array.take(codes, allow_fill=True), index=r.index, name=r.name)


def _format(r: pd.Series) -> pd.Series:
    return r.astype("string").str.replace(r"\.0$", "", regex=True)


# ---- indicator trends (八) -------------------------------------------------------------------

def indicator_trends(data: LayerData, month: str, rules: Rules | None = None) -> pd.DataFrame:
    """(八) Each employer's indicators in `month` against its own mean of the previous months.

    Columns: credit_code, field, current, baseline, n_hist, drop (1 - current/baseline; NaN when
    fewer than `indicator_min_history` months or a non-positive baseline).
    Computed once per read of the frames, month and rules (LayerData.shared); callers must not modify it.
    """
    r = rules_of(rules)
    return derived(data, ("indicators",), ("rules.indicator_trends", month, r.model_dump_json()),
                   lambda: _indicator_trends(data, month, r))


TREND_COLUMNS = ["credit_code", "field", "current", "baseline", "n_hist", "drop"]


def trend_arrays(data: LayerData, month: str, r: Rules) -> list[tuple[str, dict[str, np.ndarray]]] | None:
    """Per indicator field, the month's rows of its history as arrays (rule_history.trend_at; `code` indexes
    indicator_codes), once per read of the indicators, month and rules; None when a field has to be pivoted
    instead (then the frame `indicator_trends` is the way). A window's checks filter these before making text."""
    ind = data.indicators
    if ind is None or ind.empty:
        return []

    def build() -> list[tuple[str, dict[str, np.ndarray]]] | None:
        m = int(month_index(pd.Series([month])).iloc[0])
        base, codes = derived(data, ("indicators",), ("rules.indicator_base",), lambda: _indicator_base(ind))
        out = []
        for field in r.indicator_fields:
            if field not in ind.columns:
                continue
            t = _field_trend(data, field, base, len(codes), m, r)[1]
            if t is None:
                return None
            out.append((field, t))
        return out

    return derived(data, ("indicators",), ("rules.trend_arrays", month, r.model_dump_json()), build)


def _field_trend(data: LayerData, field: str, base: pd.DataFrame, n_codes: int, m: int,
                 r: Rules) -> tuple[pd.Series, dict[str, np.ndarray] | None]:
    """(the field's values, its month's trend arrays from the employer × month history kept per read, or None when the
    history cannot be made and the field has to be pivoted)."""
    ind = data.indicators
    v = derived(data, ("indicators",), ("rules.indicator_values", field), lambda: as_num(ind[field]))
    h = rule_history.indicator_history(data, field, base, v, n_codes)
    return v, (None if h is None else rule_history.trend_at(h, m, r.indicator_baseline_months, r.indicator_min_history))


def _trend_part(codes: pd.Index, field: str, t: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({"credit_code": codes.take(t["code"]), "field": field, "current": t["current"],
                         "baseline": t["baseline"], "n_hist": t["n_hist"], "drop": t["drop"]})


def trend_frame(data: LayerData, parts: list[tuple[str, dict[str, np.ndarray]]],
                rows: list[np.ndarray] | None = None) -> pd.DataFrame:
    """The frame `indicator_trends` makes of `trend_arrays` (each field's `rows` of them only, when given)."""
    codes = indicator_codes(data)
    frames = []
    for i, (field, t) in enumerate(parts):
        if rows is not None:
            t = {k: v[rows[i]] for k, v in t.items()}
        frames.append(_trend_part(codes, field, t))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TREND_COLUMNS)


def trend_rows_from(data: LayerData, month: str, r: Rules, threshold: float) -> pd.DataFrame:
    """The rows of indicator_trends(data, month, r) whose drop is at least `threshold`, made for those rows only."""
    arrays = trend_arrays(data, month, r)
    if arrays is None:
        tr = indicator_trends(data, month, r)
        return tr[tr["drop"] >= threshold]
    return trend_frame(data, arrays, [np.flatnonzero(t["drop"] >= threshold) for _, t in arrays])


def _indicator_trends(data: LayerData, month: str, r: Rules) -> pd.DataFrame:
    ind = data.indicators
    cols = TREND_COLUMNS
    if ind is None or ind.empty:
        return pd.DataFrame(columns=cols)
    arrays = trend_arrays(data, month, r)
    if arrays is not None:
        return trend_frame(data, arrays)
    m = int(month_index(pd.Series([month])).iloc[0])
    base, codes = derived(data, ("indicators",), ("rules.indicator_base",), lambda: _indicator_base(ind))
    window = None
    frames = []
    for field in r.indicator_fields:
        if field not in ind.columns:
            continue
        v, t = _field_trend(data, field, base, len(codes), m, r)
        if t is not None:  # the month's rows of the employer × month matrix (history once per read)
            frames.append(_trend_part(codes, field, t))
            continue
        if window is None:
            window = ((base["m"] >= m - r.indicator_baseline_months) & (base["m"] <= m) & (base["code"] >= 0)).to_numpy()
        long = base.assign(v=v)[window].dropna(subset=["v"])
        # = pivot_table(index=credit_code, columns=m, values=v, aggfunc="last"), grouped on integer codes (sorted
        # like the text) instead of the text itself
        wide = long.groupby(["code", "m"])["v"].last().unstack("m")
        wide.index = codes.take(wide.index.to_numpy())
        hist_cols = [c for c in wide.columns if c < m]
        hist = wide[hist_cols] if hist_cols else pd.DataFrame(index=wide.index)
        cur = wide[m] if m in wide.columns else pd.Series(np.nan, index=wide.index)
        n_hist = hist.notna().sum(axis=1) if hist_cols else pd.Series(0, index=wide.index)
        baseline = hist.mean(axis=1) if hist_cols else pd.Series(np.nan, index=wide.index)
        usable = (n_hist >= r.indicator_min_history) & (baseline > 0) & cur.notna()
        drop = (1 - cur / baseline).where(usable)
        frames.append(pd.DataFrame({"credit_code": wide.index, "field": field, "current": cur.to_numpy(),
                                    "baseline": baseline.to_numpy(), "n_hist": n_hist.to_numpy(), "drop": drop.to_numpy()}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def indicator_codes(data: LayerData) -> pd.Index:
    """The employers (credit codes, upper case) that report indicators, sorted (once per read of the frames)."""
    ind = data.indicators
    if ind is None or ind.empty:
        return pd.Index([], name="credit_code")
    return derived(data, ("indicators",), ("rules.indicator_base",), lambda: _indicator_base(ind))[1]


def _indicator_base(ind: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """Integer employer codes (in text order; -1 where missing) and month index of every indicator row, and the codes."""
    code, uniq = pd.factorize(as_text(ind["credit_code"]).str.upper(), sort=True, use_na_sentinel=True)
    return pd.DataFrame({"code": code, "m": month_index(col(ind, "month")).to_numpy()}), pd.Index(uniq, name="credit_code")


# ---- the sort: integer ranks instead of text ------------------------------------------------

def _entity_rank(w: pd.DataFrame) -> tuple[np.ndarray, dict] | None:
    """The rank of each row's entity id in the id universe, and the universe (kept on frames made by `warnings`)."""
    return w.__dict__.get(DERIVED, {}).get(("rules.entity_rank",))


def _known_ids(data: LayerData) -> pd.Index:
    """Every project and employer id the checks may warn about, sorted (the seed of the id universe, once per read)."""
    parts = [_projects(data)["project_code"], pd.Series(_enterprise_info(data).index), pd.Series(indicator_codes(data))]
    ids = pd.Index(pd.concat([p.dropna().astype(str) for p in parts], ignore_index=True).unique())
    return ids.sort_values()


def _order(out: pd.DataFrame, universe: dict) -> np.ndarray:
    return _ranked_order(out, universe)[0]


def _ranked_order(out: pd.DataFrame, universe: dict) -> tuple[np.ndarray, np.ndarray | None, pd.Index | None]:
    """The rows of `out` as out.sort_values([severity rank, township_code, entity_id, rule]) orders them (stable,
    missing last), from integer ranks: the entity ids are ranked in `universe['ids']`, every id seen so far sorted
    once (kept on the frames, so a month window sorts only the ids new to it), instead of sorting the text per window."""
    if out.empty or out["entity_id"].isna().any():
        o = out["severity"].map(SEVERITY_RANK)
        return out.assign(_o=o).sort_values(["_o", "township_code", "entity_id", "rule"]).index.to_numpy(), None, None
    ids = universe.get("ids")
    rank = ids.get_indexer(out["entity_id"]) if ids is not None else None
    if rank is None or (rank < 0).any():
        new = pd.Index(out["entity_id"].unique())
        ids = new if ids is None else ids.append(new)
        ids = ids.unique().sort_values()
        universe["ids"] = ids
        rank = ids.get_indexer(out["entity_id"])
    order = np.lexsort((_rank(out["rule"]), rank, _rank(out["township_code"]), _severity_rank(out["severity"]).to_numpy()))
    return order, rank, ids


def _severity_rank(s: pd.Series) -> pd.Series:
    """s.map(SEVERITY_RANK), looked up once per distinct value."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    if (codes < 0).any() or not all(u in SEVERITY_RANK for u in uniq):
        return s.map(SEVERITY_RANK)
    return pd.Series(np.array([SEVERITY_RANK[u] for u in uniq], dtype=np.int64)[codes], index=s.index)


def _rank(s: pd.Series) -> np.ndarray:
    """Sort rank of each value (missing last)."""
    codes, uniq = pd.factorize(s, sort=True, use_na_sentinel=True)
    return np.where(codes < 0, len(uniq), codes)
