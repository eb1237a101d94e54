"""Risk score: a hand-built case reproduced by hand from the documented formula; H3 heat and hex contents."""

from __future__ import annotations

import math

import h3
import pytest

from geodata.settings import Rules
from layers.base import Filters
from layers.risk import DENSITY_LAYER, LAYER, hex_contents, hex_geojson, hex_risk, score
from tests.layers.test_rules import JUNE, A, make, project, report

HIST = {f"2024-0{m}": 100.0 for m in range(1, 6)}


def hand_case():
    """P: 专户 red (funded 10 < half of 30) + 一卡通 yellow (94 %); Q: clean; contractor A: electricity −40 %."""
    ind = [dict(credit_code=A, month=m, electricity_kwh=v) for m, v in {**HIST, "2024-06": 60.0}.items()]
    return make([project("P"), project("Q", lon=113.45)], reports=[report("P", account_funded=10.0, cards_issued=94),
                                                                   report("Q")],
                indicators=ind)


def test_hand_built_score_matches_the_formula():
    s = score(hand_case(), JUNE).set_index(["entity_type", "entity_id"])
    # own points: P = 30 (red) + 6 (yellow) = 36; A = 6 (yellow drop 40 %) + 8 × 0.4 (trend) = 9.2
    s_p = 36 + 0.5 * 9.2  # P receives half of its contractor's points
    s_a = 9.2 + 0.5 * 36  # A receives half of its projects' points
    s_q = 0.5 * 9.2
    for key, points in ((("project", "P"), s_p), (("employer", A), s_a), (("project", "Q"), s_q)):
        assert s.loc[key, "points"] == pytest.approx(points)
        assert s.loc[key, "score"] == pytest.approx(100 * (1 - math.exp(-points / 60)))
    p = s.loc[("project", "P")]
    assert p["score"] == pytest.approx(49.1699, abs=1e-3)  # 100·(1−e^(−40.6/60)) worked out by hand
    contrib = {f["factor"]: f["contribution"] for f in p["factors"]}
    assert contrib["account_unfunded"] == pytest.approx(p["score"] * 30 / s_p)
    assert contrib["cards_low"] == pytest.approx(p["score"] * 6 / s_p)
    assert contrib["contractor_drop_electricity_kwh"] == pytest.approx(p["score"] * 3 / s_p)
    assert contrib["contractor_trend_electricity_kwh"] == pytest.approx(p["score"] * 1.6 / s_p)
    assert sum(contrib.values()) == pytest.approx(p["score"])
    assert p["top_factors"].startswith("专户人工费拨付不足（红） +36.3")
    a = s.loc[("employer", A)]
    assert {f["factor"] for f in a["factors"]} == {"drop_electricity_kwh", "trend_electricity_kwh", "projects_account_unfunded",
                                                   "projects_cards_low"}


def test_clean_entities_score_zero_and_weights_apply():
    d = make([project("Q")], enterprises=[dict(credit_code=A, name="甲建设公司", township_code="410183001000")])
    s = score(d, JUNE)
    assert (s["score"] == 0).all() and (s["top_factors"] == "无预警").all()
    d2 = make([project("P")], reports=[report("P", account_funded=10.0)])
    base = score(d2, JUNE).set_index("entity_id").loc["P", "points"]
    heavier = score(d2, JUNE, Rules(rule_weights={"account_unfunded": 2.0})).set_index("entity_id").loc["P", "points"]
    assert (base, heavier) == (30.0, 60.0)


def test_scores_sorted_and_bounded():
    s = score(hand_case(), JUNE)
    assert s["score"].is_monotonic_decreasing
    assert s["score"].between(0, 100).all()


def test_hex_sum_contents_and_reasons():
    d = hand_case()
    s = score(d, JUNE)
    hx = hex_risk(s, d, resolution=7)
    cell_p = h3.latlng_to_cell(34.55, 113.35, 7)
    row = hx.set_index("cell").loc[cell_p]
    assert row["risk_sum"] == pytest.approx(s.set_index("entity_id").loc["P", "score"])
    assert row["n_entities"] == 1 and "专户人工费拨付不足" in row["why"]
    inside = hex_contents(s, d, cell_p)
    assert list(inside["编号"]) == ["P"] and inside["链接"].iloc[0] == "/project/P"
    assert "专户人工费拨付不足" in inside["主要因素"].iloc[0]


def test_density_counts_hot_entities_smoothed_over_neighbours():
    d = hand_case()
    s = score(d, JUNE)
    hx = hex_risk(s, d, resolution=7, hot=40).set_index("cell")  # only P (49.2) is hot
    cell_p = h3.latlng_to_cell(34.55, 113.35, 7)
    area = h3.cell_area(cell_p, "km^2")
    assert hx.loc[cell_p, "density"] == pytest.approx((1 / 7) / area)
    ring = set(h3.grid_disk(cell_p, 1)) - {cell_p}
    assert ring <= set(hx.index)  # neighbours carry the smoothed density
    assert all(hx.loc[c, "density"] > 0 for c in ring)


def test_heat_layers_build_traces_with_closed_hexagons():
    d = hand_case()
    res = LAYER.build(d, JUNE)
    town, hexes = res.traces
    assert town["uid"] == "townships" and town["locations"] == ["410183001000", "410183002000"]
    by = res.by_township.set_index("code")["value"]
    s = score(d, JUNE)
    assert by["410183001000"] == pytest.approx(s.loc[s["township_code"] == "410183001000", "score"].sum())
    assert hexes["uid"] == "hexes" and len(hexes["locations"]) == len(hexes["z"]) == 3  # P, Q, employer A
    assert hexes["customdata"] == hexes["locations"]  # a click gives the cell for hex_contents
    ring = hexes["geojson"]["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and 113 < ring[0][0] < 114 and 34 < ring[0][1] < 35  # lon, lat order
    dens = DENSITY_LAYER.build(d, JUNE)
    assert dens.key == "risk_density" and len(dens.traces[1]["locations"]) >= 7
    area = {"410183001000": 0.0, "410183002000": 0.0}
    assert set(dens.by_township["code"]) == set(area)
    assert all("<" not in lab or "<b>" in lab for lab in res.points["label"])


def test_hex_geojson_ids():
    c = h3.latlng_to_cell(34.5, 113.4, 7)
    gj = hex_geojson([c])
    assert gj["features"][0]["id"] == c and len(gj["features"][0]["geometry"]["coordinates"][0]) == 7


def test_township_filter_limits_heat():
    d = hand_case()
    res = LAYER.build(d, Filters(month_to="2024-06", township="410183002000"))
    assert res.table.empty


def test_backtest_metrics_with_ties():
    import importlib.util
    from pathlib import Path

    import numpy as np

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "risk_backtest.py"
    spec = importlib.util.spec_from_file_location("risk_backtest", path)
    bt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bt)
    label = np.array([True, False, True, False, False])
    assert bt.roc_auc(np.array([0.9, 0.1, 0.8, 0.2, 0.3]), label) == 1.0
    assert bt.roc_auc(np.zeros(5), label) == 0.5  # all tied: chance
    # top 10 % of 5 = 1 entity; two tied at the top, one positive: expected precision 0.5
    assert bt.precision_at(np.array([1.0, 1.0, 0.0, 0.0, 0.0]), np.array([True, False, False, False, False])) == 0.5
    assert np.isnan(bt.roc_auc(np.ones(3), np.array([False, False, False])))


def test_township_window_scores_only_what_it_shows_with_the_same_values():
    """A township's heat layer scores its own entities and what they are linked to (contractors and projects
    across townships), each exactly as scoring every entity with that township's warnings gives."""
    import pandas as pd

    from geodata.settings import get_settings
    from layers.risk import _score
    from tests.layers.test_rules import T1, T2, B

    ind = [dict(credit_code=A, month=m, electricity_kwh=v) for m, v in {**HIST, "2024-06": 60.0}.items()]
    ind += [dict(credit_code=B, month=m, electricity_kwh=v) for m, v in {**HIST, "2024-06": 50.0}.items()]
    d = make([project("P"), project("R", township_code=T2, lon=113.45),  # A (T1) contracts P in T1 and R in T2
              project("S", contractor_credit_code=B, contractor="乙置业公司")],  # B (T2) contracts S in T1
             reports=[report("P", account_funded=10.0), report("R", cards_issued=94), report("S", account_funded=5.0)],
             indicators=ind)
    for town in (T1, T2):
        f = Filters(month_to="2024-06", township=town)
        every = score(d, f)
        every = every[every["township_code"] == town].reset_index(drop=True)
        only = _score(d, f, get_settings().rules, 3, None, township=town)
        only = only[only["township_code"] == town].reset_index(drop=True)
        assert len(only) >= 2 and (only["points"] > 0).any()
        pd.testing.assert_frame_equal(only, every, check_exact=True)
        table = LAYER.build(d, f).table
        assert table["编号"].tolist() == every.loc[every["score"] > 0, "entity_id"].tolist()
    s1 = score(d, Filters(month_to="2024-06", township=T1)).set_index("entity_id")
    assert any(x["factor"].startswith("contractor_") for x in s1.loc["S", "factors"])  # B's trend reaches S in T1
