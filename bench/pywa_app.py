"""The pywa baseline of bench/webhook_throughput.py: pywa's own Flask webhook, checking Meta's
signature and dropping duplicate updates in memory, with a message handler that does nothing.
It stores nothing, so it is the cost of receiving well, not of keeping what was received."""
from __future__ import annotations

import os

from flask import Flask


def create_app() -> Flask:
    from pywa import WhatsApp, types

    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    wa = WhatsApp(phone_id="1", token="bench-token", server=app, webhook_endpoint="/webhook",
                  verify_token="bench-verify", app_secret=os.environ["WABOT_APP_SECRET"], validate_updates=True,
                  skip_duplicate_updates=True, filter_updates=False)

    @wa.on_message()
    def received(_client: WhatsApp, _message: types.Message) -> None:
        """Nothing to do: the baseline measures receiving."""

    return app
