"""Admin API for segments: GET /api/segments and GET /api/segments/<name>/members, with the same
JSON as `wabot segments list --json` and `wabot segments members NAME --json`, and
GET /api/segments/<name>/history, a segment's size over time for the store owner's console
(segments/history.py). Bearer WABOT_ADMIN_TOKEN; without it configured, every request is refused."""
from __future__ import annotations

import hmac
from datetime import datetime

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from bot.core import db
from bot.core.errors import WabotError
from bot.core.times import utcnow
from segments.engine import SegmentEngine
from segments.history import size_history
from segments.timeparse import parse_now
from segments.views import members_json, segment_list

segments_api = Blueprint("segments_api", __name__)

HISTORY_DAYS = 30
MAX_HISTORY_DAYS = 730


def admin_authorised() -> bool:
    token = current_app.extensions["wabot"].settings.admin_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@segments_api.before_request
def _require_admin():
    if not admin_authorised():
        return jsonify(error="admin token required (Authorization: Bearer WABOT_ADMIN_TOKEN)"), 401
    return None


def _now() -> datetime:
    raw = request.args.get("now")
    return parse_now(raw) if raw else utcnow()


@segments_api.get("/api/segments")
def list_segments():
    rt = current_app.extensions["wabot"]
    engine: SegmentEngine = current_app.extensions["wabot"].segment_engine
    with db.reading(rt.engine) as conn:
        return jsonify(segment_list(engine, conn, utcnow()))


@segments_api.get("/api/segments/<name>/members")
def segment_members(name: str):
    rt = current_app.extensions["wabot"]
    engine: SegmentEngine = current_app.extensions["wabot"].segment_engine
    engine.definition(name)  # an UnknownSegment is a 404 (bot/web/errors.py)
    try:
        now = _now()
    except ValueError as exc:
        return jsonify(error=str(exc)), 400

    def body():
        with db.reading(rt.engine) as conn:
            yield from members_json(engine, conn, now, name)

    return Response(stream_with_context(body()), mimetype="application/json")


@segments_api.get("/api/segments/<name>/history")
def segment_history(name: str):
    """The segment's definition and its size over the last `days` days (30 by default)."""
    rt = current_app.extensions["wabot"]
    engine: SegmentEngine = rt.segment_engine
    definition = engine.definition(name)  # an UnknownSegment is a 404
    raw = request.args.get("days") or str(HISTORY_DAYS)
    if not (raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_HISTORY_DAYS):
        raise WabotError(f"days must be a whole number from 1 to {MAX_HISTORY_DAYS}")
    with db.reading(rt.engine) as conn:
        counts = engine.stored_counts(conn)
        history = size_history(conn, name, utcnow(), int(raw), rt.settings.store.timezone)
    return jsonify({"name": definition.name, "description": definition.description, "rule": definition.rule,
                    "builtin": definition.builtin is not None,
                    "count": None if counts is None else counts.get(name, 0), **history})
