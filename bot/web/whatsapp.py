"""Meta's side of the HTTP surface: the webhook (GET verification, POST events), /healthz, /metrics.

The request path stays thin: verify the signature, parse, store idempotently, acknowledge.
Nothing here sends a message; the inbound worker answers (docs/architecture.md).
"""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from bot.core import db, safejson
from bot.core.signing import meta_signature_valid
from bot.core.times import utcnow
from bot.pipeline.metrics import metric_label
from bot.runtime import Runtime
from bot.web.errors import error
from bot.web.group_commit import GROUP_COMMIT
from bot.whatsapp.events import Quarantined, parse_body

log = logging.getLogger("wabot.webhook")

MAX_BODY_BYTES = 1024 * 1024  # Meta's payloads are a few KiB; anything near this is not from Meta

whatsapp = Blueprint("whatsapp", __name__)
ops = Blueprint("ops", __name__)


def runtime() -> Runtime:
    return current_app.extensions["wabot"]


@whatsapp.get("/webhook")
def verify_subscription():
    rt = runtime()
    token = rt.settings.verify_token
    given = request.args.get("hub.verify_token", "")
    if (token and request.args.get("hub.mode") == "subscribe"
            and hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode())):
        return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")
    return error(403, "verification failed")


@whatsapp.post("/webhook")
def receive():
    rt = runtime()
    raw = request.get_data(cache=False)
    if not meta_signature_valid(current_app.config["WABOT_APP_SECRET"], raw,
                                request.headers.get("X-Hub-Signature-256")):
        return error(401, "missing or wrong X-Hub-Signature-256")
    # Signed, so from Meta: whatever cannot be read is kept aside (quarantined) and acknowledged,
    # since Meta would redeliver the same body forever; the valid events beside it are stored.
    try:
        events = parse_body(safejson.loads(raw))
    except ValueError as exc:
        events = [Quarantined.of(raw.decode("utf-8", "replace"), f"body is not JSON: {str(exc)[:200]}")]
    with rt.requests_in_flight:
        new = current_app.extensions[GROUP_COMMIT].store(events, utcnow())
    for event in new:
        rt.metrics.inbound.labels(kind=event.kind, type=metric_label(event.type)).inc()
    if len(new) < len(events):
        rt.metrics.duplicates.inc(len(events) - len(new))
    if new:
        rt.inbound_wake.set()
    # Built by hand: Meta reads only the status, and this is the hottest line of the product.
    return Response(f'{{"duplicates": {len(events) - len(new)}, "stored": {len(new)}}}', mimetype="application/json")


@ops.get("/healthz")
def healthz():
    if db.accepts_write(runtime().engine, utcnow()):
        return jsonify(status="ok")
    return error(503, "database unavailable: it did not accept a write within 2 s")


@ops.get("/metrics")
def metrics():
    return Response(runtime().metrics.render(), mimetype=CONTENT_TYPE_LATEST)
