"""`wabot outbox list`: what the outbox holds, and the messages a dead sender left `unknown`."""
from __future__ import annotations

import json

import click

from bot.cli.context import current
from bot.conversation import outbox
from bot.conversation.customers import mask
from bot.core import db


@click.group("outbox")
def outbox_group() -> None:
    """Outgoing messages: queued, sent, failed, and `unknown` (a sender died while they may have left)."""


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


@outbox_group.command("list")
@click.option("--state", type=click.Choice(outbox.STATES), default=None, help="Only this state.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def outbox_list(state: str | None, limit: int, as_json: bool) -> None:
    """Outbox rows, newest first. An `unknown` row is resolved by its status webhook; until then a
    marketing one is never sent again (docs/sending.md)."""
    runtime = current().runtime()
    with db.reading(runtime.engine) as conn:
        rows = outbox.listed(conn, state, limit)
    if as_json:
        click.echo(json.dumps([{
            "id": r.id, "state": r.state, "kind": r.kind, "category": r.category, "source": r.source,
            "customer_id": r.customer_id, "recipient": mask(r.recipient), "attempts": r.attempts,
            "created_at": _iso(r.created_at), "handed_at": _iso(r.handed_at), "sent_at": _iso(r.sent_at),
            "wa_message_id": r.wa_message_id, "error_code": r.error_code, "error": r.error_title,
        } for r in rows], indent=2))
        return
    if not rows:
        click.echo(f"no {state + ' ' if state else ''}outbox messages")
        return
    for r in rows:
        when = r.handed_at or r.created_at
        detail = r.error_title or r.source or ""
        click.echo(f"{r.id:>8}  {r.state:<9} {r.kind}/{r.category:<10} {mask(r.recipient):<8} "
                   f"{when:%Y-%m-%d %H:%M:%S}  {detail[:80]}")


COMMANDS = (outbox_group,)
