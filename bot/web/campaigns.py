"""Admin API for campaigns and reorder prompts (Bearer WABOT_ADMIN_TOKEN; without one configured, 401).

`GET /api/campaigns/<name>/preview?now=` and `/stats` answer as the CLI's --json output. The store
owner's console (docs/console.md) adds the list, one campaign's detail, a run and a promotion
(each only with `{"confirm": true}`: they send messages and cost money) and a run's progress; the
same for reorder prompts under /api/reorder. Each view reads or acts through bot/campaigns/ and
answers; the sender delivers what a run queued.
"""
from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, current_app, jsonify, request

from bot.campaigns import progress
from bot.core import db
from bot.core.errors import WabotError
from bot.core.times import utcnow
from bot.web.segments import admin_authorised
from segments.timeparse import parse_now

campaign_api = Blueprint("campaign_api", __name__, url_prefix="/api/campaigns")
reorder_api = Blueprint("reorder_api", __name__, url_prefix="/api/reorder")

CONFIRM = 'confirmation required: send {"confirm": true} (check the preview first: it says whom and what it costs)'


def _require_admin():
    if not admin_authorised():
        return jsonify(error="admin token required (Authorization: Bearer WABOT_ADMIN_TOKEN)"), 401
    return None


campaign_api.before_request(_require_admin)
reorder_api.before_request(_require_admin)


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


def _run_id() -> int | None:
    raw = request.args.get("run")
    if raw is None or raw == "":
        return None
    if not (raw.isdigit() and len(raw) <= 18):  # a row id: the database's 64-bit integer at most
        raise WabotError("run must be a run id (a number)")
    return int(raw)


def _confirmed():
    """None when the body is {"confirm": true}; else the answer to give."""
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        return jsonify(error="the body is not JSON: send {\"confirm\": true}"), 400
    if body is None:
        return jsonify(error=CONFIRM), 409
    if not isinstance(body, dict) or not isinstance(body.get("confirm", False), bool):
        return jsonify(error='the body must be a JSON object: {"confirm": true}'), 400
    if body.get("confirm") is not True:
        return jsonify(error=CONFIRM), 409
    return None


# ---------------------------------------------------------------- campaigns

@campaign_api.get("")
def list_campaigns():
    """As `wabot campaigns list --json`."""
    runtime, campaigns = _campaigns()
    with db.reading(runtime.engine) as conn:
        return jsonify(campaigns.overview(conn, utcnow()))


def _detail(conn, name: str, config) -> dict:
    """A listed campaign (or the reorder prompts) with its results and where its test stands."""
    _, campaigns = _campaigns()
    listed = next(entry for entry in campaigns.overview(conn, utcnow()) if entry["name"] == name)
    stats = campaigns.stats(conn, name)
    return {**listed, "stats": stats, "test": progress.test_result(config, stats), "promotion": stats.get("promotion")}


@campaign_api.get("/<name>")
def show_campaign(name: str):
    runtime, campaigns = _campaigns()
    config = campaigns.config(name)  # an unknown name is a 404 (bot/web/errors.py)
    with db.reading(runtime.engine) as conn:
        return jsonify(_detail(conn, name, config))


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


@campaign_api.post("/<name>/run")
def run(name: str):
    return _confirmed_send(name, lambda campaigns, conn: campaigns.run(conn, name, utcnow(), trigger="manual"))


@campaign_api.post("/<name>/promote")
def promote(name: str):
    return _confirmed_send(name, lambda campaigns, conn: campaigns.promote(conn, name, utcnow()))


def _confirmed_send(name: str, send):
    """A send the owner confirmed (`{"confirm": true}`), in one transaction; the sender is woken."""
    runtime, campaigns = _campaigns()
    campaigns.config(name)
    refused = _confirmed()
    if refused:
        return refused
    with runtime.engine.begin() as conn:
        report = send(campaigns, conn)
    runtime.outbound_wake.set()
    return jsonify(report)


@campaign_api.get("/<name>/progress")
def run_progress(name: str):
    runtime, campaigns = _campaigns()
    campaigns.config(name)
    run_id = _run_id()
    with db.reading(runtime.engine) as conn:
        return jsonify(progress.run_progress(conn, name, run_id))


# ---------------------------------------------------------------- reorder prompts

def _reorder_on() -> None:
    if not current_app.extensions["wabot"].settings.file.reorder.enabled:
        raise WabotError("reorder prompts are off: [reorder] needs default_days or [reorder.days], "
                         "and text or template")


@reorder_api.get("")
def show_reorder():
    runtime, _ = _campaigns()
    _reorder_on()
    with db.reading(runtime.engine) as conn:
        return jsonify(_detail(conn, progress.REORDER, None))


@reorder_api.get("/preview")
def preview_reorder():
    runtime, campaigns = _campaigns()
    now = _now()
    with db.reading(runtime.engine) as conn:
        return jsonify(campaigns.run_reorder(conn, now, dry_run=True))


@reorder_api.post("/run")
def run_reorder():
    runtime, campaigns = _campaigns()
    refused = _confirmed()
    if refused:
        return refused
    with runtime.engine.begin() as conn:
        report = campaigns.run_reorder(conn, utcnow(), trigger="manual")
    runtime.outbound_wake.set()
    return jsonify(report)


@reorder_api.get("/progress")
def reorder_progress():
    runtime, _ = _campaigns()
    _reorder_on()
    run_id = _run_id()
    with db.reading(runtime.engine) as conn:
        return jsonify(progress.run_progress(conn, progress.REORDER, run_id))
