"""`wabot campaigns list`: every configured campaign, and the reorder prompts when they are on,
with what it sends to whom and when, its last run and its next scheduled time.

Read set-wise: one query for the last run of every campaign, one for what those runs queued and
sent, one for the promotions. Times are ISO 8601 strings in UTC.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.campaigns import template_health
from bot.campaigns.buttons import Button
from bot.campaigns.tables import campaign_runs, campaign_sends, campaign_state
from bot.core.config import CampaignVariant, ReorderConfig, Settings, TemplateRef, crontab_for_apscheduler
from bot.core.tables import outbox
from flows.replies import label

UTC = timezone.utc
REORDER = "reorder"
# As bot/pipeline/scheduler.py schedules them (tests/unit/test_campaigns_list.py holds the two
# together): entry-triggered campaigns are checked after each segment refresh, every 15 minutes;
# the reorder scan runs every hour; both counted from midnight UTC.
REFRESH_MINUTES = 15
REORDER_SCAN_MINUTES = 60


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def next_cron(expr: str, zone: str, now: datetime) -> datetime | None:
    """The first fire time of a cron schedule (store time) at or after `now`."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(crontab_for_apscheduler(expr), timezone=zone)
    found = trigger.get_next_fire_time(None, now)
    return found.astimezone(UTC) if found is not None else None


def next_interval(minutes: int, now: datetime) -> datetime:
    """The first multiple of `minutes` since midnight UTC at or after `now`."""
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=minutes)
    elapsed = now - start
    count = -(-elapsed // step)  # ceiling
    return start + count * step


def text_languages(variants: Sequence[CampaignVariant] | Sequence[ReorderConfig], store: Sequence[str]) -> list[str]:
    """The store languages the free-form texts are written in: the default's (`text`) and `texts`'."""
    covered = set()
    for variant in variants:
        if variant.text is not None:
            covered.add(store[0])
        covered.update(variant.texts)
    return [code for code in store if code in covered]


def template_languages(templates: Sequence[TemplateRef | None]) -> list[str]:
    """The language codes the templates are approved in (`language` and `languages`)."""
    codes: list[str] = []
    for template in templates:
        if template is not None:
            codes += [c for c in (template.language, *template.languages) if c not in codes]
    return codes


def template_codes(templates: Sequence[TemplateRef | None]) -> list[tuple[str, str]]:
    """(name, language code) of every template and language the templates may be sent in."""
    return [(t.name, code) for t in templates if t is not None for code in (t.language, *t.languages)]


def health_of(health: Sequence[dict], templates: Sequence[TemplateRef | None]) -> list[dict]:
    """What Meta reported of the templates a campaign sends (template_health.listed rows)."""
    wanted = set(template_codes(templates))
    return [{k: t[k] for k in ("name", "language", "status", "quality", "usable", "flagged", "reason")}
            for t in health if (t["name"], t["language"]) in wanted]


def last_runs(conn: Connection, names: Sequence[str]) -> dict[str, dict]:
    """name -> its last run (when, how, how many were queued, deferred, sent and failed) and the
    number of runs it has had."""
    if not names:
        return {}
    r, s, o = campaign_runs.c, campaign_sends.c, outbox.c
    latest = (sa.select(r.campaign, sa.func.max(r.id).label("id"), sa.func.count().label("runs"))
              .where(r.campaign.in_(list(names))).group_by(r.campaign).subquery("latest"))
    runs = conn.execute(sa.select(campaign_runs, latest.c.runs).join(latest, latest.c.id == r.id)).all()
    if not runs:
        return {}
    counts = {row.run_id: row for row in conn.execute(
        sa.select(s.run_id,
                  sa.func.sum(sa.case((s.status == "queued", 1), else_=0)).label("queued"),
                  sa.func.sum(sa.case((s.status == "deferred", 1), else_=0)).label("deferred"),
                  sa.func.sum(sa.case((o.sent_at.is_not(None), 1), else_=0)).label("sent"),
                  sa.func.sum(sa.case((o.state == "failed", 1), else_=0)).label("failed"))
        .select_from(campaign_sends.outerjoin(outbox, o.id == s.outbox_id))
        .where(s.run_id.in_([run.id for run in runs])).group_by(s.run_id))}
    found = {}
    for run in runs:
        count = counts.get(run.id)
        found[run.campaign] = {
            "run_id": run.id, "run_at": _iso(run.run_at), "trigger": run.trigger, "group": run.send_group,
            "runs": int(run.runs), "audience": run.audience, "eligible": run.eligible,
            **{key: int(getattr(count, key) or 0) if count is not None else 0
               for key in ("queued", "deferred", "sent", "failed")},
        }
    return found


def _template(template: TemplateRef | None) -> dict | None:
    if template is None:
        return None
    return {"name": template.name, "language": template.language, "languages": list(template.languages)}


def _variants(variants: Sequence[CampaignVariant] | Sequence[ReorderConfig]) -> list[dict]:
    return [{"variant": i, "text": v.text, "languages": sorted(v.texts), "template": _template(v.template)}
            for i, v in enumerate(variants)]


def promotions(conn: Connection, names: Sequence[str]) -> dict[str, dict]:
    st = campaign_state.c
    if not names:
        return {}
    return {row.campaign: {"variant": row.promoted_variant, "at": _iso(row.promoted_at)}
            for row in conn.execute(sa.select(st.campaign, st.promoted_variant, st.promoted_at)
                                    .where(st.campaign.in_(list(names)), st.promoted_variant.is_not(None)))}


def overview(settings: Settings, buttons: Mapping[str, tuple[Button, ...]], conn: Connection,
             now: datetime) -> list[dict]:
    """`[{"name", "kind", "segment", "rule", "schedule", "trigger", "category", "test_fraction",
    "variants", "languages", "template_languages", "buttons", "last_run", "next_run_at", ...}]`:
    the campaigns in wabot.toml's order, then the reorder prompts when they are on."""
    campaigns = settings.file.campaigns
    reorder = settings.file.reorder
    names = [*campaigns, *([REORDER] if reorder.enabled else [])]
    last = last_runs(conn, names)
    promoted = promotions(conn, list(campaigns))
    health = template_health.listed(conn)
    store = settings.store.languages
    found = []
    for name, config in campaigns.items():
        variants = config.message_variants
        if config.schedule:
            upcoming = next_cron(config.schedule, settings.store.timezone, now)
        elif config.trigger == "enter":
            upcoming = next_interval(REFRESH_MINUTES, now)
        else:
            upcoming = None  # run by hand
        found.append({
            "name": name, "kind": "campaign", "segment": config.segment, "rule": config.rule,
            "schedule": config.schedule, "trigger": config.trigger, "category": config.category,
            "test_fraction": config.test_fraction, "variants": _variants(variants),
            "promoted": promoted.get(name), "dedupe_days": config.dedupe_days,
            "languages": text_languages(variants, store),
            "template_languages": template_languages([v.template for v in variants]),
            "template_health": health_of(health, [v.template for v in variants]),
            "buttons": [b.as_dict() for b in buttons.get(name, ())],
            "last_run": last.get(name), "next_run_at": _iso(upcoming),
        })
    if reorder.enabled:
        watched = dict(reorder.days)
        found.append({
            "name": REORDER, "kind": "reorder", "segment": None, "rule": None, "schedule": None,
            "trigger": "due", "category": "marketing", "test_fraction": None, "variants": _variants([reorder]),
            "promoted": None, "dedupe_days": None,
            "watch": {"default_days": reorder.default_days, "days": watched,
                      "max_overdue_days": reorder.max_overdue_days},
            "languages": text_languages([reorder], store),
            "template_languages": template_languages([reorder.template]),
            "template_health": health_of(health, [reorder.template]),
            "buttons": [{"title": label(store[0], "reorder_button"), "intent": "reorder", "source": "named",
                         "id": "reorder:confirm:<order id>"}] if reorder.text is not None else [],
            "last_run": last.get(REORDER), "next_run_at": _iso(next_interval(REORDER_SCAN_MINUTES, now)),
        })
    return found
