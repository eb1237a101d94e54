"""WSGI entry point for gunicorn: `gunicorn dashboard.wsgi:server` (store and settings from the environment)."""

from __future__ import annotations

from dashboard.app import create_app

app = create_app()
server = app.server
