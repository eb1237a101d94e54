"""The layer contract: what every map layer or analysis module gives the dashboard and exports.

A layer is a plugin (STYLE 1): one module in `layers/`, one line in `layers/registry.py`.
Layers are pure: they take DataFrames already read from the store for the caller's scope,
never import Dash, never touch a web request, keep no global state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import geopandas as gpd
import pandas as pd


@dataclass
class LayerData:
    """Inputs a layer may use, read from the store for one scope (township codes or all).

    Attributes are (Geo)DataFrames with the columns of geodata/schema.py; missing kinds are
    empty frames. `townships` holds code, name, kind, is_demo, geometry (WGS-84).

    Two memos hold what the layers derive from the frames (callers must not modify those values):
    `memo(data, ...)` lives on this object only (one view's window: project status, warnings);
    `derived(data, kinds, ...)` lives on the frames themselves, so every window and township
    object the dashboard builds over the same frames shares the normalised inputs instead of
    redoing them. Not thread safe beyond "two threads may compute the same entry once each".
    """

    townships: gpd.GeoDataFrame
    projects: pd.DataFrame = field(default_factory=pd.DataFrame)
    enterprises: pd.DataFrame = field(default_factory=pd.DataFrame)
    compliance: pd.DataFrame = field(default_factory=pd.DataFrame)
    deposits: pd.DataFrame = field(default_factory=pd.DataFrame)
    cases: pd.DataFrame = field(default_factory=pd.DataFrame)
    incidents: pd.DataFrame = field(default_factory=pd.DataFrame)
    funds: pd.DataFrame = field(default_factory=pd.DataFrame)
    indicators: pd.DataFrame = field(default_factory=pd.DataFrame)
    credit: pd.DataFrame = field(default_factory=pd.DataFrame)


T = TypeVar("T")


def memo(data: LayerData, key: tuple, build: Callable[[], T]) -> T:
    """`build()` once per `data` object and key (the window's memo, e.g. project status of a month)."""
    m = data.__dict__.setdefault("_wagemap_memo", {})
    if key not in m:
        m[key] = build()
    return m[key]


DERIVED = "_wagemap_derived"  # instance attribute of a frame (not a column, not in attrs: never copied or pickled)


def derived(data: LayerData, kinds: tuple[str, ...], key: tuple, build: Callable[[], T]) -> T:
    """`build()` once per key for the frames `kinds` of `data`, whichever LayerData holds them.

    The entry is kept on the first frame of `kinds` (it lives as long as that frame) and
    remembers the other frames it was made from: a LayerData with another frame for one of
    `kinds` recomputes instead of reusing it. The frames must not be modified in place.
    """
    frames = tuple(getattr(data, k) for k in kinds)
    if frames[0] is None:
        return build()
    store = frames[0].__dict__.setdefault(DERIVED, {})
    hit = store.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], frames, strict=True)):
        return hit[1]
    value = build()
    store[key] = (frames, value)
    return value


def of_frame(frame: pd.DataFrame, key: tuple, build: Callable[[], T]) -> T:
    """`build()` once per key for one (memoised, never modified) frame, kept on that frame (see `derived`)."""
    store = frame.__dict__.setdefault(DERIVED, {})
    if key not in store:
        store[key] = build()
    return store[key]


def forget(frame: pd.DataFrame | LayerData | None, predicate: Callable[[tuple], bool]) -> int:
    """Drop the `derived` / `of_frame` entries kept on `frame` (or on every frame a LayerData holds) whose key
    satisfies `predicate`; how many. A later call recomputes them (the memo is a cache: the values are the same).

    The dashboard uses it to let go of one month's entries once that month's views are stored (`about_month`).
    """
    if isinstance(frame, LayerData):
        return sum(forget(v, predicate) for v in list(frame.__dict__.values()) if isinstance(v, pd.DataFrame))
    store = None if frame is None else frame.__dict__.get(DERIVED)
    if not store:
        return 0
    gone = [k for k in list(store) if predicate(k)]
    for k in gone:
        store.pop(k, None)
    return len(gone)


def about_month(key: Any, month: str) -> bool:
    """Whether a memo key names the month 'YYYY-MM' or a date in it: an element (or one nested in a tuple) that is
    that month, a 'YYYY-MM-DD...' string of it, or a date / Timestamp in it. The layers key what they derive for
    one evaluation point as ("name", month, ...) or ("name", as_of, ...) (e.g. rules.sorted_warnings,
    risk.trend_factors, deposits.required); names, rules as JSON, township codes and years never match."""
    if isinstance(key, tuple):
        return any(about_month(x, month) for x in key)
    if isinstance(key, str):
        return key.startswith(month) and (len(key) == 7 or key[7:8] == "-") and key[4:5] == "-"
    if hasattr(key, "year") and hasattr(key, "month") and hasattr(key, "day"):  # date, datetime, pd.Timestamp
        try:
            return f"{int(key.year):04d}-{int(key.month):02d}" == month
        except (TypeError, ValueError):  # NaT
            return False
    return False


@dataclass
class Filters:
    """What the user chose: months as 'YYYY-MM' strings (inclusive), optional township drill."""

    month_from: str | None = None
    month_to: str | None = None
    township: str | None = None
    as_of: str | None = None  # 'YYYY-MM-DD'; default: today


@dataclass
class LegendItem:
    label: str  # Chinese, with units
    color: str


class LazyTable:
    """A layer's detail table made only when something reads it (`LayerResult.table`).

    `make()` returns the DataFrame; `rows` and `columns` are what it will hold (its length and column names,
    "链接" included), known without making it. Why: at province scale a table is 200,000-300,000 rows of Chinese
    text, while a map view needs only its length and columns; the grid asks for the rows when it is opened
    (dashboard/services.overview_table). The frame is made once and kept.
    """

    __slots__ = ("make", "rows", "columns", "_frame")

    def __init__(self, make: Callable[[], pd.DataFrame], rows: int, columns: list[str]):
        self.make, self.rows, self.columns, self._frame = make, int(rows), list(columns), None

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = self.make()
            self.make = None  # what it held (the window's rows) can go
        return self._frame


class _Table:
    """The `table` field of LayerResult: a DataFrame, or a LazyTable made into one on first read."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:  # the dataclass default
            return None
        value = obj.__dict__.get(self.slot)
        if isinstance(value, LazyTable):
            return value.frame()
        return pd.DataFrame() if value is None else value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class LayerResult:
    """What a layer gives back.

    by_township: one row per township code with at least `code`, `value` (the indicator,
      NaN where undefined), `label` (formatted with units) — drives the choropleth and bars.
    points: rows to draw as points (lon, lat, label, color, size, link) or empty.
    table: rows for grids/exports (Chinese column names ok), already masked for the role; a layer may
      give a LazyTable instead (made on the first read of `.table`; `table_shape` without making it).
    legend: classes with colours (colour-blind-safe for coverage; red/orange/yellow for warnings).
    traces: plotly MapLibre traces (`scattermap`/`choroplethmap` dicts) for the main map.
    """

    key: str
    title: str
    unit: str
    by_township: pd.DataFrame
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    table: pd.DataFrame = _Table()  # type: ignore[assignment]
    legend: list[LegendItem] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table_shape(self) -> tuple[int, list[str]]:
        """(rows, column names) of the table, without making a lazy one."""
        value = self.__dict__.get("_table")
        if isinstance(value, LazyTable) and value._frame is None:
            return value.rows, value.columns
        t = self.table
        return len(t), [str(c) for c in t.columns]


class Layer(Protocol):
    """Every layer module exposes an object with this shape (see layers/registry.py)."""

    key: str  # stable id used in URLs, e.g. "real_name"
    title: str  # Chinese name for the layer switcher, e.g. "实名制覆盖率"
    kind: str  # "coverage" | "arrears" | "risk" | "incident" | "assessment" | ...
    higher_is_better: bool

    def build(self, data: LayerData, filters: Filters) -> LayerResult: ...

    def export_folium(self, result: LayerResult, fmap: Any) -> None:
        """Add this layer (feature group with escaped popups and a legend) to a folium map."""
        ...
