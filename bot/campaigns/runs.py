"""Running campaigns and reorder prompts: load the audience, ask the planner, then record the run,
the per-recipient ledger and the outbox rows in the caller's one transaction.

Safe to re-run: anyone this campaign reached within `dedupe_days` (or who has a deferral pending)
is `already_sent`, the ledger is unique per (campaign, customer, cycle) and the outbox per dedupe
key, and planning runs are serialised (PostgreSQL advisory lock; SQLite's write lock), since they
share the frequency cap and the messaging tier.
Deferred decisions (quiet hours, the messaging tier) stay in the ledger until due, then are
planned again with the facts of that moment (`run_deferred`).
"""
from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.automations import offers as automation_offers
from bot.campaigns import listing, template_health
from bot.campaigns.audience import AudienceRow, AudienceSource, load, load_ids, nobody, tier_state
from bot.campaigns.buttons import Button, resolve_all
from bot.campaigns.planner import (
    TIER_WINDOW,
    CampaignPlan,
    Decision,
    MessageSpec,
    Offer,
    Plan,
    TierState,
    campaign_buttons,
    count_by_language,
    message_for,
    plan,
)
from bot.campaigns.pricing import RateCard, estimate
from bot.campaigns.reorder import DuePrompt, Purchase, ReorderRules, choose_prompts, product_key
from bot.campaigns.stats import campaign_stats, choose_winner
from bot.campaigns.tables import campaign_runs, campaign_sends, campaign_state
from bot.conversation import outbox
from bot.conversation.customers import display_name_sql
from bot.core.config import CampaignConfig, CampaignVariant, Settings, TemplateRef
from bot.core.db import insert_ignoring_conflicts, upsert
from bot.core.errors import ConfigError, UnknownCampaign, WabotError
from bot.core.tables import customers
from bot.whatsapp import messages
from flows.nlu import IntentRouter
from flows.replies import label
from segments.engine import SegmentEngine, selector_match
from segments.rules import parse_selector
from segments.tables import line_items, orders, products, segment_events

log = logging.getLogger(__name__)

REORDER = "reorder"
# Purchases older than this are not read for reorder prompts (nobody is due two years late).
PURCHASE_HORIZON = timedelta(days=730)
# An entry-triggered campaign seen for the first time sends to the entries of the last day.
FIRST_ENTRY_LOOKBACK = timedelta(days=1)
ONE_DAY = timedelta(days=1)
# pg_advisory_xact_lock key of proactive planning: the first 8 bytes of blake2b("wabot:proactive").
PLANNING_LOCK = int.from_bytes(hashlib.blake2b(b"wabot:proactive", digest_size=8).digest(), "big", signed=True)
# The ledger's `context` key for the customer's language a message was chosen for (not a value
# the message is filled with).
LANGUAGE_KEY = "language"
# A preview names this many of the customers who would get a message, with the message each would get.
SAMPLE_SIZE = 20
# Outbox rows are built and queued in chunks of this many when the caller follows the progress.
PROGRESS_CHUNK = 2000

Progress = Callable[[int, int], None]  # (messages queued so far, messages to queue)


class SegmentAudiences:
    """Campaign audiences from the segment engine (segments/engine.py)."""

    def __init__(self, segment_engine: SegmentEngine):
        self.engine = segment_engine

    def member_ids(self, conn: Connection, now: datetime, *, segment: str | None = None,
                   rule: str | None = None) -> sa.Select:
        return self.engine.member_ids(conn, now, segment=segment, rule=rule)


def check_audiences(settings: Settings, engine: SegmentEngine) -> None:
    """Every campaign's segment exists and its rule parses; raise ConfigError naming the campaign."""
    for name, config in settings.file.campaigns.items():
        try:
            if config.segment is not None:
                engine.definition(config.segment)
            else:
                engine.check_rule(config.rule or "")
        except (WabotError, ValueError) as exc:
            key = "segment" if config.segment is not None else "rule"
            raise ConfigError(f"[campaigns.{name}] {key}: {exc}") from None


def check_coupon_codes(settings: Settings) -> None:
    """A copy-code button filled from {discount_code} gets a code Meta takes: set, and at most 15
    characters (a static coupon_code is checked by the configuration itself); ConfigError names it."""
    sources = [(f"[campaigns.{name}] {'variants[%d].' % i if config.variants else ''}template",
                v.template, settings.discount_code(config))
               for name, config in settings.file.campaigns.items() for i, v in enumerate(config.message_variants)]
    checkout = settings.file.automations.abandoned_checkout
    if checkout is not None:
        sources += [(f"[automations.abandoned_checkout] templates[{i}]", t,
                     automation_offers.discount_code(settings, "abandoned_checkout"))
                    for i, t in enumerate(checkout.templates)]
    for where, template, code in sources:
        if template is None or template.coupon_code is None or "{discount_code}" not in template.coupon_code:
            continue
        filled = template.coupon_code.replace("{discount_code}", code)
        if not filled.strip() or len(filled) > messages.MAX_COUPON_CODE:
            raise ConfigError(f"{where}.coupon_code: fills to {filled!r}; a copy-code button needs 1 to "
                              f"{messages.MAX_COUPON_CODE} characters (set discount_code)")


def mentions(variants: Iterable[CampaignVariant], placeholder: str) -> bool:
    """Whether any text (in any language) or template parameter of the variants uses `placeholder`."""
    return any(placeholder in (v.text or "") + "".join(v.texts.values())
               + "".join(template_texts(v.template) if v.template else ()) for v in variants)


def template_texts(template: TemplateRef) -> tuple[str, ...]:
    """Every text of a template spec that placeholders may fill (body, header, buttons)."""
    header = (template.header.text or "",) if template.header is not None else ()
    return (*template.body, *header, *template.quick_replies, template.coupon_code or "", template.url_suffix or "")


def fill_context(stored: Mapping[str, object] | None) -> dict:
    """A ledger row's context as values to fill its message with: without the language it records."""
    return {k: v for k, v in (stored or {}).items() if k != LANGUAGE_KEY}


def ledger_context(fill_values: Mapping[str, object], language: str | None) -> dict | None:
    """What a ledger row keeps: the values the message is filled with and the customer's language."""
    context = dict(fill_values)
    if language is not None:
        context[LANGUAGE_KEY] = language
    return context or None


def graph_payload(spec: MessageSpec) -> dict:
    if spec.form == "template":
        return messages.template_message(spec.template_name or "", spec.template_language or "en_US",
                                         spec.template_params, spec.quick_replies, header=spec.template_header,
                                         coupon_code=spec.coupon_code, url_suffix=spec.url_suffix,
                                         button_order=spec.template_buttons)
    if spec.buttons:
        return messages.buttons_message(spec.text or "", spec.buttons)
    return messages.text_message(spec.text or "")


def lock(conn: Connection) -> None:
    """Serialise proactive planning across processes: campaigns, deferred sends and reorder
    prompts share the frequency cap and the messaging tier, so two runs must not count them at
    the same time. SQLite needs nothing more: a writing transaction holds the database's write
    lock from its BEGIN IMMEDIATE."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLANNING_LOCK})


@dataclass
class Batch:
    """One planned run, ready to be written."""

    name: str
    kind: str  # campaign | reorder
    campaign: CampaignPlan
    result: Plan
    rows: dict[int, AudienceRow]
    cycle: Callable[[Decision], str]
    buttons: Callable[[Decision], Sequence[tuple[str, str]]]
    context: Callable[[Decision], Mapping[str, object]]
    extra_values: Mapping[str, object]


class Campaigns:
    def __init__(self, settings: Settings, audiences: AudienceSource, router: IntentRouter | None = None):
        """`router` reads the titles of buttons that name no intent (bot/campaigns/buttons.py); the
        process's router, else one built from [intents] when a campaign first needs it."""
        self.settings = settings
        self.audiences = audiences
        self.rate_card = RateCard.from_config(settings.file.rates)
        self.reorder_rules = ReorderRules(settings.file.reorder)
        self.languages = settings.store.languages
        self._router = router
        self._buttons: dict[str, tuple[Button, ...]] | None = None

    # ------------------------------------------------------------ configuration

    def config(self, name: str) -> CampaignConfig:
        campaigns = self.settings.file.campaigns
        if name not in campaigns:
            known = ", ".join(sorted(campaigns)) or "none are configured"
            raise UnknownCampaign(f"no campaign named {name!r} in wabot.toml (campaigns: {known})")
        return campaigns[name]

    @property
    def buttons(self) -> dict[str, tuple[Button, ...]]:
        """Every campaign's reply buttons with the intent a tap leads to; ConfigError names a bad one."""
        if self._buttons is None:
            self._buttons = resolve_all(self.settings, lambda: self.router)
        return self._buttons

    @property
    def router(self) -> IntentRouter:
        if self._router is None:
            self._router = IntentRouter.from_config(self.settings.file.intents)
        return self._router

    def check_buttons(self) -> dict[str, tuple[Button, ...]]:
        """The start check of [campaigns.*] buttons: ConfigError names a button a tap cannot follow."""
        self._buttons = None
        return self.buttons

    def reply_buttons(self, name: str) -> tuple[tuple[str, str], ...]:
        """(reply id, title) of a campaign's buttons, as its free-form text carries them."""
        return campaign_buttons(name, [(b.title, b.intent) for b in self.buttons.get(name, ())])

    @staticmethod
    def state(conn: Connection, name: str):
        return conn.execute(sa.select(campaign_state).where(campaign_state.c.campaign == name)).first()

    def campaign_plan(self, conn: Connection, name: str, config: CampaignConfig) -> CampaignPlan:
        state = self.state(conn, name)
        promoted = state.promoted_variant if state is not None else None
        return CampaignPlan.from_config(name, config, promoted_variant=promoted)

    # ------------------------------------------------------------ audiences

    def _entry_filter(self, conn: Connection, name: str, config: CampaignConfig, now: datetime):
        e = segment_events.c
        state = self.state(conn, name)
        conditions = [e.segment == config.segment, e.change == "enter", e.at <= now]
        if state is None or state.entry_cursor is None:
            conditions.append(e.at > now - FIRST_ENTRY_LOOKBACK)
        else:
            conditions.append(e.id > state.entry_cursor)
        return conditions

    def members(self, conn: Connection, name: str, config: CampaignConfig, now: datetime) -> sa.Select:
        current = self.audiences.member_ids(conn, now, segment=config.segment, rule=config.rule)
        if config.trigger != "enter":
            return current
        # An entry-triggered campaign goes to who entered since it last looked and is still in.
        entered = sa.select(segment_events.c.customer_id).where(*self._entry_filter(conn, name, config, now))
        return sa.select(customers.c.id).where(customers.c.id.in_(entered), customers.c.id.in_(current))

    @staticmethod
    def reached(name: str, config: CampaignConfig, now: datetime, *, ever: bool = False) -> sa.Select:
        """Who this campaign reached within dedupe_days, or ever (a promotion never repeats the
        test group), plus everyone with a deferral still pending. A message Meta refused with 131049
        (its per-user marketing limit) counts as reached: never sent twice; the 24 h pause of other
        marketing templates is the planner's `recently_limited` (docs/campaigns.md)."""
        s = campaign_sends.c
        queued = s.status == "queued"
        if not ever:
            queued = sa.and_(queued, s.planned_at > now - timedelta(days=config.dedupe_days))
        return sa.select(s.customer_id).where(s.campaign == name, sa.or_(s.status == "deferred", queued))

    # ------------------------------------------------------------ planning

    def plan_batch(self, conn: Connection, name: str, now: datetime, *, promote: bool = False) -> Batch:
        """Read the audience and plan every decision; nothing is written."""
        config = self.config(name)
        campaign = self.campaign_plan(conn, name, config)
        rows = load(conn, self.members(conn, name, config, now), now,
                    reached=self.reached(name, config, now, ever=promote), languages=self.languages,
                    last_order=mentions(config.message_variants, "{last_order_name}"))
        tier = tier_state(conn, now, self.settings.policy.daily_unique_limit)
        result = plan([r.recipient for r in rows], campaign, self.settings.policy, now,
                      store_zone=self.settings.store.timezone, tier=tier,
                      unusable_templates=template_health.unusable(conn))
        buttons = self.reply_buttons(name)
        cycle = now.isoformat()
        return Batch(name, "campaign", campaign, result, {r.recipient.customer_id: r for r in rows},
                     cycle=lambda d: cycle, buttons=lambda d: buttons, context=lambda d: {},
                     extra_values={"discount_code": self.settings.discount_code(config)})

    def report(self, batch: Batch) -> dict:
        sends = batch.result.sends()
        deferred = [d for d in batch.result.decisions if d.action == "defer"]
        cost = estimate(sends, batch.campaign.category, self.rate_card)
        cost["deferred_total"] = estimate(deferred, batch.campaign.category, self.rate_card)["total"]
        return {"campaign": batch.name, "group": batch.campaign.group, **batch.result.summary,
                "by_language": count_by_language(sends, self.languages),
                "held_back": batch.result.held_back, "estimated_cost": cost}

    def preview(self, conn: Connection, name: str, now: datetime) -> dict:
        """The run's report, plus `sample`: the first SAMPLE_SIZE customers who would get a message
        (by customer id), each with the message they would get."""
        batch = self.plan_batch(conn, name, now)
        found = {**self.report(batch), "sample": self.sample(conn, batch)}
        # a template Meta paused or FLAGGED is named (docs/campaigns.md, "Template health")
        warned = template_health.warnings(template_health.listed(conn), listing.template_codes(
            [o.template for o in batch.campaign.offers]))
        if warned:
            found["warnings"] = warned
        return found

    def sample(self, conn: Connection, batch: Batch, size: int = SAMPLE_SIZE) -> list[dict]:
        """`{"wa_id", "name", "form", "language", "text" (and "buttons") | "template"}` for the first
        `size` sends of a planned batch: their messages filled as the run would fill them, their
        names read in one query for just those customers."""
        sends = batch.result.sends()[:size]
        c = customers.c
        names = {row[0]: row[1] for row in conn.execute(
            sa.select(c.id, display_name_sql()).where(c.id.in_([d.customer_id for d in sends])))} if sends else {}
        default = self.settings.store.default_language
        found = []
        for d in sends:
            spec = self._spec(batch, d)
            entry: dict = {"wa_id": d.wa_id, "name": names.get(d.customer_id), "form": spec.form,
                           "language": d.language or default}
            if spec.form == "template":
                entry["template"] = {"name": spec.template_name, "language": spec.template_language,
                                     "params": list(spec.template_params)}
                if spec.template_header is not None:
                    entry["template"]["header"] = {"type": spec.template_header[0], "value": spec.template_header[1]}
                entry["template"].update({k: v for k, v in (("coupon_code", spec.coupon_code),
                                                             ("url_suffix", spec.url_suffix)) if v is not None})
            else:
                entry["text"] = spec.text
                if spec.buttons:
                    entry["buttons"] = [title for _, title in spec.buttons]
            if batch.campaign.sample:
                entry["variant"] = d.variant
            found.append(entry)
        return found

    def _spec(self, batch: Batch, d: Decision) -> MessageSpec:
        """The message of one send, filled for its customer."""
        values = {**batch.rows[d.customer_id].values, **batch.extra_values, **batch.context(d)}
        return message_for(batch.campaign.offers[d.variant], d.form, values, self.settings.store.name,
                           batch.buttons(d), language=d.language,
                           default_language=self.settings.store.default_language,
                           unusable_templates=batch.result.unusable_templates)

    def overview(self, conn: Connection, now: datetime) -> list[dict]:
        """Every configured campaign (and reorder prompts, when on): audience, schedule or trigger,
        category, test, languages, buttons, last run and next scheduled time (bot/campaigns/listing.py)."""
        return listing.overview(self.settings, self.buttons, conn, now)

    # ------------------------------------------------------------ running

    def run(self, conn: Connection, name: str, now: datetime, *, trigger: str = "manual",
            dry_run: bool = False, promote: bool = False, progress: Progress | None = None) -> dict:
        """Plan the campaign at `now`; unless dry_run, record it and queue its messages
        (`progress`: told how many are queued as they are)."""
        lock(conn)
        config = self.config(name)
        batch = self.plan_batch(conn, name, now, promote=promote)
        report = self.report(batch)
        if dry_run:
            return report
        report.update(self.record(conn, batch, trigger, now, progress=progress))
        if config.trigger == "enter":
            self._advance_entry_cursor(conn, name, config, now)
        log.info("campaign %s (%s, %s): %d queued, %d deferred, %d skipped", name, trigger, batch.campaign.group,
                 report["queued"], report["deferred"], report["audience"] - report["eligible"] - report["deferred"])
        return report

    def _advance_entry_cursor(self, conn: Connection, name: str, config: CampaignConfig, now: datetime) -> None:
        last = conn.execute(sa.select(sa.func.max(segment_events.c.id))
                            .where(*self._entry_filter(conn, name, config, now))).scalar()
        if last is not None:
            self._set_state(conn, name, now, entry_cursor=last)

    @staticmethod
    def _set_state(conn: Connection, name: str, now: datetime, **values: object) -> None:
        upsert(conn, campaign_state, [{"campaign": name, "updated_at": now, **values}], ["campaign"],
               ["updated_at", *values])

    def run_triggered(self, conn: Connection, now: datetime) -> dict[str, dict]:
        """Every entry-triggered campaign, for the customers who entered its segment."""
        return {name: self.run(conn, name, now, trigger="enter")
                for name, config in self.settings.file.campaigns.items() if config.trigger == "enter"}

    def record(self, conn: Connection, batch: Batch, trigger: str, now: datetime, *,
               progress: Progress | None = None, keep_skips: bool = False) -> dict:
        """Write a planned batch: the run, its ledger rows and its outbox rows. With `keep_skips`
        a skip is kept in the ledger too (status skipped), so that its cycle is done: an
        automation's step is decided once (bot/automations/engine.py)."""
        summary = batch.result.summary
        run_id = conn.execute(sa.insert(campaign_runs).values(
            campaign=batch.name, kind=batch.kind, trigger=trigger, send_group=batch.campaign.group, run_at=now,
            created_at=now, audience=summary["audience"], eligible=summary["eligible"],
            freeform=summary["freeform"], template=summary["template"], held_back=batch.result.held_back,
            skipped=summary["skipped"], estimated_cost=self.report(batch)["estimated_cost"],
        ).returning(campaign_runs.c.id)).scalar_one()
        sends = batch.result.sends()
        queued = self._enqueue(conn, batch, sends, now, progress=progress)
        ledger = []
        for d in batch.result.decisions:
            if d.action == "skip" and not keep_skips:
                continue
            key = self._dedupe_key(batch, d)
            status = {"send": "queued", "defer": "deferred", "skip": "skipped"}[d.action]
            ledger.append({
                "campaign": batch.name, "kind": batch.kind, "run_id": run_id, "customer_id": d.customer_id,
                "recipient": d.wa_id, "cycle": batch.cycle(d), "send_group": d.group, "variant": d.variant,
                "category": batch.campaign.category, "status": status,
                "reason": d.reason, "form": d.form, "outbox_id": queued.get(key), "planned_at": now,
                "due_at": d.send_at if d.action == "defer" else None,
                "queued_at": now if d.action == "send" else None,
                "context": ledger_context(batch.context(d), d.language),
            })
        insert_ignoring_conflicts(conn, campaign_sends, ledger, ["campaign", "customer_id", "cycle"])
        return {"run_id": run_id, "queued": len(queued), "deferred": sum(1 for d in batch.result.decisions
                                                                        if d.action == "defer")}

    @staticmethod
    def _dedupe_key(batch: Batch, d: Decision) -> str:
        return f"{batch.kind}:{batch.name}:{d.customer_id}:{batch.cycle(d)}"

    def _enqueue(self, conn: Connection, batch: Batch, sends: Sequence[Decision], now: datetime, *,
                 progress: Progress | None = None) -> dict[str, int]:
        """Queue the sends' messages: one multi-row insert, or chunks of PROGRESS_CHUNK when
        someone follows the progress."""
        chunk = PROGRESS_CHUNK if progress is not None else max(len(sends), 1)
        queued: dict[str, int] = {}
        for start in range(0, len(sends), chunk):
            rows = []
            for d in sends[start:start + chunk]:
                spec = self._spec(batch, d)
                rows.append(outbox.outbox_row(
                    recipient=d.wa_id, customer_id=d.customer_id, message=graph_payload(spec), now=now,
                    kind=batch.kind, category=batch.campaign.category,
                    fallback=graph_payload(spec.fallback) if spec.fallback else None,
                    source=_source(batch),
                    dedupe_key=self._dedupe_key(batch, d)))
            queued.update(outbox.enqueue_many(conn, rows))
            if progress is not None:
                progress(min(start + chunk, len(sends)), len(sends))
        return queued

    # ------------------------------------------------------------ deferred sends

    def run_deferred(self, conn: Connection, now: datetime) -> dict[str, dict]:
        """Plan again every deferral that is due: it goes now, waits longer, or is skipped."""
        s = campaign_sends.c
        due = conn.execute(sa.select(campaign_sends).where(s.status == "deferred", s.due_at <= now)
                           .order_by(s.campaign, s.id)).all()
        by_campaign: dict[str, list] = defaultdict(list)
        for row in due:
            by_campaign[row.campaign].append(row)
        return {name: self._replan(conn, name, rows, now) for name, rows in by_campaign.items()}

    def _offers_for(self, name: str) -> tuple[str, tuple[Offer, ...], CampaignConfig | None] | None:
        automation = automation_offers.automation_of(name)
        if automation is not None:
            found = automation_offers.offers(self.settings, automation)
            return None if found is None else (automation_offers.category_of(automation), found, None)
        if name == REORDER:
            reorder = self.settings.file.reorder
            if not reorder.enabled:
                return None
            return "marketing", (Offer.of(reorder),), None
        config = self.settings.file.campaigns.get(name)
        if config is None:
            return None
        return config.category, tuple(Offer.of(v) for v in config.message_variants), config

    def _replan(self, conn: Connection, name: str, ledger_rows: list, now: datetime) -> dict:
        lock(conn)
        s = campaign_sends.c
        found = self._offers_for(name)
        if found is None:  # the campaign was removed from wabot.toml, or reorder prompts turned off
            conn.execute(sa.update(campaign_sends).where(s.id.in_([r.id for r in ledger_rows]))
                         .values(status="cancelled", reason="not_configured"))
            return {"cancelled": len(ledger_rows)}
        category, offers, config = found
        if name == REORDER:
            reached = (sa.select(s.customer_id)
                       .where(s.campaign == REORDER, s.status == "queued", s.queued_at > now - ONE_DAY))
        else:
            reached = sa.select(s.customer_id).where(
                s.campaign == name, s.status == "queued", s.planned_at > now - timedelta(days=config.dedupe_days))
        audience = {r.recipient.customer_id: r for r in load_ids(conn, [r.customer_id for r in ledger_rows], now,
                                                                   reached=reached, languages=self.languages,
                                                                   last_order=True)}
        tier = tier_state(conn, now, self.settings.policy.daily_unique_limit)
        unusable = template_health.unusable(conn)
        counts: dict[str, int] = defaultdict(int)
        updates = []
        for (group, variant), bucket in _buckets(ledger_rows).items():
            campaign = CampaignPlan(name, category, offers, group=group, offer_index=min(variant, len(offers) - 1))
            present = [r for r in bucket if r.customer_id in audience]
            result = plan([audience[r.customer_id].recipient for r in present], campaign, self.settings.policy,
                          now, store_zone=self.settings.store.timezone, tier=tier, unusable_templates=unusable)
            tier = _after(tier, result, now)
            by_customer = {r.customer_id: r for r in present}
            context = {r.customer_id: fill_context(r.context) for r in present}
            automation = automation_offers.automation_of(name)
            batch = Batch(name, _kind_of(name), campaign, result, audience,
                          cycle=lambda d: by_customer[d.customer_id].cycle,
                          buttons=lambda d: self._replan_buttons(name, context[d.customer_id], d.language),
                          context=lambda d: context[d.customer_id],
                          extra_values={"discount_code": self.settings.discount_code(config)} if config else
                          {"discount_code": automation_offers.discount_code(self.settings, automation)}
                          if automation else {})
            queued = self._enqueue(conn, batch, result.sends(), now)
            for d in result.decisions:
                row = by_customer[d.customer_id]
                # the language may have changed since the deferral: the ledger says the one used
                recorded = {"_context": ledger_context(context[d.customer_id], d.language)}
                if d.action == "send":
                    updates.append({"_id": row.id, "_status": "queued", "_reason": None, "_form": d.form,
                                    "_outbox": queued.get(self._dedupe_key(batch, d)), "_due": row.due_at,
                                    "_queued": now, **recorded})
                elif d.action == "defer":
                    updates.append({"_id": row.id, "_status": "deferred", "_reason": d.reason, "_form": d.form,
                                    "_outbox": None, "_due": d.send_at, "_queued": None, **recorded})
                else:
                    updates.append({"_id": row.id, "_status": "skipped", "_reason": d.reason, "_form": None,
                                    "_outbox": None, "_due": row.due_at, "_queued": None, **recorded})
                counts["queued" if d.action == "send" else d.reason or d.action] += 1
        missing = [r.id for r in ledger_rows if r.customer_id not in audience]  # the customer was deleted
        if missing:
            conn.execute(sa.update(campaign_sends).where(s.id.in_(missing)).values(status="cancelled", reason="gone"))
        if updates:
            conn.execute(sa.update(campaign_sends).where(s.id == sa.bindparam("_id")).values(
                status=sa.bindparam("_status"), reason=sa.bindparam("_reason"), form=sa.bindparam("_form"),
                outbox_id=sa.bindparam("_outbox"), due_at=sa.bindparam("_due"), queued_at=sa.bindparam("_queued"),
                context=sa.bindparam("_context", type_=campaign_sends.c.context.type)),
                updates)
        return dict(counts)

    def _replan_buttons(self, name: str, context: Mapping[str, object], language: str | None
                        ) -> Sequence[tuple[str, str]]:
        automation = automation_offers.automation_of(name)
        if automation is not None:
            return automation_offers.buttons(automation, context, language or self.settings.store.default_language)
        if name == REORDER:
            return self.reorder_button(_reorder_button_id(context), language)
        return self.reply_buttons(name)

    # ------------------------------------------------------------ promotion

    def promote(self, conn: Connection, name: str, now: datetime) -> dict:
        """Send the test's best variant (by reply rate) to the rest of the audience."""
        config = self.config(name)
        if config.test_fraction is None:
            raise WabotError(f"campaign {name!r} has no test group to promote: set test_fraction")
        lock(conn)
        state = self.state(conn, name)
        if state is not None and state.promoted_variant is not None:
            raise WabotError(f"campaign {name!r} was promoted already (variant {state.promoted_variant}, "
                             f"{state.promoted_at.isoformat()})")
        stats = campaign_stats(conn, name)
        tested = {g["variant"]: g for g in stats["groups"] if g["group"] == "test"}
        variants = [{"variant": i, "sent": tested.get(i, {}).get("sent", 0),
                     "replied": tested.get(i, {}).get("replied", 0)} for i in range(len(config.message_variants))]
        if not any(v["sent"] for v in variants):
            raise WabotError(f"campaign {name!r}: nothing to compare yet; its test group got no message "
                             f"(run `wabot campaigns run {name}` first)")
        winner = choose_winner(variants)
        promotion = {"variants": [{**v, "reply_rate": round(v["replied"] / v["sent"], 4) if v["sent"] else None}
                                  for v in variants], "winner": winner}
        self._set_state(conn, name, now, promoted_variant=winner["variant"], promoted_at=now, promotion=promotion)
        rest = self.run(conn, name, now, trigger="promote", promote=True)
        return {"campaign": name, **promotion, "rest": rest}

    # ------------------------------------------------------------ reorder prompts

    def purchases(self, conn: Connection, now: datetime) -> list[Purchase]:
        """Counted order lines of customers with a WhatsApp id, each with the days of the first
        `[reorder.days]` selector it matches (the segment engine's selector semantics)."""
        o, li, p, c = orders.c, line_items.c, products.c, customers.c
        watched = [(parse_selector(text), days) for text, days in self.settings.file.reorder.days.items()]
        days = (sa.case(*[(selector_match(line_items, sel.kind, sel.value), n) for sel, n in watched], else_=None)
                if watched else sa.null())
        query = (
            sa.select(o.customer_id, o.id, o.name, o.created_at, li.product_id, li.sku,
                      sa.func.coalesce(p.title, li.title).label("title"), days.label("days"))
            .select_from(orders.join(line_items, li.order_id == o.id).join(customers, c.id == o.customer_id)
                         .outerjoin(products, p.id == li.product_id))
            .where(o.counted, o.created_at <= now, o.created_at > now - PURCHASE_HORIZON, c.wa_id.is_not(None))
        )
        if self.settings.file.reorder.default_days is None:
            query = query.where(days.is_not(None))  # only the products the selectors name are watched
        return [Purchase(r.customer_id, r.id, r.name, r.created_at, product_key(r.product_id, r.sku, r.title),
                         r.title, r.days)
                for r in conn.execute(query)]

    def due_prompts(self, conn: Connection, now: datetime) -> tuple[list[DuePrompt], list[DuePrompt]]:
        """(every due prompt, the ones chosen to go: one a customer, not prompted this cycle or today)."""
        s = campaign_sends.c
        due = self.reorder_rules.due(self.purchases(conn, now), now)
        live = conn.execute(sa.select(s.customer_id, s.cycle, s.status, s.queued_at)
                            .where(s.campaign == REORDER, s.status.in_(("queued", "deferred")))).all()
        cycles = {(r.customer_id, r.cycle) for r in live}
        recent = {r.customer_id for r in live
                  if r.status == "deferred" or (r.queued_at is not None and r.queued_at > now - ONE_DAY)}
        return due, choose_prompts(due, now, prompted_cycles=cycles, prompted_recently=recent)

    def run_reorder(self, conn: Connection, now: datetime, *, trigger: str = "manual", dry_run: bool = False) -> dict:
        reorder = self.settings.file.reorder
        if not reorder.enabled:
            raise WabotError("reorder prompts are off: [reorder] needs default_days or [reorder.days], "
                             "and text or template")
        lock(conn)
        due, prompts = self.due_prompts(conn, now)
        by_customer = {p.customer_id: p for p in prompts}
        rows = {r.recipient.customer_id: r for r in load_ids(conn, by_customer, now, reached=nobody(),
                                                             languages=self.languages)}
        campaign = CampaignPlan(REORDER, "marketing", (Offer.of(reorder),))
        result = plan([rows[c].recipient for c in sorted(rows)], campaign, self.settings.policy, now,
                      store_zone=self.settings.store.timezone,
                      tier=tier_state(conn, now, self.settings.policy.daily_unique_limit),
                      unusable_templates=template_health.unusable(conn))
        batch = Batch(REORDER, REORDER, campaign, result, rows,
                      cycle=lambda d: by_customer[d.customer_id].cycle,
                      buttons=lambda d: self.reorder_button(by_customer[d.customer_id].button_id, d.language),
                      context=lambda d: by_customer[d.customer_id].values(), extra_values={})
        report = {"due": len(due), "prompts": len(prompts), **self.report(batch)}
        report.pop("campaign", None)
        report.pop("group", None)
        report.pop("held_back", None)
        if not dry_run:
            report.update(self.record(conn, batch, trigger, now))
        return report

    def reorder_button(self, button_id: str, language: str | None) -> tuple[tuple[str, str], ...]:
        """The prompt's Reorder button, titled in the language its text is written in (the
        customer's when [reorder] texts has it, else the default's), as the reorder flow titles it."""
        _, written = Offer.of(self.settings.file.reorder).text_in(language, self.settings.store.default_language)
        return ((button_id, label(written, "reorder_button")),)

    # ------------------------------------------------------------ stats

    def stats(self, conn: Connection, name: str) -> dict:
        if name != REORDER:
            self.config(name)
        result = campaign_stats(conn, name, self.rate_card)
        state = self.state(conn, name)
        if state is not None and state.promotion:
            result["promotion"] = {**state.promotion, "promoted_at": state.promoted_at.isoformat()}
        return result


def _kind_of(name: str) -> str:
    if name == REORDER:
        return REORDER
    return automation_offers.KIND if automation_offers.automation_of(name) else "campaign"


def _source(batch: Batch) -> str:
    """The outbox's `source` of a batch's messages: campaign:<name>, reorder, automation:<name>."""
    if batch.kind == "campaign":
        return f"campaign:{batch.name}"
    return batch.name if batch.kind == automation_offers.KIND else REORDER


def _buckets(rows: list) -> dict[tuple[str, int], list]:
    buckets: dict[tuple[str, int], list] = defaultdict(list)
    for row in rows:
        buckets[(row.send_group, row.variant)].append(row)
    return buckets


def _reorder_button_id(context: Mapping[str, object]) -> str:
    return f"reorder:confirm:{context.get('order_id', '')}"


def _after(tier: TierState, result: Plan, now: datetime) -> TierState:
    """The tier after a plan's template sends, for the next bucket of the same pass."""
    taken = sum(1 for d in result.sends() if d.form == "template")
    return TierState(tier.limit, tuple(sorted((*tier.releases, *([now + TIER_WINDOW] * taken)))))

