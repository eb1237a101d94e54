"""Risk windows over one read of the frames: what is derived once per read never leaks between months or townships."""

from __future__ import annotations

import pandas as pd

from layers.base import Filters, LayerData
from layers.risk import DENSITY_LAYER, LAYER, score, universe
from tests.layers.test_rules import JUNE, T1, T2, A, make, project, report

HIST = {f"2024-0{m}": 100.0 for m in range(1, 6)}


def data() -> LayerData:
    ind = [dict(credit_code=A, month=m, electricity_kwh=v) for m, v in {**HIST, "2024-06": 60.0}.items()]
    return make([project("P", start_date="2024-03-01"), project("Q", township_code=T2, lon=113.45),
                 project("R", status="竣工")],
                reports=[report("P", account_funded=10.0), report("Q", cards_issued=94), report("P", month="2024-04"),
                         report("Q", month="2024-04", account_funded=5.0)],
                cases=[dict(case_no="K1", received_date="2023-05-01", status="立案", credit_code=A, amount=3.0, workers=2)],
                indicators=ind)


def window(d: LayerData) -> LayerData:
    """Another window's object over the same frames (as dashboard.services.window_data makes them)."""
    return LayerData(**{k: getattr(d, k) for k in d.__dataclass_fields__})


def fresh(d: LayerData) -> LayerData:
    """The same rows as new frames: nothing derived is shared."""
    return LayerData(**{k: getattr(d, k).copy() for k in d.__dataclass_fields__})


def test_every_window_of_one_read_scores_as_a_fresh_read():
    d = data()
    for f in (Filters(month_to="2024-04"), JUNE, Filters(month_to="2024-02"), Filters(month_to="2023-06"),
              Filters(month_to="2024-06", township=T2), Filters(month_to="2024-04", township=T1)):
        shared, alone = window(d), fresh(d)
        pd.testing.assert_frame_equal(score(shared, f), score(alone, f), check_exact=True)
        a, b = LAYER.build(shared, f), LAYER.build(alone, f)
        for x, y in ((a.by_township, b.by_township), (a.points, b.points), (a.table, b.table)):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        assert a.traces == b.traces
        pd.testing.assert_frame_equal(DENSITY_LAYER.build(shared, f).by_township, DENSITY_LAYER.build(alone, f).by_township)


def test_window_before_any_project_scores_the_employers():
    s = score(window(data()), Filters(month_to="2023-06"))  # nothing started yet; A has an open case (past_arrears)
    assert set(s["entity_type"]) == {"employer"}
    a = s.set_index("entity_id").loc[A]
    assert a["score"] > 0 and a["top_factors"].startswith("曾发生欠薪")
    res = LAYER.build(window(data()), Filters(month_to="2023-06"))
    assert res.table["编号"].tolist() == [A]


def test_projects_without_coordinates_are_scored_but_not_drawn():
    d = data()
    d.projects = d.projects.drop(columns=["lon", "lat"])
    d.enterprises = d.enterprises.drop(columns=["lon", "lat"])
    res = LAYER.build(d, JUNE)
    assert res.points.empty and res.traces[1]["locations"] == [] and len(res.table) > 0


def test_a_code_twice_is_one_entity_the_active_row():
    d = make([project("P", status="竣工", name="旧"), project("P ", name="新")], reports=[report("P", account_funded=10.0)])
    u = universe(d, JUNE)
    assert u.loc[u["entity_type"] == "project", "name"].tolist() == ["新"]
    s = score(d, JUNE).set_index("entity_id")
    assert s.loc["P", "name"] == "新" and s.loc["P", "score"] > 0


def test_entities_ordered_by_score_as_a_lexsort_orders_them():
    from types import SimpleNamespace

    import numpy as np

    from layers.risk_arrays import _by_score

    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        rank = rng.permutation(n)
        by_rank = np.empty(n, np.int64)
        by_rank[rank] = np.arange(n)
        ent = SimpleNamespace(rank=rank, by_rank=by_rank)
        sc = rng.choice(np.array([0.0, -0.0, 1.5, 2.0, -1.0, np.nan, 3.3]), n)
        shown = rng.permutation(n)[: int(rng.integers(0, n + 1))]
        assert np.array_equal(_by_score(shown, sc, ent), shown[np.lexsort((rank[shown], -sc[shown]))])
