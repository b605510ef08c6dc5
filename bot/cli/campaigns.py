"""`wabot campaigns ...`, `wabot reorder run`, `wabot tick` and `wabot scheduler`."""
from __future__ import annotations

import json
from datetime import datetime

import click

from bot.cli.context import current, describe_database, run_until_signalled
from bot.core import db
from bot.core.errors import WabotError
from bot.core.times import utcnow
from bot.runtime import Runtime
from segments.timeparse import NOW


def _runtime() -> Runtime:
    return current().runtime()


def _drain(runtime: Runtime, now: datetime | None) -> None:
    """Send what is due, at the run's `now` when one was given, until nothing due is left
    (retries waiting for their backoff stay queued)."""
    runtime.sender(clock=(lambda: now) if now else utcnow).drain(timeout=float("inf"))


def _sent_by_run(engine, run_id: int | None) -> dict[str, int]:
    """Outbox states of the messages one run queued: sent, failed, queued (waiting to retry)..."""
    if run_id is None:
        return {}
    from sqlalchemy import func, select

    from bot.campaigns.tables import campaign_sends
    from bot.core.tables import outbox

    with db.reading(engine) as conn:
        return dict(conn.execute(
            select(outbox.c.state, func.count()).select_from(campaign_sends.join(outbox, outbox.c.id == campaign_sends.c.outbox_id))
            .where(campaign_sends.c.run_id == run_id).group_by(outbox.c.state)).all())


def _states(counts: dict[str, int]) -> str:
    return ", ".join(f"{state} {n}" for state, n in sorted(counts.items())) or "nothing"


def _echo(data: dict, as_json: bool, human) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        human(data)


def _show_plan(data: dict) -> None:
    click.echo(f"audience {data['audience']}: {data['eligible']} would get a message now "
               f"({data['freeform']} free-form, {data['template']} template)")
    if data.get("held_back"):
        click.echo(f"  held back for the promotion: {data['held_back']} (test group run)")
    for reason, count in data["skipped"].items():
        click.echo(f"  {reason}: {count}")
    if len(data.get("by_language", {})) > 1:  # a one-language store's count is the eligible count
        click.echo("by language: " + ", ".join(f"{code} {n}" for code, n in data["by_language"].items()))
    cost = data["estimated_cost"]
    click.echo(f"estimated cost: {cost['total']:.4f} {cost['currency']} for {cost['charged']} charged message(s), "
               f"{cost['free']} free" + (f"; deferred: {cost['deferred_total']:.4f}" if cost.get("deferred_total") else ""))
    for country, amount in cost["by_country"].items():
        click.echo(f"  {country}: {amount:.4f}")


# ---------------------------------------------------------------- wabot campaigns

@click.group("campaigns")
def campaigns_group() -> None:
    """Campaigns from wabot.toml: preview, run, promote, stats."""


@campaigns_group.command("preview")
@click.argument("name")
@click.option("--now", type=NOW, default=None, help="Plan at this time (ISO 8601; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def campaigns_preview(name: str, now: datetime | None, as_json: bool) -> None:
    """Who would get what now, who is skipped and why, and what it would cost."""
    runtime = _runtime()
    with db.reading(runtime.engine) as conn:
        data = runtime.campaigns.preview(conn, name, now or utcnow())
    _echo(data, as_json, _show_plan)


@campaigns_group.command("run")
@click.argument("name")
@click.option("--now", type=NOW, default=None, help="Run at this time (ISO 8601; default: now).")
@click.option("--dry-run", is_flag=True, help="Plan and report; record and send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def campaigns_run(name: str, now: datetime | None, dry_run: bool, as_json: bool) -> None:
    """Plan the campaign, queue its messages and send them (waits for the outbox to drain)."""
    runtime = _runtime()
    with runtime.engine.begin() as conn:
        data = runtime.campaigns.run(conn, name, now or utcnow(), dry_run=dry_run)
    if not dry_run:
        _drain(runtime, now)
        data["outbox"] = _sent_by_run(runtime.engine, data["run_id"])

    def human(d: dict) -> None:
        _show_plan(d)
        if not dry_run:
            click.echo(f"queued {d['queued']}, deferred {d['deferred']}; messages: {_states(d['outbox'])}")
    _echo(data, as_json, human)


@campaigns_group.command("promote")
@click.argument("name")
@click.option("--now", type=NOW, default=None, help="Promote at this time (ISO 8601; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def campaigns_promote(name: str, now: datetime | None, as_json: bool) -> None:
    """Send the tested campaign's best variant (by reply rate) to the rest of its audience."""
    runtime = _runtime()
    with runtime.engine.begin() as conn:
        data = runtime.campaigns.promote(conn, name, now or utcnow())
    _drain(runtime, now)
    data["outbox"] = _sent_by_run(runtime.engine, data["rest"]["run_id"])

    def human(d: dict) -> None:
        for v in d["variants"]:
            rate = "-" if v["reply_rate"] is None else f"{v['reply_rate']:.1%}"
            click.echo(f"variant {v['variant']}: {v['replied']} replied of {v['sent']} sent ({rate})")
        winner = d["winner"]
        click.echo(f"winner: variant {winner['variant']}")
        if winner["test"]:
            t = winner["test"]
            click.echo(f"  two-proportion z-test against variant {t['against']}: z = {t['z']}, p = {t['p_value']}"
                       + ("" if t["significant_at_5pct"] else " (not significant at 5%)"))
        rest = d["rest"]
        click.echo(f"rest of the audience: {rest['queued']} queued, {rest['deferred']} deferred, "
                   f"{rest['audience'] - rest['eligible'] - rest['deferred']} skipped; messages: {_states(d['outbox'])}")
    _echo(data, as_json, human)


@campaigns_group.command("stats")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def campaigns_stats(name: str, as_json: bool) -> None:
    """Per group and variant: sent, delivered, read, replied, failed, converted, and rates."""
    runtime = _runtime()
    with db.reading(runtime.engine) as conn:
        data = runtime.campaigns.stats(conn, name)

    def human(d: dict) -> None:
        rows = d["groups"] + [{**d["total"], "group": "total", "variant": ""}]
        click.echo(f"{'group':8} {'var':>3} {'sent':>7} {'deliv':>7} {'read':>7} {'replied':>7} "
                   f"{'conv':>6} {'failed':>6}  reply rate")
        for g in rows:
            rate = g["rates"]["replied"]
            click.echo(f"{g['group']:8} {g['variant']!s:>3} {g['sent']:>7} {g['delivered']:>7} {g['read']:>7} "
                       f"{g['replied']:>7} {g['converted']:>6} {g['failed']:>6}  {'-' if rate is None else f'{rate:.1%}'}")
        if d["total"]["unknown"]:
            click.echo(f"unknown: {d['total']['unknown']} (a sender died with them in flight; not sent again; "
                       f"see `wabot outbox list --state unknown`)")
        if d["total"]["failed_by_code"]:
            click.echo("failed by code: " + ", ".join(f"{k}: {v}" for k, v in d["total"]["failed_by_code"].items()))
    _echo(data, as_json, human)


# ---------------------------------------------------------------- wabot reorder

@click.group("reorder")
def reorder_group() -> None:
    """Reorder prompts from [reorder]."""


@reorder_group.command("run")
@click.option("--now", type=NOW, default=None, help="Run at this time (ISO 8601; default: now).")
@click.option("--dry-run", is_flag=True, help="Plan and report; record and send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def reorder_run(now: datetime | None, dry_run: bool, as_json: bool) -> None:
    """Send the reorder prompts that are due."""
    runtime = _runtime()
    with runtime.engine.begin() as conn:
        data = runtime.campaigns.run_reorder(conn, now or utcnow(), dry_run=dry_run)
    if not dry_run:
        _drain(runtime, now)
        data["outbox"] = _sent_by_run(runtime.engine, data["run_id"])

    def human(d: dict) -> None:
        click.echo(f"{d['due']} product(s) due, {d['prompts']} prompt(s) chosen (one a customer)")
        _show_plan(d)
        if not dry_run:
            click.echo(f"queued {d['queued']}, deferred {d['deferred']}; messages: {_states(d['outbox'])}")
    _echo(data, as_json, human)


# ---------------------------------------------------------------- wabot tick / scheduler

@click.command("tick")
@click.option("--now", type=NOW, default=None, help="Run the jobs due at this time (ISO 8601; default: now).")
def tick(now: datetime | None) -> None:
    """Run once every scheduled job due at T, then drain the outbox."""
    from bot.conversation.outbox import depth

    runtime = _runtime()
    results, failures = runtime.scheduler().tick(now or utcnow())
    for job_id in results:
        click.echo(f"{job_id}: done")
    for job_id, error in failures.items():
        click.echo(f"{job_id}: failed: {error}", err=True)
    _drain(runtime, now)
    with db.reading(runtime.engine) as conn:
        click.echo(f"outbox drained; {depth(conn)} message(s) still queued (waiting to retry or not due yet)")
    if failures:
        raise WabotError(f"{len(failures)} job(s) failed: {', '.join(failures)}")


@click.command("scheduler")
def scheduler() -> None:
    """Run the scheduler alone (jobs persisted in the database); `wabot worker` sends.

    On PostgreSQL any number may run: one holds an advisory lock and runs the jobs, the others
    stand by and take over within seconds of its death."""
    runtime = current().runtime(warn=True)  # the same start checks as serve and worker
    jobs = len(runtime.scheduler().specs)
    standby = " (active while it holds the scheduler lock; any number may run)" \
        if runtime.engine.dialect.name == "postgresql" else ""
    run_until_signalled(runtime.start_scheduler, runtime.stop,
                        f"wabot scheduler running {jobs} job(s) — "
                        f"{describe_database(runtime.settings.database_url)}{standby}")


COMMANDS = (campaigns_group, reorder_group, tick, scheduler)
