"""`wabot shopify sync [--since T]`: the shop's products, customers, orders and abandoned checkouts
through the Admin API (bot/shopify/, docs/shopify.md); a progress display on a terminal, one
summary line."""
from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

import click

from bot.cli.context import current
from bot.core.errors import WabotError
from bot.shopify.admin import AdminClient
from bot.shopify.config import admin_config
from bot.shopify.sync import Progress, SyncReport, check_access, sync
from segments.timeparse import SINCE


class _Terminal:
    """What the sync is doing, on one line: Shopify's export count while it writes the file, a bar
    while it downloads, a count while it reads pages."""

    def __init__(self, out: TextIO):
        self._out = out
        self._bar = None
        self._phase: tuple[str, str] | None = None
        self._position = 0

    def __call__(self, event: Progress) -> None:
        phase = (event.kind, event.phase)
        if phase != self._phase:
            self.close()
            self._phase = phase
        if event.phase == "downloading" and event.total:
            if self._bar is None:
                self._bar = click.progressbar(length=event.total, label=f"Downloading {event.kind}",
                                              file=self._out, show_pos=False)
                self._bar.__enter__()
                self._position = 0
            step = min(event.done, event.total) - self._position
            if step > 0:
                self._bar.update(step)
                self._position += step
            return
        if event.phase == "exporting":
            text = f"Shopify is exporting {event.kind}: {event.done:,} objects"
        else:
            text = f"Reading {event.kind}: {event.done:,}"
        self._out.write(f"\r{text}")
        self._out.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        elif self._phase is not None:
            self._out.write("\n")
        self._phase = None


def summary(report: SyncReport, waited: float) -> str:
    counts = ", ".join(f"{report.kinds[k].imported:,} {k}" for k in ("orders", "customers", "products", "checkouts")
                       if k in report.kinds)
    notes = []
    stale = sum(r.stale for r in report.kinds.values())
    if stale:
        notes.append(f"{stale:,} older than the stored copy, ignored")
    created = sum(r.customers_created for r in report.kinds.values())
    if created:
        notes.append(f"{created:,} new customer{'s' if created != 1 else ''}")
    orphans = report.kinds["orders"].without_customer if "orders" in report.kinds else 0
    if orphans:
        notes.append(f"{orphans:,} orders without a usable phone number (kept, joined to no WhatsApp customer)")
    if report.refetched:
        notes.append(f"{report.refetched:,} read again by id")
    if report.bad:
        notes.append(f"{report.bad:,} bad")
    if waited >= 0.05:
        notes.append(f"waited {waited:.1f} s for Shopify's rate limits")
    how = "bulk export" if report.mode == "bulk" else "changes"
    extra = f" ({'; '.join(notes)})" if notes else ""
    return f"synced {counts} from {report.shop} ({how}) in {report.seconds:.1f} s{extra}"


@click.group("shopify")
def shopify_group() -> None:
    """The shop itself, through Shopify's Admin API (WABOT_SHOPIFY_SHOP, WABOT_SHOPIFY_TOKEN)."""


@shopify_group.command("sync")
@click.option("--since", type=SINCE, default=None,
              help="Only what changed at or after this time (ISO 8601), through paginated queries;"
                   " default: the whole history through bulk exports.")
def shopify_sync(since: datetime | None) -> None:
    """Pull the shop's products, customers, orders and abandoned checkouts. Idempotent: syncing
    again, or receiving the same orders by webhook or file import, changes nothing."""
    context = current()
    settings = context.settings
    client = AdminClient(admin_config(fallback_shop=settings.store.shop_domain))
    terminal = _Terminal(sys.stdout) if sys.stdout.isatty() else None

    def bad(kind: str, where: str, reason: str) -> None:
        if terminal:
            terminal.close()
        click.echo(f"shopify {kind}: {where}: {reason}", err=True)

    try:
        check_access(client)  # before the database is touched: a wrong token writes nothing
        engine = context.runtime().engine
        report = sync(client, engine, region=settings.store.default_region, since=since, progress=terminal,
                      on_bad=bad)
    finally:
        if terminal:
            terminal.close()
        client.close()
    click.echo(summary(report, client.stats.budget_waited + client.stats.retry_waited))
    if report.bad:
        imported = sum(r.imported for r in report.kinds.values())
        raise WabotError(f"{report.bad} bad record{'s' if report.bad != 1 else ''} from Shopify (listed above);"
                         f" the other {imported} were imported")


COMMANDS = (shopify_group,)
