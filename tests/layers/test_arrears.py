"""Arrears layers: open at the reference date, owed amounts, per-township sums, points and links."""

from __future__ import annotations

import pandas as pd
import pytest

from layers.arrears import CLOSED_POINT, LAYERS, case_state, point_size, summary
from layers.base import Filters
from layers.palettes import WARNING
from tests.layers.builders import MARCH, XSS, A, B, case, data


def cases():
    return data(cases=[
        case("C1", A, "受理", amount=12.0, workers=5, recovered=2.0, project_code="P1"),
        case("C2", A, "移送公安", amount=30.0, workers=20, credit_code="91410183MA0000000X"),
        case("C3", A, "结案", amount=8.0, workers=3, closed_date="2024-02-20", received_date="2024-01-05"),
        case("C4", B, "结案", amount=6.0, workers=4, closed_date="2024-04-15"),  # closed after 03-31: open then
        case("C5", B, "结案", amount=5.0, workers=2, closed_date=None, received_date="2023-11-01"),  # closed, no date
        case("C6", B, "立案", amount=9.0, workers=6, received_date="2024-04-02"),  # received after 03-31
        case("C7", B, None, amount=1.0, workers=1, received_date="2023-12-01"),  # no status: open (在办)
    ])


def test_open_at_reference_date():
    cs = case_state(cases(), MARCH).set_index("case_no")
    assert sorted(cs.index) == ["C1", "C2", "C3", "C4", "C5", "C7"]
    assert cs["open"].to_dict() == {"C1": True, "C2": True, "C3": False, "C4": True, "C5": False, "C7": True}
    assert cs.loc["C4", "shown_status"] == "在办" and cs.loc["C7", "shown_status"] == "在办"
    assert cs.loc["C1", "owed"] == pytest.approx(10.0)  # 12 − 2 recovered
    assert cs.loc["C3", "owed"] == 0.0
    # as of today everything closed stays closed
    now = case_state(cases(), Filters(as_of="2024-12-31")).set_index("case_no")
    assert not now.loc["C4", "open"]


def test_by_township_hand_count():
    r = LAYERS["arrears"].build(cases(), MARCH)
    by = r.by_township.set_index("code")
    assert by.loc[A, "open_cases"] == 2 and by.loc[A, "amount_wan"] == pytest.approx(40.0) and by.loc[A, "workers"] == 25
    assert by.loc[B, "open_cases"] == 2 and by.loc[B, "amount_wan"] == pytest.approx(7.0) and by.loc[B, "workers"] == 5
    assert by.loc[A, "value"] == pytest.approx(40.0)
    assert by.loc[A, "label"] == "在办2件，欠薪40.0万元，涉及25人"
    # new / closed within 2024-01..2024-03
    assert by.loc[A, "new_cases"] == 3 and by.loc[A, "closed_cases"] == 1
    assert by.loc[B, "new_cases"] == 1 and by.loc[B, "closed_cases"] == 0
    assert summary(case_state(cases(), MARCH)) == {"open_cases": 4, "amount_wan": pytest.approx(47.0), "workers": 30.0}


def test_metric_layers_share_the_counts():
    d = cases()
    assert LAYERS["arrears_cases"].build(d, MARCH).by_township.set_index("code").loc[A, "value"] == 2
    assert LAYERS["arrears_workers"].build(d, MARCH).by_township.set_index("code").loc[B, "value"] == 5
    assert LAYERS["arrears"].higher_is_better is False and LAYERS["arrears"].unit == "万元"


def test_points_sized_by_amount_coloured_by_status_with_links():
    d = cases()
    d.cases.loc[d.cases["case_no"] == "C1", "employer_name"] = XSS
    r = LAYERS["arrears"].build(d, MARCH)
    pts = r.points.set_index("id")
    assert sorted(pts.index) == ["C1", "C2", "C3", "C4", "C7"]  # open + closed within the range (C5 closed earlier)
    assert pts.loc["C2", "color"] == WARNING["red"] and pts.loc["C3", "color"] == CLOSED_POINT and pts.loc["C3", "size"] == 5
    assert pts.loc["C2", "size"] > pts.loc["C1", "size"] > pts.loc["C7", "size"]
    assert pts.loc["C1", "link"] == "/project/P1"
    assert pts.loc["C2", "link"] == "/enterprise/91410183MA0000000X"
    assert pts.loc["C7", "link"] == ""
    assert XSS not in pts.loc["C1", "label"] and "&lt;img" in pts.loc["C1", "label"]
    labels = [i.label for i in r.legend]
    assert "案件：移送公安" in labels and "案件：结案（范围内结案）" in labels
    assert r.points["open"].tolist() == sorted(r.points["open"].tolist())  # closed drawn first, open on top


def test_point_size_scale():
    s = point_size(pd.Series([0.0, 4.0, 100.0, 10_000.0]))
    assert list(s) == [6.0, 12.0, 30.0, 30.0]


def test_township_filter_and_empty():
    r = LAYERS["arrears"].build(cases(), Filters(month_to="2024-03", as_of="2024-12-31", township=B))
    assert list(r.by_township["code"]) == [B]
    assert set(r.points["township_code"]) == {B}
    empty = LAYERS["arrears"].build(data(), MARCH)
    assert empty.by_township["value"].tolist() == [0.0, 0.0] and empty.points.empty


def test_default_range_is_twelve_months():
    d = data(cases=[case("OLD", status="结案", received_date="2022-05-01", closed_date="2022-06-01"),
                    case("RECENT", status="结案", received_date="2024-01-01", closed_date="2024-02-01"),
                    case("OPEN", received_date="2021-01-01")])
    f = Filters(month_to="2024-03", as_of="2024-12-31")  # no month_from: 2023-04..2024-03
    cs = case_state(d, f).set_index("case_no")
    assert cs["new_in_range"].to_dict() == {"OLD": False, "RECENT": True, "OPEN": False}
    pts = LAYERS["arrears"].build(d, f).points
    assert sorted(pts["id"]) == ["OPEN", "RECENT"]  # long-closed cases are not drawn; open ones always are
