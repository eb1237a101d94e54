"""Warnings shared between the windows of one read of the frames, and the warnings map capped like other point sets."""

from __future__ import annotations

import dataclasses

import pandas as pd

from geodata.settings import load_settings
from layers import rules
from layers.base import Filters, LayerData
from layers.rules import SEVERITY_COLOR
from tests.layers.test_rules import JUNE, T1, T2, make, project, report


def test_every_window_of_the_same_frames_shares_one_evaluation(monkeypatch):
    calls = []
    monkeypatch.setattr(rules, "CHECKS", tuple((lambda ctx, c=c: calls.append(c.__name__) or c(ctx)) for c in rules.CHECKS))
    city = make([project("A", account_funded=0), project("B", township_code=T2), project("C", township_code=T2)],
                reports=[report("A", account_funded=0.0), report("B", account_funded=0.0), report("C", workers_registered=90)])
    town = LayerData(**{f.name: getattr(city, f.name) for f in dataclasses.fields(LayerData)})  # another window, same frames
    w_city = rules.warnings(city, JUNE)
    w_town = rules.warnings(town, Filters(month_to="2024-06", township=T2))
    assert len(calls) == len(rules.CHECKS)  # evaluated once for both windows
    expected = w_city[w_city["township_code"] == T2].reset_index(drop=True)
    pd.testing.assert_frame_equal(w_town, expected)
    assert set(w_town["entity_id"]) == {"B", "C"} and set(w_city["township_code"]) == {T1, T2}
    other = make([project("A", account_funded=0)], reports=[report("A", account_funded=0.0)])  # other frames: evaluated anew
    rules.warnings(LayerData(**{f.name: getattr(other, f.name) for f in dataclasses.fields(LayerData)}), JUNE)
    assert len(calls) == 2 * len(rules.CHECKS)


def test_warnings_map_shows_at_most_max_points_red_first(monkeypatch):
    s = load_settings(max_points_per_layer=100)
    monkeypatch.setattr(rules, "get_settings", lambda: s)
    red = [project(f"R{i:03d}", account_funded=0) for i in range(60)]
    yellow = [project(f"Y{i:03d}") for i in range(60)]
    d = make(red + yellow, reports=[report(p["project_code"], account_funded=0.0) for p in red]
             + [report(p["project_code"], workers_registered=90) for p in yellow])
    res = rules.LAYER.build(d, JUNE)
    colors = list(res.points["color"])
    assert len(res.points) == 100 and colors[:60] == [SEVERITY_COLOR["red"]] * 60
    assert set(colors[60:]) == {SEVERITY_COLOR["yellow"]} and len(res.traces[1]["lon"]) == 100
    assert res.table["编号"].nunique() == 120  # the table keeps every object
    assert any("仅显示100个" in n for n in res.notes)
    few = rules.LAYER.build(make(red[:3], reports=[report(p["project_code"], account_funded=0.0) for p in red[:3]]), JUNE)
    assert len(few.points) == 3 and not any("仅显示" in n for n in few.notes)
