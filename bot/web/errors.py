"""How errors become HTTP answers, for every route of the app: one place.

A NotFound (a customer, segment or campaign that does not exist) is a 404; any other WabotError
that reaches a view is bad input, a 400; Werkzeug's own errors keep their status; anything else is
a 503, so that Meta and Shopify, which retry everything but a 2xx, deliver the event again later.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from bot.core.errors import ConfigError, NotFound, WabotError

log = logging.getLogger("wabot.web")

# The agent API answers errors as {"error": code, "message": text}; the others as {"error": text}.
CODED_BLUEPRINTS = frozenset({"agent_api"})


def error(status: int, message: str, code: str | None = None) -> tuple[Response, int]:
    if code is not None and request.blueprint in CODED_BLUEPRINTS:
        return jsonify(error=code, message=message), status
    return jsonify(error=message), status


def register(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        return error(404, str(exc), exc.code)

    @app.errorhandler(WabotError)
    def _bad_input(exc: WabotError):
        if isinstance(exc, ConfigError):
            return _unexpected(exc)
        return error(400, str(exc), "bad_request")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Meta retries anything but a 2xx, so an event we could not store is not lost.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error(503, "temporarily unavailable")
