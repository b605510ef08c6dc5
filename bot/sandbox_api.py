"""What the sandbox transport recorded, for `wabot chat` and the /sandbox page.

Only served with the sandbox transport: with a real token, messages went to real phones.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

from bot import db
from bot.sandbox import messages_since

sandbox_api = Blueprint("sandbox_api", __name__)


@sandbox_api.get("/sandbox/api/messages")
def recorded_messages():
    rt = current_app.extensions["wabot"]
    if not rt.settings.sandbox:
        abort(404)
    try:
        after = int(request.args.get("after", "0"))
    except ValueError:
        abort(400, "after must be a message number")
    with db.reading(rt.engine) as conn:
        messages = messages_since(conn, request.args.get("wa_id") or None, after)
    return jsonify(messages=messages)
