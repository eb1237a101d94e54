"""`wagemap demo`: a deterministic scenario of raw files as 新密's offices send them, with a manifest.

    from etl.demo import write_demo
    manifest = write_demo("var/demo", scale="city", seed=2018)

Scales: "city" (like 新密: ~2,000 projects, 15,000 employers, 3,000 cases over 2023-11..2026-10,
40 incidents, 36 months of compliance and indicators) and "province" (for measuring: ~200,000
projects, 300,000 employers, 300,000 cases, 4,000 incidents, 12 months of the monthly series,
several million rows; the big tables as csv). The province scenario is spread over the SAME
map — the 19 demonstration township boundaries of 新密 — at about 100 times the density, so
the ETL and the dashboard run unchanged. "small" is a tenth of the city, for tests.

Everything is synthetic: companies are "示例…有限公司甲0001", people "张某某", ID numbers and
phones are well-formed but random, villages are generic demo names (see place.villages()).
Same seed, same scale -> the same bytes in every file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from etl.demo import frames, manifest, place, series, sheets, story
from etl.demo.offices import SPECS

DEFAULT_SEED = 2018
SCALE_NAMES = ("city", "province")  # what the command line offers; "small" is for tests


def simulate(scale: str = "city", seed: int = DEFAULT_SEED) -> dict:
    """The scenario's tables (no files): enterprises, projects, cases, incidents and the series."""
    sc = story.SCALES[scale]
    rng = np.random.default_rng([seed, 1])
    centres = place.cluster_centres(rng)
    ent = story.enterprises(rng, sc, centres)
    prj = story.projects(rng, sc, centres, ent)
    cs = story.cases(rng, sc, ent, prj)
    inc = story.incidents(rng, sc, cs)
    rng = np.random.default_rng([seed, 2])
    no_case = series.troubled_without_case(rng, prj)
    return {
        "scale": sc,
        "enterprises": ent,
        "projects": prj,
        "cases": cs,
        "incidents": inc,
        "no_case": no_case,
        "compliance": series.compliance(rng, sc, prj, cs, no_case),
        "indicators": series.indicators(rng, sc, ent, cs, prj, no_case),
        "deposits": series.deposits(rng, prj, cs, ent),
        "funds": series.funds(rng, cs),
        "credit": series.credit(rng, ent, cs),
    }


def write_demo(out_dir: str | Path, scale: str = "city", seed: int = DEFAULT_SEED) -> dict:
    """Write every file of the scenario and manifest.json into `out_dir`; return the manifest."""
    if scale not in story.SCALES:
        raise ValueError(f"unknown scale {scale!r}; use one of {', '.join(SCALE_NAMES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world = simulate(scale, seed)
    tables, sites = frames.world_frames(np.random.default_rng([seed, 3]), world)
    villages = manifest.write_gazetteer(out)
    entries = []
    names = {}
    for i, spec in enumerate(SPECS):
        rng = np.random.default_rng([seed, 100 + i])
        entry = sheets.build_file(rng, spec, world["scale"], tables[spec.name[:2]], out)
        entries.append(entry)
        names[spec.name[:2]] = entry["file"]
        for stale in (out / f"{spec.name}.xlsx", out / f"{spec.name}.csv"):  # the other scale's format of this file
            if stale.name != entry["file"] and stale.exists():
                stale.unlink()
    for s in sites:
        s["file"] = names[s.pop("file_prefix")]
    m = manifest.build(seed, scale, entries, sites, frames.story_summary(world), villages)
    manifest.write(out, m)
    return m
