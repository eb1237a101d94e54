"""The inputs the policy layers share, normalised once per read of the frames instead of in the first view.

`prepare(data)` fills `LayerData.shared` (see layers/base.derived) with the normalised cases,
case links, employers, credit rows, projects, monthly reports, indicators, deposits and
locations; every window and township copy of `data` then starts from them. Optional: without
it the first view that needs an input normalises it (same result, slower first view).
"""

from __future__ import annotations

from geodata.settings import Rules
from layers import credit, deposits, rules
from layers.base import LayerData


def prepare(data: LayerData, rule_settings: Rules | None = None) -> LayerData:
    """Normalise the shared inputs of `data` now; returns `data` (city: ~0.5 s once per data version)."""
    r = credit.rules_of(rule_settings)
    credit.cases(data)
    credit.case_links(data)
    credit._enterprise_info(data)
    credit.credit_rows(data, r)
    rules.prepare_inputs(data, r)
    deposits.prepare_inputs(data, r)
    return data
