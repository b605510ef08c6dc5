"""The HTTP surface: `create_app()` builds the Flask app (gunicorn 'webhook:create_app()').

It builds the process's Runtime (bot/runtime.py) and registers the blueprints of bot/web/;
the routes themselves live there. Nothing here sends a message.
"""
from __future__ import annotations

import os
import time
from typing import Mapping

from flask import Flask, Response, g, request

from bot.core import devsecret, logmask
from bot.core.config import Settings, load_settings
from bot.runtime import Runtime
from bot.web import errors, limits, openapi, security
from bot.web.admin import admin_api, admin_console
from bot.web.agents import agent_api
from bot.web.campaigns import campaign_api, reorder_api
from bot.web.group_commit import GROUP_COMMIT, GroupCommit
from bot.web.sandbox import sandbox_api
from bot.web.segments import segments_api
from bot.web.shopify import shopify
from bot.web.whatsapp import MAX_BODY_BYTES, ops, whatsapp

BLUEPRINTS = (whatsapp, ops, sandbox_api, agent_api, shopify, segments_api, campaign_api, reorder_api, admin_api,
              admin_console)


def _settings_from(config: Settings | Mapping[str, str] | None) -> Settings:
    if isinstance(config, Settings):
        return config
    env = dict(os.environ)
    env.update(config or {})
    return load_settings(env)


def create_app(config: Settings | Mapping[str, str] | None = None, runtime_: Runtime | None = None) -> Flask:
    """The Flask app. `config` is a Settings, or WABOT_* variables laid over the environment."""
    settings = runtime_.settings if runtime_ else _settings_from(config)
    rt = runtime_ or Runtime.from_settings(settings)
    logmask.install()  # under any gunicorn, as under `wabot serve`
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["WABOT_APP_SECRET"] = settings.app_secret or devsecret.load_or_create(devsecret.dev_secret_path())
    app.extensions["wabot"] = rt
    app.extensions[GROUP_COMMIT] = GroupCommit(rt.engine)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    errors.register(app)
    security.install(app)
    limits.install(app, settings.file.api.requests_per_minute)
    openapi.install(app)  # last: it describes the routes registered above

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

    return app
