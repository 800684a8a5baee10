"""The application factory: settings → database → auth → kits → pages → API → CLI → errors.

The roof is where the packages meet: this module wires each package's blueprints, API and
command groups into one app, and is the only one (with the hub pages) that imports them all.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from betas import api as betas_api
from betas import apikit, db, people, web
from betas import cli as betas_cli
from betas import views as betas_views
from betas.auth import web as auth_web
from betas.config import INSTANCE_PATH, PROJECT_ROOT, Settings
from betas.errors import DomainError
from cohorts import api as cohorts_api
from cohorts import cli as cohorts_cli
from cohorts import views as cohorts_views
from feedback import api as feedback_api
from feedback import ask_pages, call_pages, sheet_api, sheet_views
from feedback import cli as feedback_cli
from feedback import views as feedback_views
from shipcall import api as shipcall_api
from shipcall import views, worker
from usage import api as usage_api
from usage import cli as usage_cli
from usage import views as usage_views

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
    db.init_app(app, settings.database_url, settings.zone)
    auth_web.init_app(app)
    csrf.init_app(app)
    web.init_app(app, beta_page=views.render_beta)
    usage_views.init_app(app)
    call_pages.init_app(app)
    feedback_views.init_app(app)
    for blueprint in (
        people.people,
        views.hub,
        betas_views.betas,
        cohorts_views.cohorts,
        usage_views.usage,
        feedback_views.feedback,
        call_pages.call_pages,
        ask_pages.ask_pages,
        sheet_views.sheet,
    ):
        app.register_blueprint(blueprint)
    api = apikit.init_app(app)
    for blueprint in (
        betas_api.blp,
        cohorts_api.blp,
        usage_api.blp,
        feedback_api.blp,
        sheet_api.blp,
        shipcall_api.blp,
    ):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    betas_cli.init_app(app)
    cohorts_cli.init_app(app)
    usage_cli.init_app(app)
    feedback_cli.init_app(app)
    worker.init_app(app)
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

    @app.after_request
    def security_headers(response):
        # A response with a policy of its own keeps it (a chart's SVG document).
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        return response


def _register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith(apikit.PREFIX)

    @app.errorhandler(CSRFError)
    def form_expired(exc):
        return render_template("errors/form_expired.html", reason=exc.description), 400

    @app.errorhandler(DomainError)
    def refused(exc: DomainError):
        if wants_json():
            return apikit.error_response(exc.status, exc.code, exc.message, exc.details)
        return render_template("errors/error.html", status=exc.status, message=exc.message), (
            exc.status
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            return apikit.http_error_response(exc)
        return render_template(
            "errors/error.html", status=exc.code, message=exc.description
        ), exc.code
