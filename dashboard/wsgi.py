"""WSGI entry point for gunicorn: `gunicorn dashboard.wsgi:server` (store and settings from the environment).

With WAGEMAP_WARM=1 each worker warms its view cache in the background (dashboard/warmup.py); `wagemap serve`
runs a separate warm process instead (dashboard/warmproc.py) and starts the workers with WAGEMAP_WARM=0; such a
worker releases the rows a cache miss made it read once they are idle (dashboard/residency.py).
"""

from __future__ import annotations

from dashboard import residency, warmup
from dashboard.app import create_app

app = create_app()
server = app.server
if warmup.start(app) is None:  # a worker that does not warm gives back the rows a miss read, once idle
    residency.start(app)
