"""From the spreadsheets offices send to rows in the store; and the demo scenario."""

import geodata  # noqa: F401,E402 - sets pandas string storage for every wagemap frame (geodata/__init__.py)
