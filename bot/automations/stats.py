"""How the store automations did (docs/automations.md, "Measuring automations"): per automation and
step, planned, sent, delivered, read, replied (an inbound message within 24 h of delivery),
converted (a counted order by the customer within 7 days after the message was sent), the revenue
of those orders, failed, deferred, and their rates; and a total per automation.

Every automation message has a row in the campaign ledger (`campaign_sends`, kind "automation",
campaign "automation:<name>", variant = the step index) and, once handed over, one in the outbox;
the counts are the campaigns' own (bot/campaigns/stats.py), computed set-wise in SQL.

A converting order is counted once per step, and once in the automation's total, however many of
its messages preceded it; "converted" counts messages, as for campaigns.

The module reads no settings: the caller names the automations and their steps (`steps_of` reads
them from `[automations.*]`) and the store's currency.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.campaigns.pricing import RateCard, Tally
from bot.campaigns.stats import (
    CONVERSION_WINDOW,
    COUNTS,
    REPLY_WINDOW,
    _count,
    conversion_join_condition,
    outcome_counts,
    sent_cost,
    with_rates,
)
from bot.campaigns.tables import campaign_sends
from bot.core.tables import outbox
from segments.tables import orders

KIND = "automation"
PREFIX = "automation:"
# Besides the campaigns' counts: a deferral that may no longer go. "cancelled" also counts the
# steps the automation called off before they went (the customer ordered, wrote to us or opted out).
AUTOMATION_COUNTS = (*COUNTS, "skipped")
CENT = Decimal("0.01")
WINDOWS = {"replied_hours": int(REPLY_WINDOW.total_seconds() // 3600), "converted_days": CONVERSION_WINDOW.days}


@dataclass(frozen=True)
class Step:
    index: int  # the ledger's variant
    name: str  # "step 1", "question", "message"
    after_minutes: int | None = None  # when the step goes, for the abandoned checkout's and the reminder

    def describe(self) -> dict:
        return {"step": self.index, "name": self.name, "after_minutes": self.after_minutes}


def default_steps(name: str) -> list[Step]:
    """The steps of an automation whose configuration is not at hand."""
    if name == "abandoned_checkout":
        return [Step(0, "step 1"), Step(1, "step 2")]
    if name == "cod_confirmation":
        return [Step(0, "question"), Step(1, "reminder")]
    return [Step(0, "message")]


def steps_of(config) -> dict[str, list[Step]]:
    """{name: its steps} of each configured automation, from settings.file.automations."""
    found: dict[str, list[Step]] = {}
    for name in config.configured():
        automation = getattr(config, name)
        if name == "abandoned_checkout":
            found[name] = [Step(i, f"step {i + 1}", minutes) for i, minutes in enumerate(automation.after_minutes)]
        elif name == "cod_confirmation":
            reminder = getattr(automation, "reminder_after_minutes", None)
            found[name] = [Step(0, "question"), Step(1, "reminder", reminder or None)]
        else:
            found[name] = [Step(0, "message")]
    return found


def _money(amount) -> str:
    return str(Decimal(str(amount if amount is not None else 0)).quantize(CENT))


def _empty() -> dict:
    return {**{name: 0 for name in AUTOMATION_COUNTS}, "orders": 0, "revenue": _money(0), "failed_by_code": {}}


def _counts_query(campaigns: list[str]) -> sa.Select:
    s, o = campaign_sends.c, outbox.c
    counts = outcome_counts()
    counts["skipped"] = _count(s.status == "skipped")
    counts["cancelled"] = _count(sa.or_(s.status == "cancelled", o.state == "cancelled"))
    return (
        sa.select(s.campaign, s.variant, *(expr.label(name) for name, expr in counts.items()))
        .select_from(campaign_sends.outerjoin(outbox, o.id == s.outbox_id))
        .where(s.kind == KIND, s.campaign.in_(campaigns))
        .group_by(s.campaign, s.variant)
    )


def _converting_orders(campaigns: list[str], per_step: bool) -> sa.Select:
    """Sum and number of the distinct orders that followed a sent message: per (automation, step),
    or per automation."""
    s, o = campaign_sends.c, outbox.c
    keys = [s.campaign, s.variant] if per_step else [s.campaign]
    pairs = (
        sa.select(*keys, orders.c.id.label("order_id"), orders.c.total_price)
        .select_from(campaign_sends.join(outbox, o.id == s.outbox_id).join(orders, conversion_join_condition()))
        .where(s.kind == KIND, s.campaign.in_(campaigns), o.sent_at.is_not(None))
        .distinct()
        .subquery()
    )
    grouped = [pairs.c.campaign, pairs.c.variant] if per_step else [pairs.c.campaign]
    return (sa.select(*grouped, sa.func.count().label("orders"), sa.func.sum(pairs.c.total_price).label("revenue"))
            .group_by(*grouped))


def _failures_query(campaigns: list[str]) -> sa.Select:
    s, o = campaign_sends.c, outbox.c
    return (
        sa.select(s.campaign, s.variant, o.error_code, sa.func.count().label("n"))
        .select_from(campaign_sends.join(outbox, o.id == s.outbox_id))
        .where(s.kind == KIND, s.campaign.in_(campaigns), o.state == "failed")
        .group_by(s.campaign, s.variant, o.error_code)
    )


def automation_stats(conn: Connection, names: Sequence[str], steps: Mapping[str, Sequence[Step]] | None = None,
                     currency: str | None = None, card: RateCard | None = None) -> dict:
    """{"currency", "windows", "automations": [{"automation", "steps": [{"step", "name", "after_minutes",
    counts..., "orders", "revenue", "failed_by_code", "rates"}], "total"}]}, in the order of `names`.
    With a rate card, each step and total also carry "estimated_cost": what its sent messages cost,
    each priced by the rates in effect when it was sent (bot/campaigns/stats.py sent_cost).

    `steps`: each automation's steps (steps_of); an automation missing there has default_steps.
    A step the ledger holds but the configuration no longer names (fewer steps than before) is
    listed after the configured ones. Revenue is a string with two decimals, in `currency`."""
    names = list(dict.fromkeys(names))
    plan = {name: list((steps or {}).get(name) or default_steps(name)) for name in names}
    rows: dict[str, dict[int, dict]] = {name: {step.index: {**step.describe(), **_empty()} for step in plan[name]}
                                        for name in names}
    totals = {name: _empty() for name in names}
    campaigns = [PREFIX + name for name in names]

    def slot(campaign: str, variant: int) -> dict:
        step = rows[campaign[len(PREFIX):]]
        if variant not in step:  # a step no longer configured
            step[variant] = {**Step(variant, f"step {variant + 1}").describe(), **_empty()}
        return step[variant]

    if campaigns:
        for r in conn.execute(_counts_query(campaigns)):
            slot(r.campaign, r.variant).update({name: int(getattr(r, name) or 0) for name in AUTOMATION_COUNTS})
        for r in conn.execute(_converting_orders(campaigns, per_step=True)):
            slot(r.campaign, r.variant).update(orders=int(r.orders), revenue=_money(r.revenue))
        for r in conn.execute(_converting_orders(campaigns, per_step=False)):
            totals[r.campaign[len(PREFIX):]].update(orders=int(r.orders), revenue=_money(r.revenue))
        for r in conn.execute(_failures_query(campaigns)):
            code = str(r.error_code) if r.error_code is not None else "none"
            slot(r.campaign, r.variant)["failed_by_code"][code] = int(r.n)

    automations = []
    for name in names:
        listed = [with_rates(rows[name][index]) for index in sorted(rows[name])]
        total = totals[name]
        for step in listed:
            for count in AUTOMATION_COUNTS:
                total[count] += step[count]
            for code, n in step["failed_by_code"].items():
                total["failed_by_code"][code] = total["failed_by_code"].get(code, 0) + n
        total = with_rates(total)
        if card is not None:
            costs = sent_cost(conn, PREFIX + name, card, per_variant=True)
            nothing = Tally(card.currency).result()
            for step in listed:
                step["estimated_cost"] = costs.get(step["step"]) or nothing
            total["estimated_cost"] = costs.get(None) or nothing
        automations.append({"automation": name, "steps": listed, "total": total})
    return {"currency": currency, "automations": automations, "windows": dict(WINDOWS)}


def configured_stats(conn: Connection, config, currency: str | None = None, card: RateCard | None = None) -> dict:
    """automation_stats of every automation configured in `config` (settings.file.automations)."""
    return automation_stats(conn, config.configured(), steps_of(config), currency, card)
