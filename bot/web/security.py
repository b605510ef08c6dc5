"""What every answer carries, and who may reach the sandbox (docs/architecture.md, web).

Pages load only our own scripts and styles (no inline code, no frames, no CDN); the sandbox, which
lets anyone speak as any customer, answers only requests from this machine. The store owner's
console draws its charts with plotly.js under the same policy: the script is served from the
installed plotly package and the styles plotly.js would inject are served as a stylesheet
(bot/web/admin.py), so neither 'unsafe-inline' nor 'unsafe-eval' is needed.
"""
from __future__ import annotations

import ipaddress

from flask import Flask, Response, jsonify, request

from bot.core.safejson import text_problem

HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                                "frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def from_loopback() -> bool:
    """The client is this machine (the socket's peer: a forwarded-for header proves nothing)."""
    return is_loopback(request.remote_addr)


def install(app: Flask) -> None:
    @app.before_request
    def _readable_request():
        # A NUL or a lone surrogate in a path or query would reach the database (PostgreSQL
        # refuses both): refused here, as bad input, before any view runs.
        for text in (request.path, *request.args.keys(), *request.args.values()):
            if text_problem(text):
                return jsonify(error=f"invalid text in the request: {text_problem(text)}"), 400
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
