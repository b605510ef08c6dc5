"""The sandbox: what the sandbox transport recorded, for `wabot chat`, and the /sandbox page where
anyone can chat as any customer. Only served with the sandbox transport: with a real token,
messages go to real phones and there is nothing to show here.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, jsonify, render_template, request

from bot.conversation import intake
from bot.core import db
from bot.core.tables import customers, inbound_messages, sandbox_messages
from bot.core.times import utcnow
from bot.web.security import from_loopback
from bot.whatsapp import messages, simulate
from bot.whatsapp.events import parse_payload

sandbox_api = Blueprint("sandbox_api", __name__, template_folder="templates", static_folder="static",
                        static_url_path="/sandbox/static")


def _runtime():
    rt = current_app.extensions["wabot"]
    if not rt.settings.sandbox:
        abort(404)
    return rt


@sandbox_api.before_request
def _local_only():
    """Anyone reaching the sandbox can write as any customer: only this machine may."""
    if not from_loopback():
        abort(403, "the sandbox answers only requests from this machine")


@sandbox_api.get("/sandbox")
def sandbox_page():
    rt = _runtime()
    return render_template("sandbox.html", store_name=rt.settings.store.name)


@sandbox_api.get("/sandbox/api/messages")
def recorded_messages():
    """What the bot sent (to one customer, or to all), after a given message number."""
    from bot.pipeline.sandbox import messages_since

    rt = _runtime()
    raw = request.args.get("after", "0")
    if not (raw.isdigit() and len(raw) <= 18):  # a row id: the database's 64-bit integer at most
        abort(400, "after must be a message number")
    after = int(raw)
    with db.reading(rt.engine) as conn:
        messages = messages_since(conn, request.args.get("wa_id") or None, after)
    return jsonify(messages=messages)


@sandbox_api.get("/sandbox/api/customers")
def sandbox_customers():
    rt = _runtime()
    c = customers.c
    with db.reading(rt.engine) as conn:
        rows = conn.execute(
            sa.select(c.wa_id, c.profile_name, c.first_name, c.last_name)
            .where(c.wa_id.is_not(None))
            .order_by(c.last_inbound_at.desc().nulls_last(), c.id.desc()).limit(300)
        ).all()
    return jsonify(customers=[
        {"wa_id": r.wa_id, "name": r.profile_name or " ".join(filter(None, [r.first_name, r.last_name])) or r.wa_id}
        for r in rows
    ])


@sandbox_api.get("/sandbox/api/conversation")
def sandbox_conversation():
    """Both sides of one customer's conversation, oldest first."""
    rt = _runtime()
    wa_id = request.args.get("wa_id", "")
    with db.reading(rt.engine) as conn:
        customer_id = conn.execute(sa.select(customers.c.id).where(customers.c.wa_id == wa_id)).scalar()
        inbound = [] if customer_id is None else conn.execute(
            sa.select(inbound_messages.c.text, inbound_messages.c.type, inbound_messages.c.sent_at)
            .where(inbound_messages.c.customer_id == customer_id)).all()
        outbound = conn.execute(
            sa.select(sandbox_messages.c.payload, sandbox_messages.c.created_at)
            .where(sandbox_messages.c.recipient == wa_id)).all()
    items = [{"from": "customer", "text": r.text or f"[{r.type}]", "choices": [], "at": r.sent_at.isoformat()}
             for r in inbound]
    items += [{"from": "bot", "text": messages.preview_of(r.payload) if r.payload.get("type") != "interactive"
               else r.payload["interactive"].get("body", {}).get("text", ""),
               "choices": [{"id": i, "title": t} for i, t in simulate.choices_of(r.payload)],
               "list": r.payload.get("interactive", {}).get("type") == "list",
               "at": r.created_at.isoformat()} for r in outbound]
    items.sort(key=lambda item: item["at"])
    return jsonify(conversation=items)


@sandbox_api.post("/sandbox/api/send")
def sandbox_send():
    """A customer's message, built exactly like Meta's webhook payload and stored like one."""
    rt = _runtime()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "the body must be a JSON object: wa_id and text (or reply_id)")
    wa_id = str(data.get("wa_id", "")).strip().lstrip("+")
    if not wa_id.isdigit() or not 6 <= len(wa_id) <= 15:
        abort(400, "wa_id must be a phone number in international format, digits only")
    fields = {key: data.get(key) for key in ("name", "reply_id", "title", "text")}
    if any(value is not None and not isinstance(value, str) for value in fields.values()):
        abort(400, "name, reply_id, title and text must be strings")
    name = (fields["name"] or "").strip() or None
    if fields["reply_id"]:
        payload = simulate.reply_payload(wa_id, fields["reply_id"], fields["title"] or "", name=name,
                                         list_row=bool(data.get("list")))
    elif (fields["text"] or "").strip():
        payload = simulate.text_payload(wa_id, str(data["text"]), name=name)
    else:
        abort(400, "say something: text, or the reply_id of a button")
    events = parse_payload(json.loads(json.dumps(payload)))
    with rt.engine.begin() as conn:
        stored = intake.store(conn, events, utcnow())
    rt.inbound_wake.set()
    return jsonify(stored=len(stored))
