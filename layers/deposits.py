"""工资保证金 (九): the amount each project must deposit by its contractor's record, and who differs.

Rate rule (九) 差异化缴存, on the contractor's arrears record when the deposit fell due (the
project's start date; `as_of` when the start is unknown or later), in this order:
  1. a case still open                                 -> full rate   (rules.deposit_rate_full)
  2. no case in the `deposit_exempt_years` years before
     and a 无拖欠证明 on file (deposits.no_arrears_cert) -> exempt (0)
  3. a case before, all closed                         -> raised rate (rules.deposit_rate_raised)
  4. otherwise                                         -> normal rate (rules.deposit_rate_normal)
required = contract_value (万元) × rate (0 when exempt; unknown when the contract value is not
reported, and then a deposit on file is what is asked for). Each deposit row is one deposit with its current status:
paid = Σ amount of rows 缴存/动用/退还 (money paid in), balance = Σ 缴存 (still held), both up to `as_of`.
A project differs from the rule when what it paid is outside required ± tolerance, when it is
marked 减免 without qualifying (不得擅自减免), or when its recorded rate is not the rule's rate;
`low_balance` (balance below required, e.g. 动用 and not replenished) is flagged as well.
Rows keyed by credit code only (other industries) are not attributed to a project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geodata.settings import Rules
from layers import mapfig
from layers.base import DERIVED, Filters, LayerData, LayerResult, LegendItem, derived
from layers.credit import as_bool, as_date, as_num, as_text, col, escape, rules_of
from layers.deposit_record import Record, record_index
from layers.palettes import coverage_classes

RULE_ZH = {"full": "存在未结欠薪：全额缴存", "exempt": "两年无拖欠且有无拖欠证明：减免", "raised": "发生过拖欠已处理：提高比例",
           "normal": "正常比例"}
USED_STATUSES = ("动用", "已动用")
RETURNED_STATUSES = ("退还", "已退还")


def _rate_value(s: pd.Series) -> pd.Series:
    """Rates as fractions: '2%' -> 0.02, 2 -> 0.02, 0.02 -> 0.02."""
    txt = as_text(s)
    pct = txt.str.endswith("%").fillna(False)
    v = as_num(txt.str.rstrip("%"))
    return v.where(~(pct | (v > 1)), v / 100)


def deposit_rows(data: LayerData, as_of: pd.Timestamp, rules: Rules | None = None) -> pd.DataFrame:
    """Deposit rows paid on or before `as_of`, with kind held/used/returned/exempt and fraction rate."""
    r = rules_of(rules)
    d = data.deposits
    if d is None or d.empty:
        return pd.DataFrame(columns=["project_code", "credit_code", "paid", "amount", "kind", "rate", "cert"])
    out = derived(data, ("deposits",), ("deposits.rows", r.model_dump_json()), lambda: _all_rows(d, r))
    return out[out["paid"].isna() | (out["paid"] <= as_of)].reset_index(drop=True)


def _all_rows(d: pd.DataFrame, r: Rules) -> pd.DataFrame:
    status = as_text(col(d, "status", None))
    kind = np.select(
        [status.isin(USED_STATUSES).fillna(False), status.isin(RETURNED_STATUSES).fillna(False),
         status.isin(r.deposit_exempt_statuses).fillna(False)],
        ["used", "returned", "exempt"], default="held")  # a row without status counts as paid in
    out = pd.DataFrame({
        "project_code": as_text(col(d, "project_code", None)), "credit_code": as_text(col(d, "credit_code", None)).str.upper(),
        "paid": as_date(col(d, "paid_date")), "amount": as_num(col(d, "amount")).fillna(0.0), "kind": kind,
        "rate": _rate_value(col(d, "rate")), "cert": as_bool(col(d, "no_arrears_cert", False)),
    })
    return out


def required_deposits(data: LayerData, as_of: pd.Timestamp, rules: Rules | None = None) -> pd.DataFrame:
    """One row per project: the rule's rate and amount, what is held, and how it differs.

    Columns: project_code, name, township_code, contractor_credit_code, active, contract_value,
    rule, rule_zh, rate, required, paid, used, returned, balance, recorded_rate, cert,
    claimed_exempt, short (paid below rule), low_balance (held below rule), differs, flags (Chinese).
    Computed once per read of the frames, date and rules (LayerData.shared); callers must not modify it.
    What does not depend on the date (normalised projects, integer keys of projects, firms and
    employers, deposit rows and each employer's cases sorted by time) is built once per read of
    the frames (`_Base`); a date is then masks, binary searches and sums over integer keys.
    """
    r = rules_of(rules)
    return derived(data, ("projects", "deposits", "cases", "enterprises"), ("deposits.required", as_of, r.model_dump_json()),
                   lambda: _required(data, as_of, r))


def required_at(data: LayerData, as_of: pd.Timestamp, rows: np.ndarray, rules: Rules | None = None,
                texts: bool = True) -> pd.DataFrame:
    """The rows of `required_deposits(data, as_of)` at positions `rows` (same values), computed for those rows only
    unless the whole frame is at hand: a township's window costs in proportion to the township.
    `texts=False`: without the column `flags` when computed here (the texts are most of the cost)."""
    r = rules_of(rules)
    key = ("deposits.required", as_of, r.model_dump_json())
    frames = tuple(getattr(data, k) for k in ("projects", "deposits", "cases", "enterprises"))
    hit = frames[0].__dict__.get(DERIVED, {}).get(key) if frames[0] is not None else None
    if hit is not None and all(a is b for a, b in zip(hit[0], frames, strict=True)):
        return hit[1].iloc[rows]
    p = data.projects
    if p is None or p.empty:
        return _required(data, as_of, r)
    return _required_rows(_base(data, r), as_of, r, rows, texts)


EMPTY_REQUIRED = ["project_code", "rule", "required", "balance", "short", "differs", "flags"]


def _required(data: LayerData, as_of: pd.Timestamp, r: Rules) -> pd.DataFrame:
    p = data.projects
    if p is None or p.empty:
        return pd.DataFrame(columns=EMPTY_REQUIRED)
    return _required_rows(_base(data, r), as_of, r, None)


KINDS = ("held", "used", "returned", "exempt")


@dataclass
class _Base:
    """What the rule reads that does not depend on the date, per project row (norm order) and per deposit row.

    Project codes and contractor codes are numbered (`code`, `firm`: -1 where missing); deposit
    rows carry the numbers of their project and firm (-1 where not a project's / a contractor's).
    """

    static: pd.DataFrame  # project_code, name, township_code, contractor_credit_code, contract_value
    start: pd.Series
    completed: np.ndarray
    code: np.ndarray
    firm: np.ndarray
    n_codes: int
    n_firms: int
    record: Record | None
    emp: np.ndarray  # the contractor's number among employers with cases (-1: none)
    rows: pd.DataFrame  # deposit_rows of every date (_all_rows)
    r_code: np.ndarray
    r_firm: np.ndarray
    r_kind: np.ndarray  # index in KINDS
    r_has_code: np.ndarray  # project_code not missing (whether or not it is a project's)
    held: dict = field(default_factory=dict)  # date -> _Held, the last HELD_DATES dates (oldest first)


def _base(data: LayerData, r: Rules) -> _Base:
    return derived(data, ("projects", "deposits", "cases", "enterprises"), ("deposits.base", r.model_dump_json()),
                   lambda: _make_base(data, r))


def _make_base(data: LayerData, r: Rules) -> _Base:
    p = data.projects
    norm = derived(data, ("projects",), ("deposits.projects",), lambda: _projects(p))
    code, codes = pd.factorize(norm["project_code"].astype(object), use_na_sentinel=True)
    firm, firms = pd.factorize(norm["contractor_credit_code"].astype(object), use_na_sentinel=True)
    code_ix, firm_ix = pd.Index(codes, dtype=object), pd.Index(firms, dtype=object)
    d = data.deposits
    if d is None or d.empty:
        rows = pd.DataFrame({"project_code": pd.Series(dtype=object), "credit_code": pd.Series(dtype=object),
                             "paid": pd.Series(dtype="datetime64[ns]"), "amount": pd.Series(dtype=float),
                             "kind": pd.Series(dtype=object), "rate": pd.Series(dtype=float), "cert": pd.Series(dtype=bool)})
    else:
        rows = derived(data, ("deposits",), ("deposits.rows", r.model_dump_json()), lambda: _all_rows(d, r))
    kind = pd.Index(KINDS).get_indexer(rows["kind"].astype(object))
    record = record_index(data, r)
    contractors = norm["contractor_credit_code"].astype(object)
    emp = record.employers.get_indexer(contractors) if record is not None else np.full(len(norm), -1)
    return _Base(
        static=norm[["project_code", "name", "township_code", "contractor_credit_code", "contract_value"]],
        start=norm["start"], completed=norm["status"].isin(r.completed_statuses).fillna(False).to_numpy(dtype=bool),
        code=code, firm=firm, n_codes=len(codes), n_firms=len(firms), record=record, emp=emp, rows=rows,
        r_code=code_ix.get_indexer(rows["project_code"].astype(object)),
        r_firm=firm_ix.get_indexer(rows["credit_code"].astype(object)), r_kind=kind,
        r_has_code=rows["project_code"].notna().to_numpy(dtype=bool))


def _required_rows(b: _Base, as_of: pd.Timestamp, r: Rules, sel: np.ndarray | None, texts: bool = True) -> pd.DataFrame:
    """The rule at `as_of` for the project rows `sel` (positions; None: all) of the base."""
    take = (lambda a: a) if sel is None else (lambda a: a[sel])  # noqa: E731
    out = (b.static if sel is None else b.static.iloc[sel]).copy()
    start = b.start if sel is None else b.start.iloc[sel]
    code, firm = take(b.code), take(b.firm)
    out["active"] = (~take(b.completed) & (start.isna() | (start <= as_of))).to_numpy()

    # contractor's record (六)(九) when the deposit fell due
    due = start.where(start.notna() & (start <= as_of), as_of)
    if b.record is None:
        n_cases = n_open = np.zeros(len(out), dtype=np.int64)
        last_case = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    else:
        n_cases, n_open, last = b.record.counts(take(b.emp), due)
        last_case = pd.Series(last, index=out.index)
    n_open = pd.Series(n_open, index=out.index)
    had_case = n_cases > 0

    held = _held_at(b, as_of)
    cert = pd.Series(_lookup(held.cert_code, code, False) | _lookup(held.cert_firm, firm, False), index=out.index)
    clean_since = due - pd.Timedelta(days=365 * r.deposit_exempt_years)
    clean = n_open.eq(0) & (last_case.isna() | (last_case < clean_since))

    rule = np.select([n_open > 0, clean & cert, had_case], ["full", "exempt", "raised"], default="normal")
    rate_of = {"full": r.deposit_rate_full, "exempt": 0.0, "raised": r.deposit_rate_raised, "normal": r.deposit_rate_normal}
    out["rule"] = rule
    out["rule_zh"] = out["rule"].map(RULE_ZH)
    out["rate"] = out["rule"].map(rate_of).astype(float)
    # exempt needs nothing; otherwise NaN when the contract value is not reported (cannot be set)
    out["required"] = np.where(out["rule"] == "exempt", 0.0, out["contract_value"] * out["rate"])
    out["cert"] = cert.to_numpy()

    for i, k in enumerate(("balance", "used", "returned")):
        out[k] = _lookup(held.sums[:, i], code, 0.0)
    out["paid"] = out["balance"] + out["used"] + out["returned"]
    out["recorded_rate"] = _lookup(held.last_rate, code, np.nan)
    out["claimed_exempt"] = _lookup(held.exempt_code, code, False)
    return _flag(out, r, texts)


@dataclass
class _Held:
    """The deposit rows paid by a date, per project code number (and firm number for certificates)."""

    cert_code: np.ndarray
    cert_firm: np.ndarray
    sums: np.ndarray  # (code, kind) amounts, kinds in KINDS order
    last_rate: np.ndarray
    exempt_code: np.ndarray


def _held_at(b: _Base, as_of: pd.Timestamp) -> _Held:
    """Per date, once for the citywide rule, every township and the warnings (the last few dates kept on the base)."""
    hit = b.held.get(as_of)
    if hit is not None:
        return hit
    rows = b.rows
    paid = rows["paid"]
    incl = (paid.isna() | (paid <= as_of)).to_numpy()
    cert_rows = incl & rows["cert"].to_numpy(dtype=bool)
    # sums per project and kind: pandas' grouped sum over integer keys (the same summation, row order kept)
    mine = incl & (b.r_code >= 0)
    amount = rows["amount"].to_numpy()
    sums = np.zeros(b.n_codes * len(KINDS))
    if mine.any():
        g = pd.Series(amount[mine]).groupby(b.r_code[mine] * len(KINDS) + b.r_kind[mine]).sum()
        sums[g.index.to_numpy()] = g.to_numpy()
    held = _Held(cert_code=_any_by(b.r_code, cert_rows, b.n_codes), cert_firm=_any_by(b.r_firm, cert_rows, b.n_firms),
                 sums=sums.reshape(-1, len(KINDS)), last_rate=_last_rates(b, incl),
                 exempt_code=_any_by(b.r_code, incl & (b.r_kind == KINDS.index("exempt")), b.n_codes))
    b.held[as_of] = held
    for old in list(b.held)[:-HELD_DATES]:  # list(): a snapshot, other threads may add dates meanwhile
        b.held.pop(old, None)
    return held


HELD_DATES = 8  # dates whose deposit sums stay on the base (province: ~10 MB each)


def _any_by(key: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Per key number 0..n-1: whether any row with that key has `mask` (rows with key -1 ignored)."""
    hit = np.zeros(n, dtype=bool)
    hit[key[mask & (key >= 0)]] = True
    return hit


def _lookup(values: np.ndarray, key: np.ndarray, missing) -> np.ndarray:
    """values[key] per row, `missing` where key is -1."""
    if len(values) == 0:
        return np.full(len(key), missing, dtype=values.dtype if missing is not None else object)
    return np.where(key >= 0, values[np.clip(key, 0, None)], missing)


def _last_rates(b: _Base, incl: np.ndarray) -> np.ndarray:
    """Per project code number: the rate of its latest deposit row with a rate (by paid date), NaN if none.

    The rows with a project code and a rate, sorted by paid date as pandas sorts them (the same rows in the
    same order: ties keep pandas' order), last per project.
    """
    rate = b.rows["rate"].to_numpy()
    m = incl & b.r_has_code & ~np.isnan(rate)
    out = np.full(b.n_codes, np.nan)
    if not m.any():
        return out
    order = pd.DataFrame({"paid": b.rows["paid"].to_numpy()[m]}).sort_values("paid").index.to_numpy()
    key, val = b.r_code[m][order], rate[m][order]
    mine = key >= 0
    last = pd.Series(val[mine]).groupby(key[mine]).last()
    out[last.index.to_numpy()] = last.to_numpy()
    return out


def prepare_inputs(data: LayerData, r: Rules) -> None:
    """Normalise the projects and deposit rows the deposit rule reads (layers.inputs.prepare)."""
    if data.projects is not None and not data.projects.empty:
        derived(data, ("projects",), ("deposits.projects",), lambda: _projects(data.projects))
    if data.deposits is not None and not data.deposits.empty:
        derived(data, ("deposits",), ("deposits.rows", r.model_dump_json()), lambda: _all_rows(data.deposits, r))


def _projects(p: pd.DataFrame) -> pd.DataFrame:
    """The project columns the deposit rule reads, normalised once per read of the frames."""
    return pd.DataFrame({
        "project_code": as_text(p["project_code"]), "name": as_text(col(p, "name", None)),
        "township_code": as_text(col(p, "township_code", None)),
        "contractor_credit_code": as_text(col(p, "contractor_credit_code", None)).str.upper(),
        "contract_value": as_num(col(p, "contract_value")), "start": as_date(col(p, "start_date")),
        "status": as_text(col(p, "status", None)),
    })


def _flag(out: pd.DataFrame, r: Rules, texts: bool = True) -> pd.DataFrame:
    known = out["required"].notna()
    req = out["required"].fillna(0.0)
    tol = req * r.deposit_tolerance
    # required unknown (no contract value): any deposit paid in / still held meets it
    out["short"] = np.where(known, out["paid"] < req - tol - 1e-9, out["paid"] <= 0)
    out["low_balance"] = np.where(known, out["balance"] < req - tol - 1e-9, out["balance"] <= 0)
    over = known & (out["paid"] > req + tol + 1e-9)
    unjust = out["claimed_exempt"] & (out["rule"] != "exempt")
    mismatch = out["recorded_rate"].notna() & ((out["recorded_rate"] - out["rate"]).abs() > 1e-6)
    # the texts only for the rows with something to say (formatting every row's amounts cost seconds at province)
    some = (out["short"] | over | out["low_balance"] | unjust | mismatch).to_numpy()
    flags = np.full(len(out), "", dtype=object)
    if some.any() and texts:
        flags[some] = _texts(out[some], known[some], over[some], unjust[some], mismatch[some]).to_numpy()
    if texts:
        out["flags"] = pd.Series(flags, index=out.index).astype(str) if len(out) else pd.Series(dtype=str)
    out["differs"] = out["short"] | over | unjust | mismatch
    return out


def _texts(out: pd.DataFrame, known: pd.Series, over: pd.Series, unjust: pd.Series, mismatch: pd.Series) -> pd.Series:
    """The Chinese flags of the rows given (joined with "；"); each text made for the rows that carry it.

    Texts are put together as numpy object arrays (same strings as pandas' string concatenation, faster).
    """
    fmt = _amounts
    short, known = out["short"].to_numpy(dtype=bool), known.to_numpy(dtype=bool)

    def part(mask, text) -> np.ndarray:
        a = np.full(len(out), "", dtype=object)
        if mask.any():
            a[mask] = text if isinstance(text, str) else text(out[mask])
        return a

    short_text = part(short & known, lambda o: "少缴：实缴" + fmt(o["paid"]) + "万元，应缴" + fmt(o["required"]) + "万元")
    short_text[short & ~known] = "合同价款未报，无法核定应缴额，且未缴存保证金"
    parts = [
        short_text,
        part(over.to_numpy(dtype=bool), lambda o: "多缴：实缴" + fmt(o["paid"]) + "万元，应缴" + fmt(o["required"]) + "万元"),
        part(out["low_balance"].to_numpy(dtype=bool) & ~short, lambda o: "已动用或退还未补足：余额" + fmt(o["balance"]) + "万元"),
        part(unjust.to_numpy(dtype=bool), "不符合减免条件却登记减免（不得擅自减免）"),
        part(mismatch.to_numpy(dtype=bool),
             lambda o: "登记比例" + fmt(o["recorded_rate"] * 100) + "%，规则比例" + fmt(o["rate"] * 100) + "%"),
    ]
    return pd.Series(_joined_arrays(parts, "；"), index=out.index).astype(str)


def _amounts(s: pd.Series) -> np.ndarray:
    """Amounts as text (object array), 2 decimals without a trailing '.0' ('12.5', '3', <NA> where missing), as
    `s.round(2).astype("string").str.replace(r"\\.0$", "")` gives them; each distinct value formatted once."""
    v = s.round(2)
    codes, uniq = pd.factorize(v.to_numpy(dtype="float64").view(np.int64))  # by bit pattern: -0.0 stays apart from 0.0
    text = pd.Series(uniq.view(np.float64)).astype("string").str.replace(r"\.0$", "", regex=True)
    return text.to_numpy(dtype=object)[codes]


def _joined_arrays(arrays: list[np.ndarray], sep: str) -> np.ndarray:
    """Per position, the non-empty texts of `arrays` joined by `sep` (in order); rows with one text just take it."""
    n = len(arrays[0]) if arrays else 0
    has = [a != "" for a in arrays]
    count = np.sum(has, axis=0) if arrays else np.zeros(0, dtype=int)
    acc = np.full(n, "", dtype=object)
    for a, h in zip(arrays, has, strict=True):
        one = h & (count == 1)
        acc[one] = a[one]
    many = np.flatnonzero(count > 1)
    if len(many):
        sub = np.full(len(many), "", dtype=object)
        for a, h in zip(arrays, has, strict=True):
            v, hv = a[many], h[many]
            sub = np.where(hv & (sub != ""), sub + sep + v, np.where(hv, v, sub))
        acc[many] = sub
    return acc


class DepositLayer:
    """保证金按规则缴存率: share of active projects whose deposit matches (九); city scale."""

    key = "deposits"
    title = "工资保证金按规缴存率"
    kind = "coverage"
    higher_is_better = True

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        as_of = pd.Timestamp(filters.as_of) if filters.as_of else pd.Timestamp.today().normalize()
        # the month plays no part: the projects and points of a date and township, once per read of the frames
        key = ("deposits.layer", as_of.strftime("%Y-%m-%d"), str(as_of), filters.township or None,
               rules_of(None).model_dump_json())
        dep, pts = derived(data, ("projects", "deposits", "cases", "enterprises"), key,
                           lambda: _layer_rows(data, as_of, filters.township))
        g = dep.assign(ok=~dep["short"]).groupby("township_code")["ok"].agg(["sum", "count"]) if not dep.empty else None
        by = pd.DataFrame({"code": data.townships["code"].to_numpy() if not data.townships.empty else []})
        if g is not None:
            by["value"] = by["code"].map(g["sum"] / g["count"] * 100)
            by["n"] = by["code"].map(g["count"]).fillna(0).astype(int)
        else:
            by["value"], by["n"] = np.nan, 0
        by["label"] = np.where(by["value"].notna(),
                               by["value"].round(1).astype("string") + "%（" + by["n"].astype(str) + "个项目）", "无在建项目")
        table = pd.DataFrame({
            "项目编号": dep.get("project_code"), "项目名称": dep.get("name"), "合同价款(万元)": dep.get("contract_value"),
            "适用规则": dep.get("rule_zh"), "规则比例": dep.get("rate"), "应缴(万元)": dep.get("required"),
            "实缴(万元)": dep.get("paid"), "余额(万元)": dep.get("balance"), "差异": dep.get("flags"),
        })
        classes = coverage_classes(by["value"], 100.0)
        return LayerResult(key=self.key, title=self.title, unit="%", by_township=by, points=pts, table=table,
                           legend=classes.legend() + [LegendItem("少缴", "#d62728"), LegendItem("其他不符", "#ff7f0e")],
                           traces=[mapfig.choropleth_trace(by, classes, self.title)],
                           notes=["(九) 差异化缴存：未结欠薪全额、两年无拖欠凭证明减免、曾拖欠提高比例"])

    def export_folium(self, result: LayerResult, fmap: Any) -> None:
        from layers.folium_export import add_layer

        add_layer(result, fmap)


def _layer_rows(data: LayerData, as_of: pd.Timestamp, township: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deposit layer's active projects (of the township when one is chosen) on `as_of` and the points of those
    that differ from the rule."""
    dep = required_deposits(data, as_of)
    if not dep.empty:
        dep = dep[dep["active"]]
    if township and not dep.empty:
        dep = dep[dep["township_code"] == township]
    pts = pd.DataFrame()
    p = data.projects
    if not dep.empty and p is not None and {"lon", "lat"} <= set(p.columns):
        loc = derived(data, ("projects",), ("deposits.locations",), lambda: pd.DataFrame(
            {"project_code": as_text(p["project_code"]), "lon": as_num(p["lon"]), "lat": as_num(p["lat"])}))
        bad = dep[dep["differs"]].merge(loc, on="project_code").dropna(subset=["lon", "lat"])
        pts = bad.assign(label="<b>" + escape(bad["name"].fillna(bad["project_code"])) + "</b><br>" + escape(bad["flags"]),
                         color=np.where(bad["short"], "#d62728", "#ff7f0e"), size=9, link="/project/" + bad["project_code"])
    return dep, pts


LAYER = DepositLayer()
