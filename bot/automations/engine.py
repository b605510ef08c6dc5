"""The store automations: abandoned checkouts, order updates and cash-on-delivery confirmation
(docs/automations.md, contract section 9).

Each automation plans its messages with the one campaign planner (consent for marketing,
opt-out, handoff, caps, quiet hours, the window's free-form/template choice) and writes them
through the campaign ledger and the one outbox, under the name `automation:<name>` with the
step as the ledger's variant. "Once" is the ledger's: its (campaign, customer, cycle) is unique
and every automation's cycle names what it is once per (a checkout's step, an order, a
fulfillment), and the outbox's dedupe key repeats it, so a redelivered webhook or two racing
processes never queue a message twice.

Order updates and the cash-on-delivery question are planned when their webhook is processed
(bot/web/shopify.py), in its transaction. Abandoned-checkout steps and reminders are planned by
`run_due`, from the scheduler and from `wabot tick`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.automations import offers as automation_offers
from bot.automations.checkouts import OpenCheckout, due_step, scan_window
from bot.automations.tables import cod_confirmations
from bot.campaigns import template_health
from bot.campaigns.audience import load_ids, nobody, tier_state
from bot.campaigns.planner import CampaignPlan, Plan, plan
from bot.campaigns.runs import Batch, Campaigns, lock
from bot.campaigns.tables import campaign_sends
from bot.core.config import Settings
from bot.core.db import chunks, dialect_insert
from bot.core.tables import customers
from segments.shopify import FulfillmentRecord, OrderRecord
from segments.tables import checkouts, fulfillments, orders

log = logging.getLogger(__name__)

# An order update for an order older than this is not sent: a webhook replayed after days, or
# an order that came in by sync, is news to nobody.
ORDER_UPDATE_MAX_AGE = timedelta(days=3)
QUESTION, REMINDER = 0, 1


@dataclass(frozen=True, slots=True)
class Target:
    """One message an automation wants to send: to whom, once per what, filled with what."""

    customer_id: int
    cycle: str
    values: Mapping[str, object]


def is_cash_on_delivery(gateways: Iterable[str], names: Sequence[str]) -> bool:
    """A payment gateway named like cash on delivery: "Cash on Delivery (COD)", "cod"."""
    wanted = [n.casefold() for n in names]
    for gateway in gateways:
        words = gateway.casefold().replace("(", " ").replace(")", " ")
        if any(n in words.split() if " " not in n else n in words for n in wanted):
            return True
    return False


def money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return ""
    return f"{amount:,.2f} {currency}".strip() if currency else f"{amount:,.2f}"


class Automations:
    def __init__(self, settings: Settings, campaigns: Campaigns):
        self.settings = settings
        self.campaigns = campaigns
        self.config = settings.file.automations

    @property
    def configured(self) -> list[str]:
        return self.config.configured()

    # ------------------------------------------------------------ planning and writing

    def _send(self, conn: Connection, name: str, step: int, targets: Sequence[Target], now: datetime, *,
              trigger: str, defer: bool = True) -> dict:
        """Plan and queue `targets` as step `step` of automation `name`. A target whose cycle has a
        ledger row already is left out (once). With `defer` False a deferral (quiet hours, the
        tier) is not recorded: the caller plans it again at its next pass."""
        found = automation_offers.offers(self.settings, name)
        if found is None or not targets:
            return {"queued": 0}
        ledger = automation_offers.ledger_name(name)
        lock(conn)
        s = campaign_sends.c
        seen: set[tuple[int, str]] = set()
        for chunk in chunks(sorted({t.cycle for t in targets}), 1000):
            seen.update((r.customer_id, r.cycle) for r in conn.execute(
                sa.select(s.customer_id, s.cycle).where(s.campaign == ledger, s.cycle.in_(chunk))))
        by_customer: dict[int, Target] = {}
        for target in targets:  # one message a customer a pass; the rest wait for the next
            if (target.customer_id, target.cycle) not in seen:
                by_customer.setdefault(target.customer_id, target)
        if not by_customer:
            return {"queued": 0, "already_sent": len(targets)}
        rows = {r.recipient.customer_id: r for r in load_ids(conn, by_customer, now, reached=nobody(),
                                                             languages=self.campaigns.languages)}
        campaign = CampaignPlan(ledger, automation_offers.category_of(name), found,
                                offer_index=min(step, len(found) - 1), group="all")
        tier = tier_state(conn, now, self.settings.policy.daily_unique_limit)
        result = plan([rows[c].recipient for c in sorted(rows)], campaign, self.settings.policy, now,
                      store_zone=self.settings.store.timezone, tier=tier,
                      unusable_templates=template_health.unusable(conn))
        if not defer:
            kept = [d for d in result.decisions if d.action != "defer"]
            result = Plan(kept, result.held_back, result.summary, result.unusable_templates)
        context = {cid: {k: v for k, v in by_customer[cid].values.items()} for cid in rows}
        default = self.settings.store.default_language
        batch = Batch(ledger, automation_offers.KIND, campaign, result, rows,
                      cycle=lambda d: by_customer[d.customer_id].cycle,
                      buttons=lambda d: automation_offers.buttons(name, context[d.customer_id], d.language or default),
                      context=lambda d: context[d.customer_id],
                      extra_values={"discount_code": automation_offers.discount_code(self.settings, name)})
        report = self.campaigns.record(conn, batch, trigger, now, keep_skips=True)
        decided = {d.customer_id: d.action for d in result.decisions}
        report["decisions"] = decided
        report["skipped"] = dict(result.summary.get("skipped", {}))
        if report["queued"] or report["deferred"]:
            log.info("automation %s step %d: %d queued, %d deferred", name, step, report["queued"], report["deferred"])
        return report

    # ------------------------------------------------------------ order updates (webhooks)

    def on_order_created(self, conn: Connection, record: OrderRecord, now: datetime) -> dict:
        """orders/create: the cash-on-delivery question for a pending COD order, else the order
        confirmation."""
        row = conn.execute(sa.select(orders.c.customer_id, orders.c.financial_status, orders.c.cancelled_at)
                           .where(orders.c.id == record.id)).first()
        if row is None or row.customer_id is None or row.cancelled_at is not None:
            return {}
        if now - record.created_at > ORDER_UPDATE_MAX_AGE:
            return {"too_old": 1}
        values = self._order_values(record)
        cod = self.config.cod_confirmation
        if (cod is not None and (record.financial_status or "").lower() == "pending"
                and is_cash_on_delivery(record.payment_gateways, cod.gateways)):
            return {"cod_confirmation": self._ask_cod(conn, record, row.customer_id, values, now)}
        if self.config.order_confirmed is None:
            return {}
        return {"order_confirmed": self._send(conn, "order_confirmed", 0,
                                              [Target(row.customer_id, f"order:{record.id}", values)], now,
                                              trigger="webhook")}

    def on_fulfillments(self, conn: Connection, records: Sequence[FulfillmentRecord], now: datetime) -> dict:
        """fulfillments/create|update: shipped once per fulfillment with tracking; delivered once
        per fulfillment whose shipment status says so."""
        report: dict = {}
        shipped, delivered = [], []
        for record in records:
            if (record.status or "").lower() in ("cancelled", "error", "failure"):
                continue
            if record.has_tracking:
                shipped.append(record)
            if (record.shipment_status or "").lower() == "delivered":
                delivered.append(record.id)
        if shipped and self.config.order_shipped is not None:
            report["order_shipped"] = self._send(conn, "order_shipped", 0, self._fulfillment_targets(
                conn, [r.id for r in shipped], now), now, trigger="webhook")
        if delivered:
            report.update(self.on_delivered(conn, delivered, now))
        return report

    def on_delivered(self, conn: Connection, fulfillment_ids: Sequence[int], now: datetime) -> dict:
        """A fulfillment delivered (fulfillment_events/create, or its shipment status)."""
        if self.config.order_delivered is None or not fulfillment_ids:
            return {}
        return {"order_delivered": self._send(conn, "order_delivered", 0,
                                              self._fulfillment_targets(conn, fulfillment_ids, now), now,
                                              trigger="webhook")}

    def _fulfillment_targets(self, conn: Connection, fulfillment_ids: Sequence[int], now: datetime) -> list[Target]:
        f, o = fulfillments.c, orders.c
        query = (sa.select(f.id, f.tracking_company, f.tracking_number, f.tracking_url, o.id.label("order_id"),
                           o.name, o.customer_id, o.total_price, o.currency, o.created_at, o.cancelled_at)
                 .select_from(fulfillments.join(orders, o.id == f.order_id))
                 .where(f.id.in_(list(fulfillment_ids)), o.customer_id.is_not(None)))
        targets = []
        for r in conn.execute(query):
            if r.cancelled_at is not None or now - r.created_at > ORDER_UPDATE_MAX_AGE + timedelta(days=60):
                continue  # shipping can take weeks; an order of last year is not news
            values = {"order_id": r.order_id, "order_name": r.name or "", "order_total": money(r.total_price, r.currency),
                      "tracking_url": r.tracking_url or "", "tracking_number": r.tracking_number or "",
                      "carrier": r.tracking_company or ""}
            targets.append(Target(r.customer_id, f"fulfillment:{r.id}", values))
        return targets

    @staticmethod
    def _order_values(record: OrderRecord) -> dict:
        return {"order_id": record.id, "order_name": record.name or "",
                "order_total": money(record.total_price, record.currency),
                "tracking_url": record.tracking_url or "", "tracking_number": record.tracking_number or "",
                "carrier": record.tracking_company or ""}

    # ------------------------------------------------------------ cash on delivery

    def _ask_cod(self, conn: Connection, record: OrderRecord, customer_id: int, values: dict, now: datetime) -> dict:
        inserted = conn.execute(dialect_insert(conn, cod_confirmations).values(
            order_id=record.id, customer_id=customer_id, order_name=record.name, state="awaiting", asked_at=now)
            .on_conflict_do_nothing(index_elements=["order_id"]).returning(cod_confirmations.c.order_id)).first()
        if inserted is None:
            return {"queued": 0, "already_asked": 1}
        return self._send(conn, "cod_confirmation", QUESTION, [Target(customer_id, f"order:{record.id}:question", values)],
                          now, trigger="webhook")

    def remind_cod(self, conn: Connection, now: datetime) -> dict:
        """One reminder for a question unanswered `reminder_after_minutes` after it was queued."""
        cod = self.config.cod_confirmation
        if cod is None or not cod.reminder_after_minutes:
            return {}
        c, s, o = cod_confirmations.c, campaign_sends.c, orders.c
        question = automation_offers.ledger_name("cod_confirmation")
        rows = conn.execute(
            sa.select(c.order_id, c.customer_id, s.context)
            .select_from(cod_confirmations
                         .join(campaign_sends, sa.and_(s.campaign == question, s.customer_id == c.customer_id,
                                                       s.cycle == sa.literal("order:") + sa.cast(c.order_id, sa.String)
                                                       + sa.literal(":question")))
                         .join(orders, o.id == c.order_id))
            .where(c.state == "awaiting", c.reminded_at.is_(None), s.status == "queued", o.cancelled_at.is_(None),
                   s.queued_at <= now - timedelta(minutes=cod.reminder_after_minutes))
        ).all()
        if not rows:
            return {}
        targets = [Target(r.customer_id, f"order:{r.order_id}:reminder",
                          {k: v for k, v in (r.context or {}).items() if k != "language"}) for r in rows]
        report = self._send(conn, "cod_confirmation", REMINDER, targets, now, trigger="schedule", defer=False)
        done = [r.order_id for r in rows if report.get("decisions", {}).get(r.customer_id) in ("send", "skip")]
        for chunk in chunks(done, 1000):
            conn.execute(sa.update(cod_confirmations).where(c.order_id.in_(chunk)).values(reminded_at=now))
        return report

    # ------------------------------------------------------------ abandoned checkouts

    def stop_checkouts(self, conn: Connection, now: datetime) -> dict[str, int]:
        """Stop for good the sequences of open checkouts whose customer ordered, wrote to us or
        opted out since the checkout began; and the older of two open checkouts of one customer."""
        k, o, c = checkouts.c, orders.c, customers.c
        open_ = sa.and_(k.completed_at.is_(None), k.stopped_reason.is_(None), k.customer_id.is_not(None))
        ordered = sa.exists().where(sa.or_(o.checkout_token == k.token,
                                           sa.and_(k.shopify_id.is_not(None), o.checkout_id == k.shopify_id),
                                           sa.and_(o.customer_id == k.customer_id, o.created_at >= k.created_at)))
        replied = sa.exists().where(c.id == k.customer_id, c.last_inbound_at > k.created_at)
        opted_out = sa.exists().where(c.id == k.customer_id, c.opted_out.is_(True))
        counts: dict[str, int] = {}
        for reason, condition in (("ordered", ordered), ("opted_out", opted_out), ("replied", replied)):
            counts[reason] = conn.execute(sa.update(checkouts).where(open_, condition)
                                          .values(stopped_reason=reason, stopped_at=now)).rowcount
        newer_ = checkouts.alias("newer")
        newer = sa.exists().where(newer_.c.customer_id == k.customer_id, newer_.c.token != k.token,
                                  newer_.c.completed_at.is_(None), newer_.c.stopped_reason.is_(None),
                                  newer_.c.created_at > k.created_at)
        counts["superseded"] = conn.execute(sa.update(checkouts).where(open_, newer)
                                            .values(stopped_reason="superseded", stopped_at=now)).rowcount
        return {reason: n for reason, n in counts.items() if n}

    def run_checkouts(self, conn: Connection, now: datetime) -> dict:
        config = self.config.abandoned_checkout
        if config is None:
            return {}
        stopped = self.stop_checkouts(conn, now)
        oldest, newest = scan_window(config.after_minutes, now)
        k = checkouts.c
        candidates = conn.execute(
            sa.select(k.token, k.customer_id, k.source_updated_at, k.abandoned_checkout_url, k["items"])
            .where(k.completed_at.is_(None), k.stopped_reason.is_(None), k.customer_id.is_not(None),
                   k.source_updated_at >= oldest, k.source_updated_at <= newest)
            .order_by(k.source_updated_at)).all()
        done = self._steps_done(conn, [r.token for r in candidates])
        by_step: dict[int, list[Target]] = {}
        for r in candidates:
            step = due_step(OpenCheckout(r.token, r.customer_id, r.source_updated_at, done.get(r.token, 0)),
                            config.after_minutes, now)
            if step is not None:
                by_step.setdefault(step, []).append(Target(r.customer_id, f"checkout:{r.token}:{step}", {
                    "checkout_url": r.abandoned_checkout_url or "", "checkout_items": r._mapping["items"] or "",
                    "checkout_token": r.token, "step": step}))
        report: dict = {"stopped": stopped} if stopped else {}
        for step, targets in sorted(by_step.items()):
            report[f"step_{step + 1}"] = {key: value for key, value in self._send(
                conn, "abandoned_checkout", step, targets, now, trigger="schedule", defer=False).items()
                if key != "decisions"}
        return report

    @staticmethod
    def _steps_done(conn: Connection, tokens: Sequence[str]) -> dict[str, int]:
        s = campaign_sends.c
        done: dict[str, int] = {}
        ledger = automation_offers.ledger_name("abandoned_checkout")
        for chunk in chunks(sorted(set(tokens)), 1000):
            for cycle in conn.execute(sa.select(s.cycle).where(
                    s.campaign == ledger, s.cycle.in_([f"checkout:{t}:{n}" for t in chunk for n in range(3)]))).scalars():
                token, _, step = cycle[len("checkout:"):].rpartition(":")
                done[token] = max(done.get(token, 0), int(step) + 1)
        return done

    # ------------------------------------------------------------ the scheduler's pass

    def run_due(self, conn: Connection, now: datetime) -> dict:
        """Everything an automation owes at `now`: abandoned-checkout steps and COD reminders."""
        report: dict = {}
        if self.config.abandoned_checkout is not None:
            report["abandoned_checkout"] = self.run_checkouts(conn, now)
        if self.config.cod_confirmation is not None:
            report["cod_reminders"] = {key: value for key, value in self.remind_cod(conn, now).items()
                                       if key != "decisions"}
        return report
