"""Colour-blind-safe palettes and class breaks for the maps; red/orange/yellow are kept for warnings.

Sequential palettes are single-hue ColorBrewer schemes (Blues for coverage, Purples for
amounts and counts): they read in order for every common colour-vision deficiency and
in greyscale. Red, orange and yellow appear only as warning colours.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import mapclassify
import numpy as np

from layers.base import LegendItem
from layers.units import fmt_pct, fmt_value

# ColorBrewer (Cynthia Brewer, Apache-2.0 licence), light -> dark.
BLUES = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
PURPLES = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")
ZERO = "#f7f7f7"  # "none" class of counts/amounts (no arrears is not "no data")
NO_DATA = "#d9d9d9"
OUTLINE = "#737373"

WARNING = {"red": "#d73027", "orange": "#fc8d59", "yellow": "#fee08b"}
OK = "#3182bd"  # a point that meets the rule (blue, never green: red/green is the common confusion)
NEUTRAL = "#969696"  # closed / inactive

CLOSED_STATUS = "结案"
OPEN_STATUSES = ("受理", "核查", "立案", "限期整改", "移送公安", "仲裁")
STATUS_COLORS = {
    "受理": WARNING["yellow"],
    "核查": WARNING["yellow"],
    "立案": WARNING["orange"],
    "限期整改": WARNING["orange"],
    "移送公安": WARNING["red"],
    "仲裁": WARNING["red"],
    "在办": WARNING["orange"],  # open at the chosen date, closed since; or status not reported
    CLOSED_STATUS: NEUTRAL,
}


@dataclass
class Classes:
    """Result of classifying one value per township.

    index: class number per value (0..n-1), -1 for no data; colors/labels per class.
    """

    index: np.ndarray
    colors: list[str]
    labels: list[str]

    def legend(self, with_no_data: bool = True) -> list[LegendItem]:
        items = [LegendItem(label=lab, color=c) for lab, c in zip(self.labels, self.colors, strict=True)]
        if with_no_data and (self.index < 0).any():
            items.append(LegendItem(label="无数据", color=NO_DATA))
        return items

    def color_of(self) -> list[str]:
        """The colour of every value (NO_DATA where -1)."""
        return [self.colors[i] if i >= 0 else NO_DATA for i in self.index]


def coverage_classes(values, threshold_pct: float) -> Classes:
    """Coverage % in five classes anchored on the policy threshold.

    The threshold (e.g. 95% for 实名制, settings.rules.real_name_min) must be a class
    boundary, so the breaks are fixed rather than data-driven: <50, 50-80, 80-threshold,
    threshold-<100, 100. Lower bounds are inclusive.
    """
    y = np.asarray(values, dtype="float64")
    thr = float(threshold_pct)
    lows = sorted({50.0, 80.0, thr, 100.0} - {0.0})
    lows = [b for b in lows if 0 < b <= 100]
    idx = np.digitize(y, lows, right=False)  # 0: < lows[0]
    idx = np.where(np.isnan(y), -1, idx)
    bounds = [0.0, *lows]
    labels = []
    for i, lo in enumerate(bounds):
        if lo == 100.0:
            labels.append("100%")
        elif i + 1 < len(bounds):
            labels.append(f"{fmt_pct(lo, 0)}–{fmt_pct(bounds[i + 1], 0)}" if lo > 0 else f"低于{fmt_pct(bounds[1], 0)}")
        else:
            labels.append(f"≥{fmt_pct(lo, 0)}")
    colors = _spread(BLUES, len(labels))
    return Classes(index=idx.astype(int), colors=colors, labels=labels)


def amount_classes(values, unit: str, k: int = 5) -> Classes:
    """Amounts or counts (higher is worse): class 0 is "none" (0), then up to k natural-break classes.

    Breaks from mapclassify (Fisher-Jenks for up to 200 values, quantiles beyond, where
    Fisher-Jenks gets slow); labels carry the unit.
    """
    y = np.asarray(values, dtype="float64")
    idx = np.full(y.shape, -1, dtype=int)
    ok = ~np.isnan(y)
    pos = ok & (y > 0)
    idx[ok & (y <= 0)] = 0
    labels = [f"0{unit}"]
    uniq = np.unique(y[pos])
    if len(uniq):
        kk = int(min(k, len(uniq)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kk == 1:
                bins = np.array([uniq[-1]])
            elif len(y[pos]) <= 200:
                bins = mapclassify.FisherJenks(y[pos], k=kk).bins
            else:
                bins = mapclassify.Quantiles(y[pos], k=kk).bins
        bins = np.unique(bins)
        idx[pos] = 1 + np.searchsorted(bins, y[pos], side="left").clip(0, len(bins) - 1)
        lo = uniq[0]
        for b in bins:
            labels.append(fmt_value(lo, unit) if lo == b else f"{_num(lo, unit)}–{fmt_value(b, unit)}")
            above = uniq[uniq > b]
            lo = above[0] if len(above) else b
    colors = [ZERO, *_spread(PURPLES, len(labels) - 1)]
    return Classes(index=idx, colors=colors, labels=labels)


def _num(x: float, unit: str) -> str:
    """The lower bound of a range label, without the unit."""
    return f"{x:,.1f}" if unit == "万元" else f"{int(round(x)):,}"


def _spread(palette: tuple[str, ...], n: int) -> list[str]:
    """n colours taken evenly from a light -> dark palette (the lightest kept for n = len)."""
    if n <= 0:
        return []
    if n >= len(palette):
        return [palette[min(i, len(palette) - 1)] for i in range(n)]
    pos = np.linspace(1, len(palette) - 1, n).round().astype(int)
    return [palette[i] for i in pos]


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, WARNING["orange"])


def stepped_colorscale(colors: list[str]) -> list[list]:
    """A plotly colorscale with one flat step per class, for z = class index 0..n-1."""
    n = len(colors)
    if n == 1:
        return [[0, colors[0]], [1, colors[0]]]
    scale = []
    for i, c in enumerate(colors):
        scale.append([i / n, c])
        scale.append([(i + 1) / n, c])
    return scale
