"""WSGI entry point for gunicorn: `gunicorn dashboard.wsgi:server` (store and settings from the environment).

With WAGEMAP_WARM=1 each worker warms its view cache in the background (dashboard/warmup.py); `wagemap serve`
runs a separate warm process instead (dashboard/warmproc.py) and starts the workers with WAGEMAP_WARM=0.
"""

from __future__ import annotations

from dashboard import warmup
from dashboard.app import create_app

app = create_app()
server = app.server
warmup.start(app)
