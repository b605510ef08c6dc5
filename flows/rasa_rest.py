"""Talking to a Rasa assistant through its REST channel (`WABOT_RASA_URL`).

`POST {url}/webhooks/rest/webhook` with `{"sender": wa_id, "message": text, "metadata": {...}}`;
Rasa answers with a list of messages (`text`, `buttons`, `image`, `custom`) that the worker turns
into Graph bodies and queues. A tapped button goes as `/<intent>` (Rasa's own syntax for a known
intent) with its full id in the metadata, where our actions read it.
"""
from __future__ import annotations

from typing import Any, Mapping

import requests

from flows.nlu import IntentDecision


class RasaUnavailable(Exception):
    """Rasa did not answer, or not with a list of messages: try again later."""


def message_for_rasa(text: str | None, reply_id: str | None, decision: IntentDecision | None) -> str:
    if reply_id:
        # One of our ids (`reorder:confirm:1001`) becomes its intent; anything else is the
        # assistant's own payload (`/greet`) and goes as it is.
        return f"/{decision.intent}" if decision is not None and decision.source == "button" else reply_id
    return text or ""


class RasaClient:
    def __init__(self, url: str, *, connect_timeout: float = 3.0, read_timeout: float = 30.0):
        self.endpoint = f"{url.rstrip('/')}/webhooks/rest/webhook"
        self.timeout = (connect_timeout, read_timeout)
        self._session = requests.Session()

    def send(self, sender: str, message: str, metadata: Mapping[str, Any] | None = None) -> list[dict]:
        body: dict[str, Any] = {"sender": sender, "message": message}
        if metadata:
            body["metadata"] = dict(metadata)
        try:
            response = self._session.post(self.endpoint, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RasaUnavailable(f"{exc.__class__.__name__} talking to {self.endpoint}") from None
        if response.status_code != 200:
            raise RasaUnavailable(f"{self.endpoint} answered HTTP {response.status_code}")
        try:
            answers = response.json()
        except ValueError:
            raise RasaUnavailable(f"{self.endpoint} answered with something that is not JSON") from None
        if not isinstance(answers, list):
            raise RasaUnavailable(f"{self.endpoint} answered with {type(answers).__name__}, not a list")
        return [a for a in answers if isinstance(a, dict)]

    def close(self) -> None:
        self._session.close()
