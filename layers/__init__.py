"""Map layers and analyses: pure functions of data and scope."""

import geodata  # noqa: F401,E402 - sets pandas string storage for every wagemap frame (geodata/__init__.py)
