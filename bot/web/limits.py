"""Request rate limits on the agent and admin APIs, per bearer token (Flask-Limiter).

A leaked or looping token cannot flood the database: each token (or, without one, each client
address) gets `[api] requests_per_minute`. Counted in the process's memory, so each HTTP process
counts on its own; Meta's and Shopify's webhooks are not limited here (they are signed, and a
refused delivery would only be redelivered).
"""
from __future__ import annotations

import hashlib

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from bot.web.admin import admin_api
from bot.web.agents import agent_api
from bot.web.campaigns import campaign_api, reorder_api
from bot.web.segments import segments_api

# The APIs behind a token. The store owner's console page and its scripts (admin_console) are not
# limited: they carry no token, and a browser loads them once.
LIMITED = (agent_api, campaign_api, reorder_api, segments_api, admin_api)


def token_key() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return "address:" + (get_remote_address() or "-")


def install(app: Flask, requests_per_minute: int) -> Limiter:
    limiter = Limiter(key_func=token_key, app=app, storage_uri="memory://", default_limits=[],
                      headers_enabled=True)
    for blueprint in LIMITED:
        limiter.limit(f"{requests_per_minute}/minute")(blueprint)
    _only_on_limited_blueprints(app)
    return limiter


def _only_on_limited_blueprints(app: Flask) -> None:
    """Flask-Limiter hooks every request of the app; looking for limits that do not exist cost
    the webhook 150 µs a request, a tenth of its time (measured: docs/performance.md). Its hooks
    move to the blueprints that have limits."""
    names = [blueprint.name for blueprint in LIMITED]
    for hooks in (app.before_request_funcs, app.after_request_funcs):
        ours = [f for f in hooks.get(None, []) if _is_limiter_hook(f)]
        hooks[None] = [f for f in hooks.get(None, []) if f not in ours]
        for name in names:
            hooks.setdefault(name, []).extend(ours)


def _is_limiter_hook(function) -> bool:
    target = getattr(function, "func", function)  # the after-request hook is a functools.partial
    return getattr(target, "__module__", "").startswith("flask_limiter")
