"""The data of the project and enterprise pages: facts, compliance checklist with its evidence, cases, records.

Part of dashboard.services (which re-exports `project_view`, `enterprise_view`): same cache,
same scope rule — a project or enterprise outside the scope is None, as if it did not exist.
Every checklist item and record carries its provenance: source file, row and load batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dashboard import remote
from dashboard import services as S
from geodata import schema
from layers import arrears, coverage, exports, gaps
from layers.base import LayerData, memo
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

    Reads only this project's rows (`_own_rows`: its project, monthly reports and deposits, by key through
    the scope ceiling, as plain records) plus its township's part of the window (`status_part`: checklist
    states, evidence and since texts, and case table rows, made at once for the whole township by the
    layers' own functions, shared between workers and warmed): no whole-city rows in the worker and no
    pandas on one-row frames per page.
    """
    def build() -> dict | None:
        own = _own_rows(scope, code)
        if own is None:
            return None
        row, comp, deps = own
        prov = provenance(row)
        part = status_part(scope, month_to, row.get("township_code"))
        at = part["index"].get(code)
        reports = sorted(comp, key=lambda r: (r.get("month") is None, r.get("month") or ""))  # month order, missing last
        sources = _evidence_sources(reports, deps, prov)
        checklist = []
        for k in KEYS:
            m = coverage.MECHANISMS[k]
            if at is None:
                state, ev, since = "不适用", "项目不在建或未开工，不计入机制检查", ""
            else:
                item = _row(part["checklist"], at)
                state, ev, since = item[f"{k}.state"], item[f"{k}.evidence"], item[f"{k}.since"]
            checklist.append({"key": k, "title": m.short, "clause": m.clause, "rule": m.rule, "state": state,
                              "evidence": ev, "since": since, "source": sources.get(k, "项目台账 " + prov)})
        lo, hi = part["case_rows"].get(code, (0, 0))
        return {
            "project": exports.mask_record(row, "projects") if mask_pii else row, "provenance": prov,
            "township": S.township_names(scope).get(row.get("township_code") or "", row.get("township_code") or "—"),
            "active": at is not None, "eval_month": part["eval_month"],
            "checklist": checklist,
            "cases": [_row(part["cases"], i) for i in range(lo, hi)],
            "case_columns": [c for c in part["cases"]["columns"] if c != "link"],
            "deposits": [{**r, "provenance": provenance(r)} for r in deps],
            "reports": [{**r, "provenance": provenance(r)} for r in reports[-12:]],
        }

    return S._cached("project", scope, (code, month_to, mask_pii), build)


OWN_KINDS = ("projects", "compliance", "deposits")


def _own_rows(scope: Sequence[str] | None, code: str) -> tuple[dict, list[dict], list[dict]] | None:
    """The project's row, monthly reports and deposits (load order), or None when unseen in the scope.

    One transaction (one scope ceiling: row-level security on PostGIS), one keyed statement per kind on
    the `project_code` indexes (unique key, migration 0005), rows as plain records with None for missing;
    the scope is also written into each statement as `Store.read` does.
    """
    st_ = S.store()
    with st_.begin(scope) as conn:
        out = []
        for kind in OWN_KINDS:
            t = schema.metadata.tables[kind]
            q = sa.select(*[c for c in t.columns if c.name != "geom"]).where(t.c.project_code == code)
            if scope is not None:
                q = q.where(t.c.township_code.in_(list(scope)))
            out.append([dict(r) for r in conn.execute(q.order_by(t.c.id)).mappings()])
            if not out[0]:
                return None
    return out[0][0], out[1], out[2]


def _evidence_sources(reports: list[dict], deps: list[dict], prov: str) -> dict[str, str]:
    """Where checklist items' facts come from: the latest monthly report, the last deposits (else the project row)."""
    rep = "月报 " + provenance(reports[-1]) if reports else "无月报"
    dep = "；".join(provenance(x) for x in deps[-3:]) if deps else "无保证金记录"
    return {"real_name": rep, "card": rep, "monthly_settled": rep, "deposit": dep}


@remote.allowed
def status_part(scope: Sequence[str] | None, month_to: str | None, township: str | None) -> dict:
    """One township's part of the window for its project pages, shared between workers (and warmed).

    - checklist: the window's project status (coverage_rules.project_status) is computed over the whole
      scope, since some rules look beyond one project (the latest month any report reached; the
      contractor's arrears record for the deposit rule (九)); the township's active projects then get,
      per mechanism, their state (coverage.states), evidence (coverage.evidence) and since text
      (coverage.since_text, gaps only), made for all of them at once;
    - cases: the window's case state (arrears.case_state, row by row) of the cases of the township's
      projects, as the arrears layer's case table with links (services._with_links), grouped by project,
      in load order (row id).
    Stored compactly (`_pack`): {"eval_month", "index": {project_code: checklist row}, "checklist",
    "cases": packed tables, "case_rows": {project_code: (first, end) row of its cases}}.
    """
    def build() -> dict:
        data, f = S.window_data(scope, month_to), S._filters(None, month_to)
        st = project_status(data, f)
        part = st[st["township_code"] == township] if township else st[st["township_code"].isna()]
        part = part.reset_index(drop=True)
        checklist = {}
        for k in KEYS:
            state = coverage.states(part, k)
            since = [str(v) for v in coverage.since_text(part, k)]
            checklist[f"{k}.state"] = [str(v) for v in state]
            checklist[f"{k}.evidence"] = [str(v) for v in coverage.evidence(part, k)]
            checklist[f"{k}.since"] = [v if g == "缺失" else "" for v, g in zip(since, state, strict=True)]
        p = data.projects
        here = p["township_code"] == township if township else p["township_code"].isna()
        cs = arrears.case_state(data, f)
        cs = cs[cs["project_code"].isin(set(p.loc[here.to_numpy(dtype=bool), "project_code"].astype(str)))]
        cs = cs.iloc[np.lexsort((_load_order(data, cs["case_no"]), cs["project_code"].to_numpy(dtype=object).astype(str)))]
        cases = S._with_links(arrears.case_table(cs, S.township_names(scope)))
        bounds = np.flatnonzero(np.r_[True, cs["project_code"].to_numpy()[1:] != cs["project_code"].to_numpy()[:-1]])
        ends = np.r_[bounds[1:], len(cs)]
        return {"eval_month": st.attrs.get("eval_month", ""),
                "index": {c: i for i, c in enumerate(part["project_code"].tolist())},
                "checklist": _pack(pd.DataFrame(checklist, index=range(len(part)))),
                "cases": _pack(cases),
                "case_rows": {str(cs["project_code"].iloc[b]): (int(b), int(e)) for b, e in zip(bounds, ends, strict=True)}
                if len(cs) else {}}

    return S.view("status_part", scope, (month_to, township), build, status_part, (scope, month_to, township))


def _load_order(data: LayerData, case_no: pd.Series) -> np.ndarray:
    """Each case's row id (load order; the window's frames come in scan order, which synchronised scans rotate)."""
    rows = data.cases
    if "id" not in rows.columns:
        return np.zeros(len(case_no))
    ids = memo(data, ("records.case_ids",), lambda: dict(zip(rows["case_no"], rows["id"], strict=True)))
    return np.array([ids.get(c, np.inf) for c in case_no], dtype=float)


def _pack(frame: pd.DataFrame) -> dict:
    """A table as one code per row into each column's distinct values; `_row` reads a row back.

    Texts of a column are one UTF-8 buffer with offsets, numbers one array: a township's part at
    province scale (~10 k projects, ~15 k cases) loads in milliseconds instead of rebuilding hundreds
    of thousands of Python strings (pickle), and states, dates and names repeat. Missing is None.
    """
    columns = {}
    for c in frame.columns:
        codes, uniq = pd.factorize(frame[c].to_numpy(dtype=object), use_na_sentinel=True)
        values = uniq.tolist()
        kinds = {type(v) for v in values}
        if kinds <= {str}:
            enc = [v.encode() for v in values]
            columns[c] = ("text", b"".join(enc), np.cumsum([0, *map(len, enc)], dtype=np.int64), codes.astype(np.int32))
        elif kinds <= {float} or kinds <= {int}:
            columns[c] = ("float" if kinds <= {float} else "int", np.array(values), codes.astype(np.int32))
        else:
            columns[c] = ("values", values, codes.astype(np.int32))
    return {"columns": list(frame.columns), "data": columns}


def _row(pack: dict, i: int) -> dict:
    return {c: _value(pack["data"][c], i) for c in pack["columns"]}


def _value(col: tuple, i: int):
    j = col[-1][i]
    if j < 0:
        return None
    if col[0] == "text":
        return col[1][col[2][j]:col[2][j + 1]].decode()
    if col[0] == "float":
        return float(col[1][j])
    if col[0] == "int":
        return int(col[1][j])
    return col[1][j]


def _mask_row(row: dict, kind: str, mask_pii: bool) -> dict:
    if not mask_pii:
        return row
    return _records(exports.mask_frame(pd.DataFrame([row]), kind))[0]


@remote.allowed
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

    args = (credit_code, month_to, mask_pii)
    return S.view("enterprise", scope, args, build, enterprise_view, (scope, *args))


def _first(df: pd.DataFrame, col: str) -> str | None:
    if len(df) and col in df.columns:
        v = df[col].dropna()
        return str(v.iloc[0]) if len(v) else None
    return None
