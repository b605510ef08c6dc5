"""The baseline for bench/webhook_throughput.py: a Flask endpoint that does nothing, served by the
same gunicorn setup as `wabot serve`."""
from flask import Flask, jsonify


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhook")
    def webhook():
        return jsonify(stored=0)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app
