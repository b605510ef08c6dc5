"""The sandbox transport: used when WABOT_WHATSAPP_TOKEN is unset. Messages are recorded, not sent,
so `wabot chat` and the /sandbox page can show what the bot would have said."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.core.batching import Batcher
from bot.core.tables import sandbox_messages
from bot.core.times import utcnow


class SandboxTransport:
    def __init__(self, engine: Engine):
        self._engine = engine
        # Concurrent sends share a transaction, as hand-overs and results do (bot/core/batching.py).
        self._records = Batcher(engine, _record_all, name="sandbox messages")

    def send(self, body: dict) -> str:
        message_id = f"wamid.sandbox.{uuid.uuid4().hex}"
        recipient = body.get("to") or body.get("recipient") or ""
        self._records.submit({"recipient": recipient, "wa_message_id": message_id, "payload": body,
                              "created_at": utcnow()})
        return message_id

    def mark_read(self, message_id: str) -> None:
        """Nobody is there to see blue ticks."""

    def close(self) -> None:
        """Nothing to release."""


def _record_all(conn: Connection, rows: list[dict]) -> list[None]:
    conn.execute(sa.insert(sandbox_messages), rows)
    return [None] * len(rows)


def messages_since(conn: Connection, recipient: str | None, after_id: int, limit: int = 200) -> list[dict]:
    query = sa.select(sandbox_messages).where(sandbox_messages.c.id > after_id)
    if recipient:
        query = query.where(sandbox_messages.c.recipient == recipient)
    rows = conn.execute(query.order_by(sandbox_messages.c.id).limit(limit)).mappings()
    return [
        {"id": r["id"], "to": r["recipient"], "message_id": r["wa_message_id"], "payload": r["payload"],
         "created_at": r["created_at"].isoformat()}
        for r in rows
    ]
