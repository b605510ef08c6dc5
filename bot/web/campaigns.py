"""Admin API for campaigns: `GET /api/campaigns/<name>/preview?now=` and `/stats`, as the CLI's
--json output. Bearer WABOT_ADMIN_TOKEN; without one configured, 401."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, jsonify, request

from bot.core import db
from bot.core.errors import WabotError
from bot.core.times import utcnow
from bot.web.segments import admin_authorised
from segments.timeparse import parse_now

campaign_api = Blueprint("campaign_api", __name__, url_prefix="/api/campaigns")


@campaign_api.before_request
def _require_admin():
    if not admin_authorised():
        return jsonify(error="admin token required (Authorization: Bearer WABOT_ADMIN_TOKEN)"), 401
    return None


def _campaigns():
    runtime = current_app.extensions["wabot"]
    return runtime, runtime.campaigns


def _now() -> datetime:
    raw = request.args.get("now")
    if not raw:
        return utcnow()
    try:
        return parse_now(raw)
    except ValueError as exc:
        raise WabotError(f"now: {exc}") from None


@campaign_api.get("/<name>/preview")
def preview(name: str):
    runtime, campaigns = _campaigns()
    now = _now()
    with db.reading(runtime.engine) as conn:
        return jsonify(campaigns.preview(conn, name, now))


@campaign_api.get("/<name>/stats")
def stats(name: str):
    runtime, campaigns = _campaigns()
    with db.reading(runtime.engine) as conn:
        return jsonify(campaigns.stats(conn, name))
