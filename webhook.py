"""The HTTP surface: `create_app()` builds the Flask app (gunicorn 'webhook:create_app()').

The request path stays thin: verify, store, acknowledge. Nothing here sends a message.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Mapping

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException

from bot.core import db, devsecret
from bot.conversation import intake
from bot.core.config import Settings, load_settings
from bot.core.errors import PayloadError
from bot.whatsapp.events import parse_payload
from bot.core.times import utcnow
from bot.runtime import Runtime
from bot.core.signing import meta_signature_valid

log = logging.getLogger("wabot.webhook")

MAX_BODY_BYTES = 1024 * 1024  # Meta's payloads are a few KiB; anything near this is not from Meta

whatsapp = Blueprint("whatsapp", __name__)
ops = Blueprint("ops", __name__)


def runtime() -> Runtime:
    return current_app.extensions["wabot"]


def error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


@whatsapp.get("/webhook")
def verify_subscription():
    rt = runtime()
    token = rt.settings.verify_token
    if (token and request.args.get("hub.mode") == "subscribe"
            and request.args.get("hub.verify_token") == token):
        return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")
    return error(403, "verification failed")


@whatsapp.post("/webhook")
def receive():
    rt = runtime()
    raw = request.get_data(cache=False)
    if not meta_signature_valid(current_app.config["WABOT_APP_SECRET"], raw,
                                request.headers.get("X-Hub-Signature-256")):
        return error(401, "missing or wrong X-Hub-Signature-256")
    try:
        body = json.loads(raw)
    except ValueError:
        return error(400, "body is not JSON")
    try:
        events = parse_payload(body)
    except PayloadError as exc:
        return error(400, f"not a WhatsApp payload: {exc}")
    with rt.requests_in_flight, rt.engine.begin() as conn:
        new = intake.store(conn, events, utcnow())
    for event in new:
        rt.metrics.inbound.labels(kind=event.kind, type=event.type).inc()
    if len(new) < len(events):
        rt.metrics.duplicates.inc(len(events) - len(new))
    if new:
        rt.inbound_wake.set()
    # Built by hand: Meta reads only the status, and this is the hottest line of the product.
    return Response(f'{{"duplicates": {len(events) - len(new)}, "stored": {len(new)}}}', mimetype="application/json")


@ops.get("/healthz")
def healthz():
    if db.ping(runtime().engine):
        return jsonify(status="ok")
    return error(503, "database unavailable")


@ops.get("/metrics")
def metrics():
    return Response(generate_latest(runtime().metrics.registry), mimetype=CONTENT_TYPE_LATEST)


def _settings_from(config: Settings | Mapping[str, str] | None) -> Settings:
    if isinstance(config, Settings):
        return config
    import os

    env = dict(os.environ)
    env.update(config or {})
    return load_settings(env)


def create_app(config: Settings | Mapping[str, str] | None = None, runtime_: Runtime | None = None) -> Flask:
    """The Flask app. `config` is a Settings, or WABOT_* variables laid over the environment."""
    settings = runtime_.settings if runtime_ else _settings_from(config)
    rt = runtime_ or Runtime.from_settings(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["WABOT_APP_SECRET"] = settings.app_secret or devsecret.load_or_create(devsecret.dev_secret_path())
    app.extensions["wabot"] = rt
    app.register_blueprint(whatsapp)
    app.register_blueprint(ops)
    for blueprint in _feature_blueprints():
        app.register_blueprint(blueprint)

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("started", None)
        if started is not None:
            rt.metrics.latency.labels(endpoint=request.url_rule.rule if request.url_rule else "unmatched",
                                      method=request.method, status=response.status_code).observe(
                time.perf_counter() - started)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Meta retries anything but a 2xx, so an event we could not store is not lost.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error(503, "temporarily unavailable")

    return app


def _feature_blueprints():
    """Blueprints of the other features, each in its own module."""
    from bot.web.agents import agent_api
    from bot.web.campaigns import campaign_api
    from bot.web.sandbox import sandbox_api
    from bot.web.segments import segments_api
    from bot.web.shopify import shopify

    return [sandbox_api, agent_api, shopify, segments_api, campaign_api]
