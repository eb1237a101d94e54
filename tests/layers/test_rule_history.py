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


def _indicators(rng: np.random.Generator, n_firms: int, twice: float = 0.1) -> list[dict]:
    rows = []
    for i in range(n_firms):
        code = f"9141018300000{i:05d}" if i % 7 else f" 9141018300000{i:05d}".lower()  # padded, lower case
        for month in MONTHS:
            if rng.random() < 0.25:
                continue  # a month not reported
            for _ in range(2 if rng.random() < twice else 1):  # sometimes twice: the last counts
                rows.append(dict(credit_code=code, month=month,
                                 tax_paid=np.nan if rng.random() < 0.2 else round(float(rng.gamma(2, 10)), 3),
                                 electricity_kwh=float(rng.integers(0, 5000)) * rng.random(),
                                 water_m3="" if rng.random() < 0.1 else float(rng.integers(-1, 100))))
    rows.append(dict(credit_code=None, month="2024-03", tax_paid=1.0, electricity_kwh=1.0, water_m3=1.0))
    rows.append(dict(credit_code="91410183000009999X", month=None, tax_paid=1.0, electricity_kwh=1.0, water_m3=1.0))
    return rows


@pytest.mark.parametrize("n_firms,months_back,twice", [(40, 6, 0.1), (3, 7, 0.1), (4, 6, 0.0), (25, 12, 0.1), (8, 1, 0.0),
                                                       (30, 6, 0.0)])
def test_indicator_trends_from_the_history_equal_the_month_pivot(monkeypatch, n_firms, months_back, twice):
    rng = np.random.default_rng(n_firms * 100 + months_back)
    r = Rules(indicator_baseline_months=months_back)
    rows = _indicators(rng, n_firms, twice)
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


def test_restricted_from_the_credit_history_equal_restricted_as_of():
    from layers import credit

    rng = np.random.default_rng(3)
    rows = []
    for i in range(30):
        code = f"91410183000000{i:04d}"
        for year in rng.choice([2021, 2022, 2023, 2024, 2025], size=int(rng.integers(1, 5))):
            black = bool(rng.random() < 0.3)
            listed = None
            if black and rng.random() < 0.8:  # blacklisted without a date: listed when the grade takes effect
                listed = pd.Timestamp(f"{year}-01-01") + pd.Timedelta(days=int(rng.integers(0, 500)))
            rows.append(dict(credit_code=code.lower() if i % 5 == 0 else code, year=int(year),
                             grade=rng.choice(["A", "B", "c", "D", None]), blacklisted=black, listed_date=listed,
                             delisted_date=listed + pd.Timedelta(days=200) if listed is not None and rng.random() < 0.5 else None,
                             reason="拖欠"))
    r = Rules()
    d = make([], credit=rows)
    h = rule_history.credit_history(d, r)
    for as_of in ["2020-12-31", "2021-06-01", "2022-05-31", "2023-07-15", "2024-06-30", "2026-01-01"]:
        t = pd.Timestamp(as_of)
        fast = rule_history.restricted_at(h, t, r)
        slow = credit._restricted(make([], credit=rows), t, r)
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert rule_history.restricted_at(h, pd.Timestamp("2024-06-30"), r)["blacklisted"].any()
    empty = make([])
    assert rule_history.restricted_at(rule_history.credit_history(empty, r), pd.Timestamp("2024-06-30"), r).empty


@pytest.mark.parametrize("dtype", ["float", "int"])
def test_numbers_in_evidence_are_formatted_as_one_by_one(dtype):
    rng = np.random.default_rng(5)
    x = pd.Series(rng.normal(0, 100, 3000).astype(dtype), index=rng.permutation(3000), name="v")
    if dtype == "float":
        x.iloc[:40] = np.nan
        x.iloc[40:50] = 0.0
        x.iloc[50:55] = -0.04  # rounds to -0.0
    for nd in (0, 1, 2):
        pd.testing.assert_series_equal(rules._f(x, nd), rules._format(x.round(nd)), check_exact=True)
    assert list(rules._f(pd.Series([1.04, 2.5, np.nan, 3.0] * 20), 1)[:4]) == ["1", "2.5", pd.NA, "3"]


def test_warnings_order_from_ranks_equals_sort_values():
    rng = np.random.default_rng(11)
    n = 3000
    ids = np.array([f"P{i:04d}" for i in range(300)] + [f"9141{i:014d}" for i in range(300)], dtype=object)
    w = pd.DataFrame({
        "entity_id": rng.choice(ids, n), "township_code": rng.choice(np.array([T1, T2, None], dtype=object), n),
        "rule": rng.choice(np.array(list(rules.RULES), dtype=object), n),
        "severity": rng.choice(np.array(["red", "orange", "yellow"], dtype=object), n), "k": np.arange(n)})
    universe: dict = {}
    for part in (w.iloc[: n // 2], w.iloc[n // 2:], w):  # ids new to the second part, then none new
        o = part["severity"].map(rules.SEVERITY_RANK)
        expected = part.assign(_o=o).sort_values(["_o", "township_code", "entity_id", "rule"]).drop(columns="_o")
        pd.testing.assert_frame_equal(part.take(rules._order(part, universe)), expected)
    assert len(universe["ids"]) == w["entity_id"].nunique()


def test_warning_points_from_group_codes_equal_groupby_and_merge():
    rng = np.random.default_rng(13)
    projects = [project(f"P{i}", lon=None if i % 4 == 0 else 113.3 + i / 100) for i in range(12)]
    d = make(projects)
    ids = [f"P{i}" for i in range(14)] + ["914101830000000001", "914101830000000002", "914101830000000009"]
    n = 400
    eid = rng.choice(np.array(ids, dtype=object), n)
    w = pd.DataFrame({
        "entity_type": np.where(pd.Series(eid).str.startswith("P"), "project", "employer"), "entity_id": eid,
        "entity_name": rng.choice(np.array(["甲", "乙<b>&'", None], dtype=object), n),
        "township_code": T1, "rule": "x", "rule_zh": rng.choice(np.array([v[0] for v in rules.RULES.values()], dtype=object), n),
        "clause": "", "severity": rng.choice(np.array(["red", "orange", "yellow"], dtype=object), n), "evidence": "",
        "value": 1.0, "threshold": 1.0, "month": "2024-06"})
    fast, slow = rules._points(d, w), rules._points_grouped(d, w)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert 0 < len(fast) < w["entity_id"].nunique()  # some entities have no location
    for limit in (0, 1, 5, len(fast), len(fast) + 3):  # the layer's cap: the first points made for those only
        pts, n_all = rules.capped_points(d, w, limit)
        pd.testing.assert_frame_equal(pts, fast.head(limit).reset_index(drop=True), check_exact=True)
        assert n_all == len(fast)
