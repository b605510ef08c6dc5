"""GET /openapi.json: an OpenAPI 3 description of every JSON route of the app.

Built from the app's own url_map: each JSON route takes its summary, security and parameters from
ROUTES below; a JSON route missing there makes `describe` raise at app creation, so no route can
ship undocumented (tests/integration/test_openapi.py).
"""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify

openapi = Blueprint("openapi", __name__)

NOT_JSON = {"agent_api.console", "sandbox_api.sandbox_page", "ops.metrics", "static", "agent_api.static",
            "sandbox_api.static", "whatsapp.verify_subscription", "openapi.spec", "admin_console.console",
            "admin_console.static", "admin_console.plotly_js", "admin_console.plotly_stylesheet"}

ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
         "required": ["error"]}
CONFIRM = {"type": "object", "properties": {"confirm": {"type": "boolean", "enum": [True]}}, "required": ["confirm"],
           "description": "it sends messages (and may cost money): without confirm true, 409"}
RUN = {"name": "run", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1},
       "description": "a run id; the latest run without it"}
NOW = {"name": "now", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"},
       "description": "ISO 8601; without an offset, UTC"}

# endpoint -> (summary, security scheme or None, query parameters, JSON request body schema or None)
ROUTES: dict[str, tuple[str, str | None, list[dict], dict | None]] = {
    "whatsapp.receive": ("Meta's webhook: signed events, stored and acknowledged", "metaSignature", [],
                         {"type": "object"}),
    "ops.healthz": ("The database accepts a write within 2 s", None, [], None),
    "shopify.receive": ("Shopify's order, customer and product webhooks", "shopifySignature", [],
                        {"type": "object"}),
    "agent_api.whoami": ("The agent a token belongs to", "agentToken", [], None),
    "agent_api.list_conversations": ("Conversations waiting or claimed, by priority", "agentToken", [
        {"name": "state", "in": "query", "schema": {"type": "string"}, "description": "comma-separated states"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}], None),
    "agent_api.show_conversation": ("One conversation in full", "agentToken", [], None),
    "agent_api.claim": ("Claim a conversation", "agentToken", [], None),
    "agent_api.release": ("Give a conversation back to the bot", "agentToken", [], None),
    "agent_api.send_message": ("Send free-form text (window open) or a template", "agentToken", [], {
        "type": "object", "properties": {
            "text": {"type": "string", "maxLength": 4096},
            "template": {"type": "object", "properties": {
                "name": {"type": "string"}, "language": {"type": "string"},
                "body": {"type": "array", "items": {"type": "string"}},
                "category": {"type": "string", "enum": ["marketing", "utility"]}}, "required": ["name"]}}}),
    "agent_api.list_templates": ("Templates the configuration names", "agentToken", [], None),
    "segments_api.list_segments": ("Segments with their member counts", "adminToken", [], None),
    "segments_api.segment_members": ("A segment's members", "adminToken", [NOW], None),
    "campaign_api.preview": ("Who a campaign would reach now, and the cost", "adminToken", [NOW], None),
    "segments_api.segment_history": ("A segment's size over time, and its latest entries and exits", "adminToken", [
        {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 730}}], None),
    "campaign_api.stats": ("A campaign's results per group and variant", "adminToken", [], None),
    "campaign_api.list_campaigns": ("Every campaign and reorder prompts, with schedule, audience and last run",
                                    "adminToken", [], None),
    "campaign_api.show_campaign": ("One campaign: configuration, last run, results and its A/B test", "adminToken",
                                   [], None),
    "campaign_api.run": ("Run a campaign now: queue its messages", "adminToken", [], CONFIRM),
    "campaign_api.promote": ("Send a tested campaign's best variant to the rest of its audience", "adminToken", [],
                             CONFIRM),
    "campaign_api.run_progress": ("A run's messages: queued, sent, delivered, read, failed", "adminToken", [RUN],
                                  None),
    "reorder_api.show_reorder": ("Reorder prompts: rules, last run and results", "adminToken", [], None),
    "reorder_api.preview_reorder": ("Which reorder prompts are due now, and the cost", "adminToken", [NOW], None),
    "reorder_api.run_reorder": ("Send the reorder prompts that are due", "adminToken", [], CONFIRM),
    "reorder_api.reorder_progress": ("A reorder run's messages: queued, sent, delivered, read", "adminToken", [RUN],
                                     None),
    "admin_api.search_customers": ("Customers whose number, name or email contains q", "adminToken", [
        {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 2,
                                                                   "maxLength": 100}}], None),
    "admin_api.show_customer": ("One customer: conversation, orders, segments explained, attributes",
                                "adminToken", [], None),
    "admin_api.automation_results": ("The store automations' results per step: sent, delivered, read, replied, "
                                     "converted, revenue", "adminToken", [], None),
    "sandbox_api.recorded_messages": ("Messages the sandbox transport recorded (loopback only)", None, [
        {"name": "after", "in": "query", "schema": {"type": "integer"}},
        {"name": "wa_id", "in": "query", "schema": {"type": "string"}}], None),
    "sandbox_api.sandbox_customers": ("Customers to chat as (loopback only)", None, [], None),
    "sandbox_api.sandbox_conversation": ("One sandbox conversation (loopback only)", None, [
        {"name": "wa_id", "in": "query", "schema": {"type": "string"}}], None),
    "sandbox_api.sandbox_send": ("Write as a customer (loopback only)", None, [], {
        "type": "object", "properties": {"wa_id": {"type": "string"}, "text": {"type": "string"},
                                         "reply_id": {"type": "string"}}}),
}

SECURITY_SCHEMES = {
    "agentToken": {"type": "http", "scheme": "bearer", "description": "WABOT_AGENT_TOKENS"},
    "adminToken": {"type": "http", "scheme": "bearer", "description": "WABOT_ADMIN_TOKEN"},
    "metaSignature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature-256"},
    "shopifySignature": {"type": "apiKey", "in": "header", "name": "X-Shopify-Hmac-Sha256"},
}


def _path(rule: str) -> tuple[str, list[dict]]:
    names = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule)
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
    return path, [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


def describe(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of `app`; raises naming the first JSON route ROUTES does not describe."""
    paths: dict[str, dict] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_JSON:
            continue
        if rule.endpoint not in ROUTES:
            raise LookupError(f"route {rule.rule} ({rule.endpoint}) is not described in bot/web/openapi.py")
        summary, security, query, body = ROUTES[rule.endpoint]
        path, path_params = _path(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {
                "operationId": rule.endpoint.replace(".", "_") + ("" if method == "GET" else f"_{method.lower()}"),
                "summary": summary, "parameters": path_params + query,
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "default": {"description": "An error", "content": {"application/json": {"schema": ERROR}}},
                }}
            if security:
                operation["security"] = [{security: []}]
            if body is not None:
                operation["requestBody"] = {"content": {"application/json": {"schema": body}}}
            paths.setdefault(path, {})[method.lower()] = operation
    return {"openapi": "3.0.3", "info": {"title": "wabot", "version": "1"},
            "components": {"securitySchemes": SECURITY_SCHEMES}, "paths": dict(sorted(paths.items()))}


@openapi.get("/openapi.json")
def spec():
    return jsonify(current_app.extensions["wabot.openapi"])


def install(app: Flask) -> None:
    app.register_blueprint(openapi)
    app.extensions["wabot.openapi"] = describe(app)
