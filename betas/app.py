"""The application factory: config → database → auth → blueprints → CLI → error handlers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from betas import api, auth, cli, db, people, views
from betas.config import INSTANCE_PATH, PROJECT_ROOT, Settings
from betas.errors import DomainError
from cohorts import api as cohorts_api
from cohorts import cli as cohorts_cli
from cohorts import views as cohorts_views

MAX_REQUEST_BYTES = 1024 * 1024
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

csrf = CSRFProtect()


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Create the app; `config` overrides settings by name (tests use it)."""
    settings = Settings.from_env(**dict(config or {}))
    settings.validate()
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_PATH),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    _configure(app, settings)
    db.init_app(app, settings.database_url)
    auth.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(people.people)
    app.register_blueprint(views.betas)
    app.register_blueprint(cohorts_views.cohorts)
    api_doc = api.init_app(app)
    api_doc.register_blueprint(cohorts_api.blp)
    for blueprint in (api.blp, cohorts_api.blp):
        csrf.exempt(blueprint)
    cli.init_app(app)
    cohorts_cli.init_app(app)
    _register_error_handlers(app)
    return app


def _configure(app: Flask, settings: Settings) -> None:
    app.config.update(
        SHIPCALL=settings,
        SECRET_KEY=settings.secret_key,
        DEBUG=settings.debug,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.debug,
        SESSION_COOKIE_NAME="shipcall_session",
        WTF_CSRF_TIME_LIMIT=3600 * 8,
    )
    zone = settings.zone

    @app.template_filter("localtime")
    def localtime(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    @app.template_filter("longdate")
    def longdate(value: date | None) -> str:
        return value.strftime("%a %-d %b %Y") if value else ""

    @app.after_request
    def security_headers(response):
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        return response


def _register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith(api.PREFIX)

    @app.errorhandler(CSRFError)
    def form_expired(exc):
        return render_template("errors/form_expired.html", reason=exc.description), 400

    @app.errorhandler(DomainError)
    def refused(exc: DomainError):
        if wants_json():
            return api.error_response(exc.status, exc.code, exc.message, exc.details)
        return render_template("errors/error.html", status=exc.status, message=exc.message), (
            exc.status
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            return api.http_error_response(exc)
        return render_template(
            "errors/error.html", status=exc.code, message=exc.description
        ), exc.code
