"""The month lookups of layers/rule_history.py give what the whole-frame computations they replace give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geodata.settings import Rules
from layers import rule_history, rules
from layers.base import Filters
from tests.layers.test_rules import T1, T2, make, project, report

MONTHS = [str(p) for p in pd.period_range("2023-01", "2024-12", freq="M")]


def _indicators(rng: np.random.Generator, n_firms: int) -> list[dict]:
    rows = []
    for i in range(n_firms):
        code = f"9141018300000{i:05d}" if i % 7 else f" 9141018300000{i:05d}".lower()  # padded, lower case
        for month in MONTHS:
            if rng.random() < 0.25:
                continue  # a month not reported
            for _ in range(2 if rng.random() < 0.1 else 1):  # sometimes twice: the last counts
                rows.append(dict(credit_code=code, month=month,
                                 tax_paid=np.nan if rng.random() < 0.2 else round(float(rng.gamma(2, 10)), 3),
                                 electricity_kwh=float(rng.integers(0, 5000)) * rng.random(),
                                 water_m3="" if rng.random() < 0.1 else float(rng.integers(-1, 100))))
    rows.append(dict(credit_code=None, month="2024-03", tax_paid=1.0, electricity_kwh=1.0, water_m3=1.0))
    rows.append(dict(credit_code="91410183000009999X", month=None, tax_paid=1.0, electricity_kwh=1.0, water_m3=1.0))
    return rows


@pytest.mark.parametrize("n_firms,months_back", [(40, 6), (3, 7), (4, 6), (25, 12), (8, 1)])
def test_indicator_trends_from_the_history_equal_the_month_pivot(monkeypatch, n_firms, months_back):
    rng = np.random.default_rng(n_firms * 100 + months_back)
    r = Rules(indicator_baseline_months=months_back)
    rows = _indicators(rng, n_firms)
    fast, slow = make([], indicators=rows), make([], indicators=rows)
    for month in ["2022-06", "2023-01", "2023-04", "2023-09", "2024-06", "2024-12", "2025-03", "2026-01"]:
        a = rules.indicator_trends(fast, month, r)
        monkeypatch.setattr(rule_history, "DENSE_MAX_CELLS", 0)  # the per-month groupby
        b = rules.indicator_trends(slow, month, r)
        monkeypatch.undo()
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert len(rules.indicator_trends(fast, "2024-06", r)) > 0


def _cases(rng: np.random.Generator, codes: list[str]) -> list[dict]:
    rows = []
    for _ in range(120):
        received = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 700)))
        closed = received + pd.Timedelta(days=int(rng.integers(0, 200))) if rng.random() < 0.5 else None
        status = "结案" if closed is not None or rng.random() < 0.2 else "受理"
        rows.append(dict(case_no=f"C{rng.integers(0, 100):03d}", received_date=None if rng.random() < 0.05 else received,
                         closed_date=closed, status=status, project_code=rng.choice(codes + [None, "UNKNOWN"]),
                         credit_code=rng.choice(["914101830000000001", "914101830000000002", None]), township_code=T1))
    return rows


def test_past_arrears_from_the_case_history_equal_the_arrears_record():
    rng = np.random.default_rng(7)
    codes = [f"P{i}" for i in range(12)]
    projects = [project(c, township_code=T1 if i % 2 else T2, start_date=f"2023-{i % 12 + 1:02d}-01",
                        status="竣工" if i == 3 else "在建") for i, c in enumerate(codes)]
    d = make(projects, cases=_cases(rng, codes))
    for month in ["2022-12", "2023-03", "2023-08", "2024-01", "2024-06", "2025-02"]:
        ctx = rules.context(d, Filters(month_to=month))
        fast, slow = rules.rule_past_arrears(ctx), rules._past_arrears_joined(ctx)
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert len(rules.rule_past_arrears(rules.context(d, Filters(month_to="2024-06")))) > 5


def test_context_from_the_report_index_equals_the_join(monkeypatch):
    codes = [f"P{i}" for i in range(6)]
    projects = [project(c, start_date=f"2024-0{i + 1}-01", status="竣工" if i == 2 else "在建") for i, c in enumerate(codes)]
    reports = [report(c, month=m, workers_onsite=i) for i, c in enumerate(codes) for m in ("2024-05", "2024-06")]
    reports += [report("P1", workers_onsite=77), report("GONE"), report(None), report("P4", month=None)]
    d = make(projects, reports=reports)
    for month in ["2024-04", "2024-05", "2024-06", "2024-07"]:
        fast = rules.context(d, Filters(month_to=month))
        with monkeypatch.context() as mp:
            mp.setattr(rule_history, "report_index", lambda *a: None)
            slow = rules.context(make(projects, reports=reports), Filters(month_to=month))
        pd.testing.assert_frame_equal(fast.comp, slow.comp, check_exact=True)
        pd.testing.assert_frame_equal(fast.projects, slow.projects, check_exact=True)
    comp = rules.context(d, Filters(month_to="2024-06")).comp
    assert list(comp["project_code"]) == ["P0", "P3", "P4", "P5", "P1"]  # report order; P2 completed
    assert comp["onsite"].iloc[-1] == 77  # the last report of P1


def test_repeated_project_codes_fall_back_to_the_join():
    d = make([project("P"), project("P", name="另一个")], reports=[report("P")])
    assert rule_history.report_index(d, rules._projects(d), rules._reports(d)) is None
    assert len(rules.context(d, Filters(month_to="2024-06")).comp) == 2  # the join: one row per project row
