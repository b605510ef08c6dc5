"""`wabot automations stats`: how the store automations did, per automation and step."""
from __future__ import annotations

import json

import click

from bot.cli.context import current
from bot.core import db

TITLES = {"abandoned_checkout": "abandoned checkout", "order_confirmed": "order confirmed",
          "order_shipped": "order shipped", "order_delivered": "order delivered",
          "cod_confirmation": "cash on delivery"}
NONE_CONFIGURED = "no automations configured in wabot.toml (see docs/automations.md, [automations.*])"


@click.group("automations")
def automations_group() -> None:
    """Store automations from wabot.toml ([automations.*]): their results."""


def after(minutes: int | None) -> str:
    """30 -> "30 min", 1440 -> "1 d", 120 -> "2 h"."""
    if not minutes:
        return ""
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def step_label(step: dict) -> str:
    when = after(step.get("after_minutes"))
    return f"{step['name']} (after {when})" if when else step["name"]


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _cost(cost: dict | None) -> str:
    """What a step's sent messages cost (priced when each was sent), and how many went free."""
    if not cost:
        return "-"
    return f"{cost['total']:.4f}" + (f" ({cost['free']} free)" if cost["free"] else "")


def show(data: dict) -> None:
    currency = data.get("currency") or ""
    head = ("automation", "step", "planned", "sent", "delivered", "read", "replied", "converted",
            f"revenue {currency}".rstrip(), "failed", "deferred", "reply rate", f"cost {currency}".rstrip())
    table = []
    for entry in data["automations"]:
        title = TITLES.get(entry["automation"], entry["automation"])
        rows = [(step_label(step), step) for step in entry["steps"]]
        if len(entry["steps"]) > 1:
            rows.append(("total", entry["total"]))
        for n, (label, counts) in enumerate(rows):
            table.append((title if n == 0 else "", label, *(str(counts[k]) for k in (
                "planned", "sent", "delivered", "read", "replied", "converted")), counts["revenue"],
                str(counts["failed"]), str(counts["deferred"]), _rate(counts["rates"]["replied"]),
                _cost(counts.get("estimated_cost"))))
    widths = [max(len(head[i]), *(len(row[i]) for row in table)) for i in range(len(head))]
    left = 2  # automation and step read left-aligned, the numbers right-aligned

    def line(cells) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    click.echo(line(head))
    for row in table:
        click.echo(line(row))
    windows = data.get("windows") or {}
    click.echo(f"replied: a message within {windows.get('replied_hours', 24)} h of delivery; converted: an order "
               f"within {windows.get('converted_days', 7)} days of the message (revenue counts each order once per step)")
    failed = {}
    for entry in data["automations"]:
        for code, n in entry["total"]["failed_by_code"].items():
            failed[code] = failed.get(code, 0) + n
    if failed:
        click.echo("failed by code: " + ", ".join(f"{code}: {n}" for code, n in sorted(failed.items())))


@automations_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def automations_stats(as_json: bool) -> None:
    """Per automation and step: sent, delivered, read, replied, converted (an order within 7 days)
    and the revenue of those orders."""
    from bot.automations.stats import WINDOWS, configured_stats
    from bot.campaigns.pricing import RateCard

    context = current()
    settings = context.settings
    config = settings.file.automations
    if not config.configured():
        if not as_json:
            click.echo(NONE_CONFIGURED)
            return
        data = {"currency": settings.store.currency, "automations": [], "windows": WINDOWS}
    else:
        with db.reading(context.runtime().engine) as conn:
            data = configured_stats(conn, config, settings.store.currency, RateCard.from_config(settings.file.rates))
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        show(data)


COMMANDS = (automations_group,)
