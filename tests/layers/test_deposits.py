"""工资保证金 (九): the rate rule by the contractor's record at the due date, and the projects that differ."""

from __future__ import annotations

import pandas as pd
import pytest

from layers.base import Filters
from layers.deposits import LAYER, required_deposits
from tests.layers.test_rules import T1, A, deposit, make, project

AS_OF = pd.Timestamp("2024-06-30")


def case(no: str, received: str, closed: str | None = None, code: str = A) -> dict:
    return dict(case_no=no, received_date=received, credit_code=code, status="结案" if closed else "立案", closed_date=closed,
                township_code=T1, amount=1.0)


def rule_of(cases=(), deposits=None, **kw) -> pd.Series:
    d = make([project("P", **kw)], deposits=deposits, cases=cases)
    return required_deposits(d, AS_OF).set_index("project_code").loc["P"]


def test_normal_rate_without_history():
    r = rule_of()
    assert (r["rule"], r["rate"], r["required"]) == ("normal", 0.02, pytest.approx(2.0))
    assert not r["differs"] and r["flags"] == ""


def test_open_arrears_at_start_means_full_rate():
    r = rule_of([case("C1", "2023-10-01")], deposits=[deposit("P", 5.0, rate=0.05)])
    assert (r["rule"], r["required"]) == ("full", pytest.approx(5.0))
    assert not r["differs"]


def test_case_closed_before_start_raises_the_rate():
    r = rule_of([case("C1", "2023-05-01", "2023-06-01")], deposits=[deposit("P", 3.0, rate=0.03)])
    assert (r["rule"], r["required"]) == ("raised", pytest.approx(3.0))


def test_case_after_start_does_not_change_the_rule():
    r = rule_of([case("C1", "2024-03-01")])  # arrears after the deposit fell due (start 2024-01-01)
    assert r["rule"] == "normal"


def test_exempt_needs_two_clean_years_and_a_certificate():
    cert = [deposit("P", 0.0, rate=0.0, status="减免", no_arrears_cert=True)]
    assert rule_of([case("C1", "2021-06-01", "2021-07-01")], deposits=cert)["rule"] == "exempt"
    # 730 days before the start (2022-01-01 -> 2024-01-01) the case is inside the window: raised, and the 减免 is unjustified
    r = rule_of([case("C1", "2022-01-02", "2022-02-01")], deposits=cert)
    assert r["rule"] == "raised" and r["differs"] and "不得擅自减免" in r["flags"] and "少缴" in r["flags"]
    r = rule_of([], deposits=[deposit("P", 2.0)])  # clean but no certificate: normal
    assert r["rule"] == "normal"


def test_exempt_certificate_on_the_firm():
    cert = [deposit("P", 0.0, rate=0.0, status="减免"), dict(project_code=None, credit_code=A, paid_date="2023-01-01", amount=0.0,
                                                              status="减免", no_arrears_cert=True)]
    r = rule_of([], deposits=cert)
    assert r["rule"] == "exempt" and r["required"] == 0 and not r["differs"]


def test_flags_short_over_rate_and_balance():
    assert "少缴" in rule_of(deposits=[deposit("P", 1.5)])["flags"]
    over = rule_of(deposits=[deposit("P", 2.5)])
    assert over["differs"] and "多缴" in over["flags"] and not over["short"]
    assert "规则比例2%" in rule_of(deposits=[deposit("P", 2.0, rate="3%")])["flags"]
    used = rule_of(deposits=[deposit("P", 2.0, status="动用")])
    assert not used["short"] and used["low_balance"] and "未补足" in used["flags"] and not used["differs"]
    late = rule_of(deposits=[deposit("P", 2.0, paid_date="2024-07-01")])  # paid after as_of: not yet
    assert late["short"] and late["paid"] == 0


def test_layer_share_by_township():
    d = make([project("P"), project("Q"), project("R", status="竣工")], deposits=[deposit("P"), deposit("Q", 1.0)])
    res = LAYER.build(d, Filters(as_of="2024-06-30"))
    assert res.by_township.set_index("code").loc[T1, "value"] == pytest.approx(50.0)
    assert list(res.table["项目编号"]) == ["P", "Q"]


def test_unknown_contract_value():
    """Without a contract value the required amount is unknown: a deposit on file meets it, none is short."""
    none = rule_of(deposits=[], contract_value=None)
    assert pd.isna(none["required"]) and none["short"] and none["low_balance"] and none["differs"]
    assert "合同价款未报" in none["flags"]
    held = rule_of(deposits=[deposit("P", 0.5)], contract_value=None)
    assert not held["short"] and not held["low_balance"] and held["flags"] == ""
    cert = [deposit("P", 0.0, rate=0.0, status="减免", no_arrears_cert=True)]
    exempt = rule_of(deposits=cert, contract_value=None)
    assert (exempt["rule"], exempt["required"], exempt["short"]) == ("exempt", 0.0, False)
