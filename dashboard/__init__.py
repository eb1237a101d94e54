"""The Dash dashboard, the command line, login and roles: the edge of wagemap."""

import geodata  # noqa: F401,E402 - sets pandas string storage for every wagemap frame (geodata/__init__.py)
