"""Template health: what Meta says of each message template, and whether it may be sent.

Meta reports a template's review status (`message_template_status_update`: APPROVED, PAUSED,
DISABLED, REJECTED, FLAGGED, REINSTATED, ...) and its quality score (`message_template_quality_update`:
GREEN, YELLOW, RED, UNKNOWN) through the account webhooks. The worker records them here
(`record`); planning and the sender read `unusable()`: a campaign, reorder prompt or automation
never sends an unusable template (docs/campaigns.md, "Template health"). Keyed by (name,
language code), as a send names a template. Each kind of event keeps its own time, so an older
event delivered late does not undo a newer one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.campaigns.tables import template_health
from bot.core.db import insert_ignoring_conflicts
from bot.whatsapp.events import AccountChange

log = logging.getLogger(__name__)

STATUS_FIELD = "message_template_status_update"
QUALITY_FIELD = "message_template_quality_update"
# Statuses under which Meta refuses the template (132015 paused, 132016 disabled, ...).
UNUSABLE_STATUSES = frozenset({"PAUSED", "DISABLED", "REJECTED", "DELETED", "PENDING_DELETION", "ARCHIVED"})
# Statuses that put a template back in use after a pause or a RED score.
APPROVING_STATUSES = frozenset({"APPROVED", "REINSTATED"})
WARNING_STATUSES = frozenset({"FLAGGED"})  # at risk of a pause, still sendable: shown, not acted on
UNUSABLE_QUALITY = "RED"
MAX_LANGUAGE = 16  # the column's size; Meta's codes are like en_US
MAX_NAME = 512


@dataclass(frozen=True)
class HealthEvent:
    name: str
    language: str
    template_id: int | None
    status: str | None  # a status update's event
    quality: str | None  # a quality update's new score
    reason: str | None
    at: datetime


def read_change(change: AccountChange, received_at: datetime) -> HealthEvent | None:
    """The template event in an account change, or None when it is none (or names no template)."""
    if change.field_name not in (STATUS_FIELD, QUALITY_FIELD):
        return None
    value = change.raw.get("value") if isinstance(change.raw.get("value"), dict) else {}
    name, language = _text(value.get("message_template_name")), _text(value.get("message_template_language"))
    if not name or not language or len(name) > MAX_NAME or len(language) > MAX_LANGUAGE:
        return None
    raw_id = value.get("message_template_id")
    template_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) and 0 < raw_id < 2**63 else None
    if change.field_name == STATUS_FIELD:
        status = (_text(value.get("event")) or "").upper() or None
        if status is None:
            return None
        return HealthEvent(name, language, template_id, status, None, _reason(value), change.timestamp or received_at)
    quality = (_text(value.get("new_quality_score")) or "").upper() or None
    if quality is None:
        return None
    return HealthEvent(name, language, template_id, None, quality, None, change.timestamp or received_at)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _reason(value: dict) -> str | None:
    """Meta's reason (NONE when there is none), else the pause's other_info title and description."""
    reason = _text(value.get("reason"))
    if reason and reason.upper() != "NONE":
        return reason[:500]
    info = value.get("other_info") if isinstance(value.get("other_info"), dict) else {}
    parts = [p for p in (_text(info.get("title")), _text(info.get("description"))) if p]
    return ": ".join(parts)[:500] or None


def is_usable(status: str | None, status_at: datetime | None, quality: str | None,
              quality_at: datetime | None) -> bool:
    """PAUSED, DISABLED, REJECTED (and deleted, archived) are unusable; a RED score is unusable
    until a later APPROVED/REINSTATED status or a later better score. FLAGGED stays usable."""
    if status in UNUSABLE_STATUSES:
        return False
    if quality == UNUSABLE_QUALITY:
        reinstated = status in APPROVING_STATUSES and status_at is not None and (
            quality_at is None or status_at > quality_at)
        return reinstated
    return True


def record(conn: Connection, change: AccountChange, received_at: datetime, now: datetime) -> HealthEvent | None:
    """Apply a template status or quality event; returns it, or None when the change is not one."""
    event = read_change(change, received_at)
    if event is None:
        return None
    h = template_health.c
    key = sa.and_(h.name == event.name, h.language == event.language)
    insert_ignoring_conflicts(conn, template_health, [{"name": event.name, "language": event.language,
                                                       "usable": True, "updated_at": now}], ["name", "language"])
    query = sa.select(template_health).where(key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    values: dict = {}
    if event.status is not None and (row.status_at is None or event.at >= row.status_at):
        values.update(status=event.status, reason=event.reason, status_at=event.at)
    if event.quality is not None and (row.quality_at is None or event.at >= row.quality_at):
        values.update(quality=event.quality, quality_at=event.at)
    if event.template_id is not None:
        values["template_id"] = event.template_id
    if not values:
        return event  # older than what we know
    merged = {**row._mapping, **values}
    usable = is_usable(merged["status"], merged["status_at"], merged["quality"], merged["quality_at"])
    if usable != row.usable:
        log.warning("template %s (%s) is now %s: %s %s", event.name, event.language,
                    "usable" if usable else "unusable", merged["status"] or "-", merged["quality"] or "-")
    conn.execute(sa.update(template_health).where(key).values(**values, usable=usable, updated_at=now))
    return event


def unusable(conn: Connection) -> frozenset[tuple[str, str]]:
    """(name, language code) of every template that may not be sent now."""
    h = template_health.c
    return frozenset((r.name, r.language) for r in conn.execute(sa.select(h.name, h.language).where(~h.usable)))


def listed(conn: Connection) -> list[dict]:
    """Every template Meta told us about, by name and language: for the console and previews."""
    h = template_health.c
    return [{"name": r.name, "language": r.language, "status": r.status, "quality": r.quality,
             "reason": r.reason, "usable": bool(r.usable), "flagged": r.status in WARNING_STATUSES,
             "updated_at": r.updated_at.isoformat()}
            for r in conn.execute(sa.select(template_health).order_by(h.name, h.language))]


def warnings(health: Iterable[dict], used: Iterable[tuple[str, str]]) -> list[str]:
    """One line per template in `used` (name, language code) that is unusable or FLAGGED."""
    wanted = set(used)
    found = []
    for t in health:
        if (t["name"], t["language"]) not in wanted:
            continue
        why = f" ({t['reason']})" if t["reason"] else ""
        if not t["usable"]:
            found.append(f"template {t['name']} ({t['language']}) is unusable: {t['status'] or '-'} / quality "
                         f"{t['quality'] or '-'}{why}; customers outside their window are skipped (template_paused)")
        elif t["flagged"]:
            found.append(f"template {t['name']} ({t['language']}) is FLAGGED by Meta{why}: still sent, at risk of "
                         "being paused")
    return found
