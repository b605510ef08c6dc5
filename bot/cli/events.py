"""`wabot events list|retry`: the inbound events that will not be processed as they are."""
from __future__ import annotations

import json

import click

from bot.cli.context import current
from bot.conversation import intake
from bot.conversation.customers import mask
from bot.core import db
from bot.core.errors import WabotError
from bot.core.times import utcnow


@click.group("events")
def events_group() -> None:
    """Inbound events set aside: dead (processing failed repeatedly) and quarantined (unreadable)."""


@events_group.command("list")
@click.option("--state", type=click.Choice(intake.SET_ASIDE), default=None, help="Only this state.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def events_list(state: str | None, limit: int, as_json: bool) -> None:
    """Dead and quarantined events, newest first, with the reason each was set aside."""
    runtime = current().runtime()
    with db.reading(runtime.engine) as conn:
        rows = intake.set_aside(conn, state, limit)
    if as_json:
        click.echo(json.dumps([{"id": r.id, "state": r.state, "kind": r.kind, "type": r.type,
                                "customer": mask(r.sender) if r.sender else None,
                                "received_at": r.received_at.isoformat(), "attempts": r.attempts,
                                "error": r.error} for r in rows], indent=2))
        return
    if not rows:
        click.echo(f"no {state or 'dead or quarantined'} events")
        return
    for r in rows:
        click.echo(f"{r.id:>8}  {r.state:<11} {r.kind}/{r.type:<12} {mask(r.sender):<8} "
                   f"{r.received_at:%Y-%m-%d %H:%M}  {(r.error or '').splitlines()[0][:100] if r.error else ''}")


@events_group.command("retry")
@click.argument("event_id", type=int, required=False)
@click.option("--dead", "all_dead", is_flag=True, help="Every dead event.")
def events_retry(event_id: int | None, all_dead: bool) -> None:
    """Queue a set-aside event again (a quarantined one is read again first)."""
    if (event_id is None) == (not all_dead):
        raise WabotError("give an event id or --dead")
    runtime = current().runtime()
    with runtime.engine.begin() as conn:
        queued = intake.retry_dead(conn) if all_dead else intake.retry(conn, event_id, utcnow())
    click.echo(f"{queued} event{'s' if queued != 1 else ''} queued again; `wabot worker` or `serve` processes them")


COMMANDS = (events_group,)
