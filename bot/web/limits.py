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

from bot.web.agents import agent_api
from bot.web.campaigns import campaign_api
from bot.web.segments import segments_api

LIMITED = (agent_api, campaign_api, segments_api)


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
    return limiter
