"""The H3 cells of the risk heat layers (layers.risk): every entity's cell and each cell's neighbours, once per read.

Apart from layers.risk_arrays (the per-window scoring): nothing here depends on the month; `_cells` keeps its result
in the entities' memo (layers.risk_arrays._Entities), once per resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np
from h3.api import basic_int as h3i

from layers.base import LayerData
from layers.risk_arrays import _Entities
from layers.rules import entity_locations

# ---- H3 cells: every entity's cell and the cells' neighbours, once per read and resolution -----------

@dataclass
class _Cells:
    """The H3 cell of every entity with coordinates, and each cell's ring-1 neighbours (once per read and resolution)."""

    cell: np.ndarray  # entity -> index of its cell among the distinct cells, in text order (-1: no coordinates)
    lon: np.ndarray
    lat: np.ndarray
    ext: np.ndarray  # the cells and their neighbours, in text order
    at: np.ndarray  # cell -> its index in `ext`
    ring_start: np.ndarray  # cell -> its disk in ring_nb[ring_start[i]:ring_start[i + 1]] (indexes in `ext`)
    ring_nb: np.ndarray
    area: np.ndarray  # ext -> km²


def _cells(data: LayerData, ent: _Entities, resolution: int) -> _Cells:
    key = ("cells", resolution)
    if key not in ent.memo:
        ent.memo[key] = _build_cells(data, ent, resolution)
    return ent.memo[key]


def _build_cells(data: LayerData, ent: _Entities, resolution: int) -> _Cells:
    loc = entity_locations(data)
    n_ent = len(ent.rank)
    is_p = (loc["entity_type"] == "project").to_numpy(bool)
    kp = ent.codes.get_indexer(loc["entity_id"][is_p])
    ke = ent.employers.get_indexer(loc["entity_id"][~is_p])
    lon, lat = loc["lon"].to_numpy(float), loc["lat"].to_numpy(float)
    # h3-py v4 has no array API: one C call per point (~1 µs), once per read; as integers (all 15 hex digits,
    # so their order is the order of the text)
    cells = np.fromiter((h3i.latlng_to_cell(la, lo, resolution) for la, lo in zip(lat, lon, strict=True)), np.uint64, len(lat))
    names, inv = np.unique(cells, return_inverse=True)
    by_code = np.full(len(ent.codes) + 1, len(loc), np.int64)  # code -> its location row (last: none)
    by_code[kp[kp >= 0]] = np.flatnonzero(is_p)[kp >= 0]
    row = np.full(n_ent, len(loc), np.int64)
    row[:ent.n_proj] = by_code[ent.group]
    row[ent.n_proj + ke[ke >= 0]] = np.flatnonzero(~is_p)[ke >= 0]
    inv = np.append(inv.reshape(-1), -1)
    disks = [h3i.grid_disk(c, 1) for c in names.tolist()]
    flat = np.array([n for d in disks for n in d], dtype=np.uint64)
    ext = np.unique(np.concatenate([names, flat]))
    return _Cells(inv[row], np.append(lon, np.nan)[row], np.append(lat, np.nan)[row],
                  np.array([h3.int_to_str(c) for c in ext.tolist()], dtype=object), np.searchsorted(ext, names),
                  np.concatenate([[0], np.cumsum([len(d) for d in disks])]).astype(np.int64), np.searchsorted(ext, flat),
                  np.array([h3i.cell_area(c, "km^2") for c in ext.tolist()], dtype=float))

