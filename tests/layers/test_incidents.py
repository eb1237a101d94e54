"""Tests for layers/incidents.py: the incident layer and the validation of incidents typed on the page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geodata.boundaries import demo_boundaries
from layers import incidents as inc
from layers.base import Filters, LayerData
from layers.nearby import township_of


@pytest.fixture(scope="module")
def data():
    df = pd.DataFrame({
        "incident_no": ["A1", "A2", "A3"], "occurred_at": ["2024-05-01 10:00", "2024-06-01", "2023-12-31 23:00"],
        "grade": ["重大", "一般级", "较大"], "status": ["处置中", None, "已结束"],
        "township_code": ["410183104000", "410183104000", "410183001000"], "address": ["<img src=x onerror=alert(1)>", "y", "z"],
        "headcount": [30, 5, 12], "lon": [113.405, 113.41, 113.378], "lat": [34.431, 34.43, 34.5405],
    })
    return LayerData(townships=demo_boundaries(), incidents=df)


def test_points_coloured_by_grade_newest_first_and_escaped(data):
    res = inc.LAYER.build(data, Filters())
    assert res.points["key"].tolist() == ["A2", "A1", "A3"]
    assert res.points["color"].tolist() == [inc.GRADE_COLORS[g] for g in ["一般", "重大", "较大"]]
    assert "<img" not in " ".join(res.points["label"]) and "&lt;img" in res.points["label"].iloc[1]
    assert res.by_township.set_index("code").loc["410183104000", "value"] == 2
    assert [t["type"] for t in res.traces] == ["choroplethmap", "scattermap"]


def test_month_range_and_township_filters(data):
    res = inc.LAYER.build(data, Filters(month_from="2024-01", month_to="2024-05"))
    assert res.points["key"].tolist() == ["A1"]
    res = inc.LAYER.build(data, Filters(township="410183001000"))
    assert res.points["key"].tolist() == ["A3"]
    rows = inc.incident_rows(data.incidents, grades=["重大", "较大"], statuses=["处置中"])
    assert rows["incident_no"].tolist() == ["A1"]


def test_empty_incidents_give_an_empty_layer():
    res = inc.LAYER.build(LayerData(townships=demo_boundaries()), Filters())
    assert res.points.empty and res.by_township["value"].sum() == 0


def _of(tw):
    return lambda x, y: township_of(x, y, tw)


def test_validate_incident_ok():
    tw = demo_boundaries()
    row = inc.validate_incident({"incident_no": "SJ-9", "occurred_at": "2024-03-01 14:30", "grade": "较大级", "headcount": "35",
                                 "lon": 113.405, "lat": 34.431, "address": "工地"}, townships_of=_of(tw))
    assert row["township_code"] == "410183104000" and row["grade"] == "较大" and row["headcount"] == 35
    assert row["status"] == "处置中" and row["geocode_method"] == "coord"


def test_validate_incident_names_every_bad_field():
    tw = demo_boundaries()
    with pytest.raises(inc.IncidentInputError) as e:
        inc.validate_incident({"incident_no": "x", "occurred_at": "昨天", "grade": "严重", "headcount": "-3",
                               "lon": 116.39, "lat": 39.91, "status": "不知道"}, townships_of=_of(tw))
    assert set(e.value.errors) == {"incident_no", "occurred_at", "grade", "headcount", "lon", "status"}
    assert "不在新密市" in e.value.errors["lon"]
    with pytest.raises(inc.IncidentInputError) as e:
        inc.validate_incident({"incident_no": "SJ-1", "occurred_at": "2024-01-01", "grade": "一般"})
    assert set(e.value.errors) == {"lon"}


def test_township_of_vectorised():
    tw = demo_boundaries()
    codes = township_of(np.array([113.405, 116.39]), np.array([34.431, 39.91]), tw)
    assert codes.tolist() == ["410183104000", ""]
