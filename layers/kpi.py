"""KPI figures for the overview cards: open cases, amount owed, workers affected, coverage, projects with gaps.

Every figure comes from the same functions as the map layers (arrears.case_state,
coverage_rules.project_status), so a card and the map never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geodata.settings import get_settings
from layers.arrears import case_state, summary
from layers.base import Filters, LayerData, memo
from layers.coverage import MECHANISMS, overall_all, threshold_pct
from layers.coverage_rules import KEYS, gaps, project_status
from layers.units import eval_month, fmt_count, fmt_month, fmt_pct, fmt_people, fmt_wan


@dataclass
class Kpi:
    """One card: a number with its unit, formatted, and what it means."""

    key: str  # the layer key the card drills to (registry), or a plain id
    title: str
    value: float
    unit: str
    label: str  # formatted with unit: "12.3万元", "95.0%"
    detail: str = ""
    higher_is_better: bool | None = None
    warn: bool = False  # e.g. coverage below the policy minimum


def kpis(data: LayerData, filters: Filters | None = None) -> list[Kpi]:
    """All overview KPIs for the scope and month range, in display order.

    Memoised on `data` (every indicator of one view shows the same cards); callers must not modify them.
    """
    filters = filters or Filters()
    f = filters
    key = ("kpis", f.month_from, f.month_to, f.as_of, f.township, get_settings().rules.model_dump_json())
    return memo(data, key, lambda: _kpis(data, filters))


def _kpis(data: LayerData, filters: Filters) -> list[Kpi]:
    cs = case_state(data, filters)
    a = summary(cs)
    st = project_status(data, filters)
    n_active = len(st)
    any_gap = gaps(st, KEYS[0]).copy()
    for k in KEYS[1:]:
        any_gap |= gaps(st, k)
    n_gap = int(any_gap.sum())
    new = int(cs["new_in_range"].sum()) if len(cs) else 0
    period = f"{fmt_month(filters.month_from)}至{fmt_month(eval_month(filters))}新收" if filters.month_from else "近12个月新收"
    out = [
        Kpi("arrears_cases", "在办欠薪案件", a["open_cases"], "件", fmt_count(a["open_cases"]),
            f"{period}{new}件", higher_is_better=False, warn=a["open_cases"] > 0),
        Kpi("arrears", "欠薪金额", a["amount_wan"], "万元", fmt_wan(a["amount_wan"]), "在办案件未追回金额",
            higher_is_better=False, warn=a["amount_wan"] > 0),
        Kpi("arrears_workers", "涉及农民工", a["workers"], "人", fmt_people(a["workers"]), "在办案件涉及人数",
            higher_is_better=False),
        Kpi("projects_with_gap", "存在机制缺失的项目", n_gap, "个", fmt_count(n_gap, "个"),
            f"在建/停工项目{n_active}个，占{fmt_pct(n_gap / n_active * 100) if n_active else '—'}",
            higher_is_better=False, warn=n_gap > 0),
    ]
    shares = overall_all(st) if n_active else {}
    for k in KEYS:
        v = shares[k] if n_active else math.nan
        m = MECHANISMS[k]
        low = v == v and v < threshold_pct(k)
        out.append(Kpi(k, m.title, v, "%", fmt_pct(v), f"{m.clause} {m.rule}", higher_is_better=True, warn=bool(low)))
    return out


def as_dict(items: list[Kpi]) -> dict[str, Kpi]:
    return {k.key: k for k in items}
