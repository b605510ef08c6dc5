"""The agent API and the agent console (/agent).

Bearer tokens from WABOT_AGENT_TOKENS name the agent; with none configured every call is 401.
Agents' messages go through the outbox like everything else, free-form only inside the 24-hour
window (bot/whatsapp/window.py decides); a conversation an agent writes in is theirs (claimed), so the bot
never talks over a person.
"""
from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlalchemy.engine import Connection

from bot.campaigns import template_health
from bot.conversation import customers, directory, handoff, inbox, outbox
from bot.conversation.customers import Customer
from bot.core import db
from bot.core.config import Settings, TemplateRef
from bot.core.errors import NotFound
from bot.core.times import utcnow
from bot.whatsapp import messages
from bot.whatsapp.window import choose_form, window_expires_at

agent_api = Blueprint("agent_api", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/agent/static")

STATES = handoff.STATES


def _runtime():
    return current_app.extensions["wabot"]


def _error(status: int, error: str, message: str, **extra: Any) -> tuple[Response, int]:
    response = jsonify(error=error, message=message, **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="wabot agents"'
    return response, status


def agent_for(settings: Settings, header: str | None) -> str | None:
    """The agent a bearer token belongs to; compared in constant time against every known token."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    found = None
    for known, name in settings.agent_tokens.items():
        if hmac.compare_digest(known.encode(), token.strip().encode()):
            found = name
    return found


@agent_api.before_request
def _authenticate():
    if request.endpoint in ("agent_api.console", "agent_api.static"):
        return None
    agent = agent_for(_runtime().settings, request.headers.get("Authorization"))
    if agent is None:
        return _error(401, "unauthorized", "an agent token is required: Authorization: Bearer <token>")
    request.environ["wabot.agent"] = agent
    return None


def _agent() -> str:
    return request.environ["wabot.agent"]


def _customer(conn: Connection, wa_id: str) -> Customer:
    """The conversation's customer; NotFound (a JSON 404) when there is none."""
    customer = customers.find(conn, wa_id)
    if customer is None:
        raise NotFound(f"no customer {wa_id}")
    return customer


# ---------------------------------------------------------------- reading

@agent_api.get("/api/agent")
def whoami():
    return jsonify(agent=_agent())


@agent_api.get("/api/conversations")
def list_conversations():
    raw = request.args.get("state") or f"{handoff.PENDING},{handoff.AGENT}"
    states = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = [s for s in states if s not in STATES]
    if unknown or not states:
        return _error(400, "bad_state", f"state must be one of {', '.join(STATES)}")
    try:
        limit = min(500, max(1, int(request.args.get("limit", "200"))))
    except ValueError:
        return _error(400, "bad_limit", "limit must be a number")
    now = utcnow()
    with db.reading(_runtime().engine) as conn:
        entries = inbox.queue(conn, states, limit=limit)
        authors = directory.last_authors(conn, [e.customer_id for e in entries if e.last_message_direction == "out"])
    return jsonify([{**entry.as_json(now), "last_message_by": _author(entry, authors.get(entry.customer_id))}
                    for entry in entries])


def _author(entry: inbox.QueueEntry, last_out: dict | None) -> dict | None:
    """Who wrote the message the queue shows: the customer, the bot (a reply), an agent (by
    name), a campaign or a reorder prompt."""
    if entry.last_message_direction == "in":
        return {"kind": "customer", "agent": None}
    if entry.last_message_direction == "out" and last_out is not None:
        return {"kind": "bot" if last_out["kind"] == "reply" else last_out["kind"], "agent": last_out["agent"]}
    return None


@agent_api.get("/api/conversations/<wa_id>")
def show_conversation(wa_id: str):
    rt = _runtime()
    now = utcnow()
    with db.reading(rt.engine) as conn:
        customer = _customer(conn, wa_id)
        return jsonify(inbox.conversation(conn, customer, now, rt.settings.store.currency, rt.settings.store.languages))


@agent_api.get("/api/templates")
def list_templates():
    """Templates the store's configuration names, for the console's picker."""
    return jsonify(configured_templates(_runtime().settings))


def configured_templates(settings: Settings) -> list[dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(template: TemplateRef | None, source: str, category: str) -> None:
        if template is None:
            return
        for language in (template.language, *template.languages):  # each approved translation
            found.setdefault((template.name, language), {
                "name": template.name, "language": language, "params": len(template.body),
                "body": list(template.body), "source": source, "category": template.category or category})

    for name, campaign in settings.file.campaigns.items():
        add(campaign.template, f"campaign {name}", campaign.category)
        for variant in campaign.variants:
            add(variant.template, f"campaign {name}", campaign.category)
    add(settings.file.reorder.template, "reorder", "marketing")  # reorder prompts are marketing
    automations = settings.file.automations
    if automations.abandoned_checkout is not None:
        for template in automations.abandoned_checkout.templates:
            add(template, "automation abandoned_checkout", "marketing")
    for name in ("order_confirmed", "order_shipped", "order_delivered", "cod_confirmation"):
        message = getattr(automations, name)
        add(message.template if message else None, f"automation {name}", "utility")
    return sorted(found.values(), key=lambda t: (t["name"], t["language"]))


def template_category(settings: Settings, name: str, requested: str | None) -> str:
    """A template's category: the config's, where the template is named there; else the
    request's; else marketing, the category Meta bills and restricts most."""
    configured = {t["name"]: t["category"] for t in configured_templates(settings)}
    return configured.get(name) or requested or "marketing"


# ---------------------------------------------------------------- acting

@agent_api.post("/api/conversations/<wa_id>/claim")
def claim(wa_id: str):
    agent = _agent()
    now = utcnow()
    with _runtime().engine.begin() as conn:
        customer = _customer(conn, wa_id)
        current = handoff.get(conn, customer.id)
        if current.state == handoff.AGENT and current.agent == agent:
            return jsonify(state=current.state, agent=agent)
        if current.state == handoff.AGENT:
            return _error(409, "already_claimed", f"{current.agent} has this conversation", agent=current.agent)
        if not handoff.transition(conn, customer.id, handoff.AGENT, actor=f"agent:{agent}", now=now,
                                  reason="claimed", agent=agent, expect=(handoff.BOT, handoff.PENDING)):
            taken = handoff.get(conn, customer.id)
            return _error(409, "already_claimed", f"{taken.agent} has this conversation", agent=taken.agent)
    return jsonify(state=handoff.AGENT, agent=agent)


@agent_api.post("/api/conversations/<wa_id>/release")
def release(wa_id: str):
    agent = _agent()
    now = utcnow()
    with _runtime().engine.begin() as conn:
        customer = _customer(conn, wa_id)
        current = handoff.get(conn, customer.id)
        if current.state == handoff.AGENT and current.agent != agent:
            return _error(409, "claimed_by_other", f"{current.agent} has this conversation", agent=current.agent)
        if current.state != handoff.BOT:
            handoff.transition(conn, customer.id, handoff.BOT, actor=f"agent:{agent}", now=now,
                               reason="released", expect=(current.state,))
    return jsonify(state=handoff.BOT, agent=None)


def _parse_message(body: Any) -> tuple[dict | None, str | None, str | None]:
    """(Graph message body, category, error) from {"text": ...} or {"template": {...}}."""
    if not isinstance(body, dict):
        return None, None, "the body must be a JSON object with text or template"
    text, template = body.get("text"), body.get("template")
    if (text is None) == (template is None):
        return None, None, "give either text or template"
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            return None, None, "text must be a non-empty string"
        if len(text) > messages.MAX_TEXT:
            return None, None, f"text is longer than {messages.MAX_TEXT} characters"
        return messages.text_message(text.strip(), preview_url="http" in text), "service", None
    if not isinstance(template, dict) or not isinstance(template.get("name"), str) or not template["name"].strip():
        return None, None, "template needs a name"
    language = template.get("language", "en_US")
    params = template.get("body", [])
    if not isinstance(language, str) or not isinstance(params, list) or \
            not all(isinstance(p, (str, int, float)) and str(p).strip() for p in params):
        return None, None, "template language must be a string and body a list of non-empty values"
    category = template.get("category")
    if category not in (None, "utility", "marketing"):
        return None, None, "template category must be utility or marketing"
    return messages.template_message(template["name"].strip(), language, [str(p) for p in params]), category, None


@agent_api.post("/api/conversations/<wa_id>/messages")
def send_message(wa_id: str):
    agent = _agent()
    rt = _runtime()
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        return _error(400, "bad_json", "the body is not JSON")
    message, category, problem = _parse_message(body)
    if problem:
        return _error(400, "bad_message", problem)
    if message["type"] == "template":
        category = template_category(rt.settings, message["template"]["name"], category)
    now = utcnow()
    with rt.engine.begin() as conn:
        customer = _customer(conn, wa_id)
        if category == "marketing" and customer.opted_out:
            return _error(409, "opted_out", "the customer opted out: no marketing template may be sent",
                          category=category)
        if category == "marketing" and customer.marketing_paused:
            return _error(409, "marketing_paused", "the customer stopped marketing messages in WhatsApp",
                          category=category)
        current = handoff.get(conn, customer.id)
        if current.state == handoff.AGENT and current.agent != agent:
            return _error(409, "claimed_by_other", f"{current.agent} has this conversation", agent=current.agent)
        is_template = message["type"] == "template"
        if is_template and (message["template"]["name"], message["template"]["language"]["code"]) in \
                template_health.unusable(conn):
            # Meta paused, disabled or rejected it (docs/campaigns.md, "Template health")
            return _error(409, "template_paused", "Meta has paused or disabled this template; it cannot be sent now")
        form = choose_form(customer.last_inbound_at, now, has_text=not is_template, has_template=is_template)
        if form.form == "none":
            expired = window_expires_at(customer.last_inbound_at)
            return _error(409, "window_closed",
                          "the customer's 24-hour window is closed; only a template can be sent",
                          window_expires_at=expired.isoformat() if expired else None)
        if current.state != handoff.AGENT:
            # Writing to a customer takes the conversation over, so the bot does not answer too.
            handoff.transition(conn, customer.id, handoff.AGENT, actor=f"agent:{agent}", now=now,
                               reason="agent replied", agent=agent, expect=(current.state,))
        outbox_id = outbox.enqueue(conn, recipient=customer.wa_id, customer_id=customer.id, message=message,
                                   now=now, kind="agent", category=category, source=f"agent:{agent}")
        handoff.touch_agent(conn, customer.id, now)
    rt.outbound_wake.set()
    return jsonify(id=outbox_id, form=form.form, state=handoff.AGENT, agent=agent, category=category)


# ---------------------------------------------------------------- the console

@agent_api.get("/agent")
def console():
    settings = _runtime().settings
    return render_template("agent.html", store_name=settings.store.name,
                           templates=configured_templates(settings),
                           timeout_minutes=settings.policy.handoff_timeout_minutes)
