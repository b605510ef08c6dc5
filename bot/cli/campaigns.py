"""`wabot campaigns ...`, `wabot reorder run`, `wabot tick` and `wabot scheduler`."""
from __future__ import annotations

import json
import sys
import threading
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


def _stdin_is_terminal() -> bool:
    """Whether someone can answer a question: `run` asks only then."""
    return sys.stdin.isatty()


def _stderr_is_terminal() -> bool:
    """Whether someone watches: progress bars go to stderr only then (stdout may be JSON)."""
    return sys.stderr.isatty()


def _bar(length: int, label: str):
    return click.progressbar(length=length, label=label, file=click.get_text_stream("stderr"), show_pos=True)


class _QueueProgress:
    """A bar over the messages a run queues, made when the run says how many there are."""

    def __init__(self, label: str):
        self.label = label
        self._bar = None
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = _bar(total, self.label)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _left_by_run(engine, run_id: int) -> int:
    """How many of one run's messages have not left the outbox yet (queued or being sent)."""
    counts = _sent_by_run(engine, run_id)
    return counts.get("queued", 0) + counts.get("sending", 0)


def _drain_watched(runtime: Runtime, now: datetime | None, run_id: int | None, total: int,
                   poll: float = 0.2) -> None:
    """Drain the outbox as `_drain` does; on a terminal, with a bar of the run's messages leaving it."""
    if not (run_id is not None and total and _stderr_is_terminal()):
        _drain(runtime, now)
        return
    failed: list[BaseException] = []

    def drain() -> None:
        try:
            _drain(runtime, now)
        except BaseException as exc:  # handed to the command's thread, which reports it
            failed.append(exc)

    thread = threading.Thread(target=drain, name="wabot-campaign-drain", daemon=True)
    thread.start()
    gone = 0
    with _bar(total, "sending") as bar:
        while gone < total:
            thread.join(poll)
            now_gone = total - _left_by_run(runtime.engine, run_id)
            bar.update(now_gone - gone)
            gone = now_gone
            if not thread.is_alive():
                break  # what is left waits for a retry's backoff
    thread.join()
    if failed:
        raise failed[0]


def _cost_of(data: dict) -> float:
    cost = data["estimated_cost"]
    return float(cost["total"] or 0) + float(cost.get("deferred_total") or 0)


def _confirm_cost(name: str, data: dict) -> bool:
    """Ask before spending money; the question and its summary go to stderr."""
    cost = data["estimated_cost"]
    deferred = f", and {cost['deferred_total']:.4f} for the deferred ones when they go" \
        if cost.get("deferred_total") else ""
    click.echo(f"{name}: {data['eligible']} message(s) would go now ({data['freeform']} free-form, "
               f"{data['template']} template); estimated cost {cost['total']:.4f} {cost['currency']}{deferred}",
               err=True)
    return click.confirm("Send them?", default=False, err=True)


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
    for warning in data.get("warnings", ()):  # a template Meta paused or flagged
        click.echo(f"warning: {warning}")
    if len(data.get("by_language", {})) > 1:  # a one-language store's count is the eligible count
        click.echo("by language: " + ", ".join(f"{code} {n}" for code, n in data["by_language"].items()))
    cost = data["estimated_cost"]
    click.echo(f"estimated cost: {cost['total']:.4f} {cost['currency']} for {cost['charged']} charged message(s), "
               f"{cost['free']} free" + (f"; deferred: {cost['deferred_total']:.4f}" if cost.get("deferred_total") else ""))
    for country, amount in cost["by_country"].items():
        click.echo(f"  {country}: {amount:.4f}")
    _echo_free(cost)


def _echo_free(cost: dict) -> None:
    """What is free and why (bot/campaigns/pricing.py FREE_REASONS), and the rates' dates."""
    free = {reason: n for reason, n in (cost.get("free_by_reason") or {}).items() if n}
    if free:
        click.echo("free: " + ", ".join(f"{reason.replace('_', ' ')} {n}" for reason, n in free.items()))
    dates = sorted({d or "always" for days in (cost.get("rates_effective") or {}).values() for d in days})
    if dates:
        click.echo("rates in effect since: " + ", ".join(dates))


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _message_of(entry: dict) -> str:
    if entry["form"] == "template":
        template = entry["template"]
        return f"{template['name']} ({template['language']}): " + " | ".join(template["params"])
    buttons = "".join(f" [{title}]" for title in entry.get("buttons", ()))
    return (entry.get("text") or "") + buttons


def _show_sample(data: dict) -> None:
    sample = data.get("sample") or []
    if not sample:
        return
    click.echo(f"sample: {len(sample)} of {data['eligible']} who would get a message now")
    name_width = min(24, max(4, *(len(e["name"] or "-") for e in sample)))
    wa_width = max(5, *(len(e["wa_id"] or "") for e in sample))
    click.echo(f"  {'wa_id':{wa_width}}  {'name':{name_width}}  {'form':8}  {'lang':4}  message")
    for e in sample:
        click.echo(f"  {e['wa_id'] or '':{wa_width}}  {_clip(e['name'] or '-', name_width):{name_width}}  "
                   f"{e['form']:8}  {e['language'] or '-':4}  {_clip(_message_of(e), 80)}")


def _show_preview(data: dict) -> None:
    _show_plan(data)
    _show_sample(data)


def _when(entry: dict) -> str:
    if entry["kind"] == "reorder":
        return "when due (hourly scan)"
    if entry["schedule"]:
        return f"cron {entry['schedule']}"
    if entry["trigger"] == "enter":
        return f"on entering {entry['segment']}"
    return "by hand"


def _audience(entry: dict) -> str:
    if entry["kind"] == "reorder":
        watch = entry["watch"]
        parts = [f"{n} selector(s)" for n in [len(watch["days"])] if n]
        parts += [f"default {watch['default_days']} d"] if watch["default_days"] else []
        return "reorder: " + ", ".join(parts)
    return f"segment {entry['segment']}" if entry["segment"] else f"rule {entry['rule']}"


def _test(entry: dict) -> str:
    if entry["test_fraction"] is None:
        return "-"
    text = f"{entry['test_fraction']:.0%} x {len(entry['variants'])}"
    promoted = entry.get("promoted")
    return text + (f", promoted v{promoted['variant']}" if promoted else "")


def _last(entry: dict) -> str:
    run = entry["last_run"]
    if run is None:
        return "never"
    return f"{run['run_at'][:16].replace('T', ' ')} {run['trigger']}: {run['queued']} queued, {run['sent']} sent"


def _show_list(rows: list[dict]) -> None:
    if not rows:
        click.echo("no campaigns in wabot.toml (see wabot.example.toml, [campaigns.*])")
        return
    table = [(e["name"], _clip(_audience(e), 36), _when(e), e["category"], _test(e),
              " ".join(e["languages"]) or "-", _last(e),
              (e["next_run_at"] or "-")[:16].replace("T", " ")) for e in rows]
    head = ("name", "audience", "when", "category", "test", "languages", "last run", "next (UTC)")
    widths = [max(len(head[i]), *(len(row[i]) for row in table)) for i in range(len(head))]
    click.echo("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    for e in rows:
        taps = [f"[{b['title']}] -> {b['intent']}" + (" (by its title)" if b["source"] == "title" else
                                                        " (the segment's flow)" if b["source"] == "segment" else "")
                for b in e["buttons"]]
        if taps:
            click.echo(f"{e['name']} buttons: " + "; ".join(taps))


# ---------------------------------------------------------------- wabot campaigns

@click.group("campaigns")
def campaigns_group() -> None:
    """Campaigns from wabot.toml: preview, run, promote, stats."""


@campaigns_group.command("list")
@click.option("--now", type=NOW, default=None, help="Next scheduled times after this time (ISO 8601; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def campaigns_list(now: datetime | None, as_json: bool) -> None:
    """Every campaign in wabot.toml (and reorder prompts): audience, schedule, test, languages, last and next run."""
    runtime = _runtime()
    with db.reading(runtime.engine) as conn:
        rows = runtime.campaigns.overview(conn, now or utcnow())
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True, default=str))
    else:
        _show_list(rows)


@campaigns_group.command("preview")
@click.argument("name")
@click.option("--now", type=NOW, default=None, help="Plan at this time (ISO 8601; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def campaigns_preview(name: str, now: datetime | None, as_json: bool) -> None:
    """Who would get what now, who is skipped and why, what it would cost, and a sample of who gets which message."""
    runtime = _runtime()
    with db.reading(runtime.engine) as conn:
        data = runtime.campaigns.preview(conn, name, now or utcnow())
    _echo(data, as_json, _show_preview)


@campaigns_group.command("run")
@click.argument("name")
@click.option("--now", type=NOW, default=None, help="Run at this time (ISO 8601; default: now).")
@click.option("--dry-run", is_flag=True, help="Plan and report; record and send nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before spending money (a terminal is asked otherwise).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def campaigns_run(ctx: click.Context, name: str, now: datetime | None, dry_run: bool, yes: bool,
                  as_json: bool) -> None:
    """Plan the campaign, queue its messages and send them (waits for the outbox to drain).

    On a terminal it shows its progress and, when the estimate costs money, asks first (`--yes` does
    not ask); without one (a script, cron) it does not ask."""
    runtime = _runtime()
    at = now or utcnow()
    if not (dry_run or yes) and _stdin_is_terminal():
        # Planned once to ask, read-only (the run plans again: holding the planning lock while a
        # person reads would stall the scheduler's runs).
        with db.reading(runtime.engine) as conn:
            planned = runtime.campaigns.preview(conn, name, at)
        if _cost_of(planned) > 0 and not _confirm_cost(name, planned):
            click.echo("nothing sent", err=True)
            ctx.exit(1)
    watch = not dry_run and _stderr_is_terminal()
    queuing = _QueueProgress("queuing") if watch else None
    try:
        with runtime.engine.begin() as conn:
            data = runtime.campaigns.run(conn, name, at, dry_run=dry_run, progress=queuing)
    finally:
        if queuing is not None:
            queuing.close()
    if not dry_run:
        _drain_watched(runtime, now, data["run_id"], data["queued"])
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
        cost = d["total"].get("estimated_cost")
        if cost:
            click.echo(f"estimated cost of what was sent: {cost['total']:.4f} {cost['currency']} for "
                       f"{cost['charged']} charged message(s), {cost['free']} free (priced when each was sent)")
            _echo_free(cost)
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
    tagger = runtime.tagger()
    if tagger is not None:  # answers to the cash-on-delivery question, as tags in Shopify
        tagged = tagger.run_once()
        if any(tagged.values()):
            click.echo("shopify tags: " + ", ".join(f"{n} {what}" for what, n in tagged.items() if n))
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
