"""(九) Deposits per month window: the date-independent base gives the rows the whole-frame rule gives, and the
text helpers give the strings pandas' string forms gave (the view must not change with the speed-up)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers import deposits
from layers.base import Filters
from layers.coverage_rules import project_status
from tests.layers.test_rules import T1, T2, A, make, project


def _old_joined(parts: list[np.ndarray], sep: str) -> np.ndarray:
    """The loop the flags were joined with before (every row through every column)."""
    acc = np.full(len(parts[0]), "", dtype=object)
    for v in parts:
        has = v != ""
        acc = np.where(has & (acc != ""), acc + sep + v, np.where(has, v, acc))
    return acc


def test_amount_text_is_pandas_string_form():
    rng = np.random.default_rng(3)
    s = pd.Series(np.r_[rng.normal(0, 500, 2000).round(3), [np.nan, -0.0, 0.0, -0.001, 1e20, np.inf, 12.345, 0.125, 7.0]])
    want = s.round(2).astype("string").str.replace(r"\.0$", "", regex=True).to_numpy(dtype=object)
    got = deposits._amounts(s)
    assert got.dtype == object
    assert [(w is pd.NA and g is pd.NA) or w == g for w, g in zip(want, got, strict=True)] == [True] * len(s)


@pytest.mark.parametrize("seed", range(4))
def test_joined_arrays_equal_the_loop(seed):
    rng = np.random.default_rng(seed)
    parts = [rng.choice(np.array(["", "甲", "乙乙", "丙；"], dtype=object), 300, p=[0.6, 0.2, 0.1, 0.1]) for _ in range(5)]
    assert deposits._joined_arrays(parts, "；").tolist() == _old_joined(parts, "；").tolist()


def _day(start: str, days) -> str:
    return str(pd.Timestamp(start) + pd.Timedelta(days=int(days)))[:10]


def _data():
    rng = np.random.default_rng(7)
    firms = [A, "914101830000000002", "914101830000000003"]
    projects = [project(f"P{i}", township_code=[T1, T2][i % 2], contractor_credit_code=firms[i % 3],
                        start_date=_day("2023-01-01", rng.integers(0, 700)),
                        contract_value=None if i % 7 == 0 else float(rng.integers(100, 5000)))
                for i in range(40)]
    projects.append(project("P3", contractor_credit_code=firms[1]))  # a code twice: the lookup takes the first row
    statuses = ["缴存", "动用", "退还", "减免", None]
    deps = [{"project_code": f"P{rng.integers(0, 45)}", "paid_date": _day("2023-01-01", rng.integers(0, 30) * 30),
             "amount": float(rng.integers(0, 60)), "status": statuses[rng.integers(0, 5)],
             "rate": ["2%", "3%", 0.05, None][rng.integers(0, 4)], "no_arrears_cert": bool(rng.random() < 0.2),
             "credit_code": firms[rng.integers(0, 3)]} for _ in range(120)]  # same paid dates, other rates: ties
    cases = [{"case_no": f"C{i}", "received_date": _day("2022-06-01", rng.integers(0, 900)),
              "closed_date": None if rng.random() < 0.4 else "2024-05-01", "status": ["受理", "结案"][rng.integers(0, 2)],
              "credit_code": firms[rng.integers(0, 3)], "township_code": T1, "amount": 1.0} for i in range(30)]
    return projects, deps, cases


@pytest.mark.parametrize("as_of", ["2023-03-31", "2024-01-31", "2024-06-30", "2025-12-31"])
def test_rows_at_a_date_are_the_whole_frame_rows(as_of):
    projects, deps, cases = _data()
    when = pd.Timestamp(as_of)
    whole = deposits.required_deposits(make(projects, deposits=deps, cases=cases), when)
    rows = np.array([0, 3, 5, 17, 40, 39])
    part = deposits.required_at(make(projects, deposits=deps, cases=cases), when, rows)  # fresh frames: computed for rows
    pd.testing.assert_frame_equal(part, whole.iloc[rows], check_exact=True)
    assert whole["differs"].any() and (whole["rule"] != "normal").any()


@pytest.mark.parametrize("month", ["2023-06", "2024-03", "2024-12"])
def test_township_status_is_the_citywide_rows_of_the_township(month):
    projects, deps, cases = _data()
    projects = projects[:-1]  # unique codes: the citywide view keeps one row per code across townships
    city = project_status(make(projects, deposits=deps, cases=cases), Filters(month_to=month))
    town = project_status(make(projects, deposits=deps, cases=cases), Filters(month_to=month, township=T2))
    want = city[city["township_code"] == T2].reset_index(drop=True)
    pd.testing.assert_frame_equal(town, want, check_exact=True)
    assert len(town) > 0
