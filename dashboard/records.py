"""The data of the project and enterprise pages: facts, compliance checklist with its evidence, cases, records.

Part of dashboard.services (which re-exports `project_view`, `enterprise_view`): same cache,
same scope rule — a project or enterprise outside the scope is None, as if it did not exist.
Every checklist item and record carries its provenance: source file, row and load batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dashboard import services as S
from layers import arrears, coverage, gaps
from layers.base import LayerData
from layers.coverage_rules import KEYS, project_status
from layers.units import fmt_date, fmt_dates


def _batches() -> dict[int, dict]:
    def build() -> dict[int, dict]:
        b = S._ctx().store.read("load_batches")
        return {int(r["id"]): r for r in b.astype(object).where(b.notna(), None).to_dict("records")}

    return S._cached("batches", None, (), build)


def provenance(row: dict) -> str:
    """'projects.xlsx 第5行（批次12，2024年5月1日载入）'."""
    bid = row.get("batch_id")
    b = _batches().get(int(bid)) if bid is not None and not pd.isna(bid) else None
    src = row.get("source_file") or (b or {}).get("source_file") or "—"
    rown = row.get("source_row")
    where = f" 第{int(rown)}行" if rown is not None and not pd.isna(rown) else ""
    when = f"，{fmt_date(b['loaded_at'])}载入" if b and b.get("loaded_at") is not None else ""
    return f"{src}{where}（批次{int(bid) if bid is not None and not pd.isna(bid) else '—'}{when}）"


def _records(df: pd.DataFrame) -> list[dict]:
    """Plain records (no geometry, None for missing) for pages and the cache.

    A page's frames are a few rows wide by tens of columns: a loop over the values is ~30x faster
    here than DataFrame.astype(object).where(...) (benchmarks/warm.py, project page).
    """
    cols = [c for c in df.columns if c not in ("geometry", "geom")]
    return [{k: (None if _missing(v) else v) for k, v in zip(cols, row, strict=True)}
            for row in pd.DataFrame(df[cols]).to_numpy(dtype=object)]


def _missing(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # list-like values are present
        return False


def project_view(scope: Sequence[str] | None, code: str, month_to: str | None = None, mask_pii: bool = True) -> dict | None:
    """The project page: facts, compliance checklist with evidence, cases, deposits, location; None if unseen.

    Reads only this project's rows (its project, monthly reports, deposits and cases, by key through
    the scope ceiling) plus its township's part of the window's project status (`status_part`, shared
    between workers and warmed), so a project page never needs the whole city's rows in the process.
    """
    def build() -> dict | None:
        st_ = S.store()
        with st_.begin(scope) as conn:  # one transaction (one scope ceiling) for the project's own rows
            rows = st_.read("projects", scope=scope, where={"project_code": code}, conn=conn)
            if rows.empty:
                return None
            comp = _by_id(st_.read("compliance", scope=scope, where={"project_code": code}, conn=conn))
            deps = _by_id(st_.read("deposits", scope=scope, where={"project_code": code}, conn=conn))
            own_cases = st_.read("cases", scope=scope, where={"project_code": code}, conn=conn)
        row = _records(rows.head(1))[0]
        f = S._filters(None, month_to)
        st = status_part(scope, month_to, row.get("township_code"))
        srow = st[st["project_code"] == code]
        facts = srow.iloc[0].to_dict() if len(srow) else {}
        checklist = []
        prov = provenance(row)
        for k in KEYS:
            m = coverage.MECHANISMS[k]
            if srow.empty:
                state, ev, since = "不适用", "项目不在建或未开工，不计入机制检查", ""
            else:
                app, met = bool(facts[f"{k}_app"]), bool(facts[f"{k}_met"])
                state = "达标" if met else ("缺失" if app else "不适用")
                ev = str(coverage.evidence(srow, k).iloc[0])
                since = str(coverage.since_text(srow, k).iloc[0]) if state == "缺失" else ""
            checklist.append({"key": k, "title": m.short, "clause": m.clause, "rule": m.rule, "state": state,
                              "evidence": ev, "since": since, "source": _evidence_source(k, comp, deps, prov)})
        own = LayerData(townships=S.townships(scope), cases=own_cases)
        cs = arrears.case_state(own, f)  # row by row: the same rows as in the whole window's case state
        cases = S._with_links(arrears.case_table(cs, S.township_names(scope)))
        reports = comp.sort_values("month") if len(comp) else comp
        return {
            "project": _mask_row(row, "projects", mask_pii), "provenance": prov,
            "township": S.township_names(scope).get(row.get("township_code") or "", row.get("township_code") or "—"),
            "active": not srow.empty, "eval_month": st.attrs.get("eval_month", ""),
            "checklist": checklist,
            "cases": cases.to_dict("records"), "case_columns": [c for c in cases.columns if c != "link"],
            "deposits": [{**r, "provenance": provenance(r)} for r in _records(deps)],
            "reports": [{**r, "provenance": provenance(r)} for r in _records(reports.tail(12))],
        }

    return S._cached("project", scope, (code, month_to, mask_pii), build)


def _by_id(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in load order (reads carry no ORDER BY)."""
    return df.sort_values("id", kind="stable").reset_index(drop=True) if "id" in df.columns and len(df) else df


def status_part(scope: Sequence[str] | None, month_to: str | None, township: str | None) -> pd.DataFrame:
    """One township's rows of the window's project status (coverage_rules.project_status), shared between workers.

    The status is computed over the whole scope (some rules look beyond one project: the latest
    month any report reached, the contractor's arrears record), then kept per township.
    """
    def build() -> pd.DataFrame:
        st = project_status(S.window_data(scope, month_to), S._filters(None, month_to))
        part = st[st["township_code"] == township] if township else st[st["township_code"].isna()]
        part = part.reset_index(drop=True)
        part.attrs = dict(st.attrs)
        return part

    return S._cached("status_part", scope, (month_to, township), build)


def _evidence_source(key: str, comp: pd.DataFrame, deps: pd.DataFrame, prov: str) -> str:
    """Where a checklist item's facts come from: the project row, its monthly reports or deposits."""
    if key in ("real_name", "card", "monthly_settled"):
        if len(comp):
            last = _records(comp.sort_values("month").tail(1))[0]
            return "月报 " + provenance(last)
        return "无月报"
    if key == "deposit":
        if len(deps):
            return "；".join(provenance(x) for x in _records(deps.tail(3)))
        return "无保证金记录"
    return "项目台账 " + prov


def _mask_row(row: dict, kind: str, mask_pii: bool) -> dict:
    if not mask_pii:
        return row
    from layers.exports import mask_frame

    return _records(mask_frame(pd.DataFrame([row]), kind))[0]


def enterprise_view(scope: Sequence[str] | None, credit_code: str, month_to: str | None = None,
                    mask_pii: bool = True) -> dict | None:
    """The enterprise page: facts, its projects (as contractor) with gaps, cases, deposits, credit."""
    def build() -> dict | None:
        data = S.window_data(scope, month_to)
        e = data.enterprises
        rows = e[e["credit_code"].astype(str) == credit_code] if len(e) else e
        p = data.projects
        projects = p[p["contractor_credit_code"].astype(str) == credit_code] if len(p) else p
        c = data.cases
        case_rows = c[c["credit_code"].astype(str) == credit_code] if len(c) else c
        if rows.empty and projects.empty and case_rows.empty:
            return None
        name = _first(projects, "contractor") or _first(case_rows, "employer_name")
        row = _records(rows.head(1))[0] if len(rows) else {"credit_code": credit_code, "name": name}
        f = S._filters(None, month_to)
        wl = gaps.worklist(data, f, mask_pii=mask_pii)
        missing = dict(zip(wl["project_code"], wl["missing_zh"], strict=True))
        proj = pd.DataFrame({
            "项目编号": projects["project_code"], "项目名称": projects["name"],
            "所属乡镇": projects["township_code"].map(S.township_names(scope)), "项目状态": projects["status"],
            "开工日期": fmt_dates(projects["start_date"]),
            "缺失机制": projects["project_code"].map(missing).fillna("—"),
        }) if len(projects) else pd.DataFrame(columns=["项目编号", "项目名称", "所属乡镇", "项目状态", "开工日期", "缺失机制"])
        proj = S._with_links(proj)
        cs = arrears.case_state(data, f)
        cases = S._with_links(arrears.case_table(cs[cs["credit_code"] == credit_code], S.township_names(scope)))
        cr = data.credit
        credit = cr[cr["credit_code"].astype(str) == credit_code].sort_values("year") if len(cr) else cr
        dep = data.deposits
        deps = dep[dep["credit_code"].astype(str) == credit_code] if len(dep) and "credit_code" in dep else dep.iloc[0:0]
        return {
            "enterprise": _mask_row(row, "enterprises", mask_pii), "known": bool(len(rows)),
            "provenance": provenance(row) if len(rows) else "无单位台账记录（名称取自项目或案件）",
            "township": S.township_names(scope).get(row.get("township_code") or "", "—"),
            "projects": proj.to_dict("records"), "project_columns": [c for c in proj.columns if c != "link"],
            "cases": cases.to_dict("records"), "case_columns": [c for c in cases.columns if c != "link"],
            "credit": [{**r, "provenance": provenance(r)} for r in _records(credit)],
            "deposits": [{**r, "provenance": provenance(r)} for r in _records(deps)],
        }

    return S._cached("enterprise", scope, (credit_code, month_to, mask_pii), build)


def _first(df: pd.DataFrame, col: str) -> str | None:
    if len(df) and col in df.columns:
        v = df[col].dropna()
        return str(v.iloc[0]) if len(v) else None
    return None
