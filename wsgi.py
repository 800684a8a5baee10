"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from shipcall.app import create_app

app = create_app()
