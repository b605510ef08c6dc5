"""What the store owner's console follows of campaigns and reorder prompts, read-only: a run's
progress through the outbox (queued -> sent -> delivered -> read), and where a tested campaign's
A/B test stands (the test bot/campaigns/stats.py runs). The list of campaigns is
bot/campaigns/listing.py's."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.campaigns.listing import REORDER
from bot.campaigns.stats import choose_winner
from bot.campaigns.tables import campaign_runs, campaign_sends
from bot.core.config import CampaignConfig
from bot.core.errors import NotFound
from bot.core.tables import outbox

__all__ = ["REORDER", "run_progress", "test_result"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_progress(conn: Connection, campaign: str, run_id: int | None) -> dict[str, Any]:
    """One run's messages by how far they got: `queued` (not yet handed to WhatsApp), then, each
    counting those beyond it too, `sent`, `delivered`, `read`; and `failed`, `cancelled`,
    `unknown`, `deferred` (waiting for quiet hours or the tier). The latest run without `run_id`."""
    r, s, o = campaign_runs.c, campaign_sends.c, outbox.c
    query = sa.select(campaign_runs).where(r.campaign == campaign)
    query = query.where(r.id == run_id) if run_id is not None else query.order_by(r.id.desc()).limit(1)
    run = conn.execute(query).first()
    if run is None:
        raise NotFound(f"no run {run_id} of {campaign!r}" if run_id is not None else f"{campaign!r} never ran")

    def count(condition: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    delivered_at = sa.func.coalesce(o.delivered_at, o.read_at)
    row = conn.execute(
        sa.select(count(s.status == "queued").label("planned"),
                  count(s.status == "deferred").label("deferred"),
                  count(o.state.in_(("queued", "sending"))).label("queued"),
                  count(o.sent_at.is_not(None)).label("sent"),
                  count(delivered_at.is_not(None)).label("delivered"),
                  count(o.read_at.is_not(None)).label("read"),
                  count(o.state == "failed").label("failed"),
                  count(o.state == "cancelled").label("cancelled"),
                  count(o.state == "unknown").label("unknown"))
        .select_from(campaign_sends.outerjoin(outbox, o.id == s.outbox_id))
        .where(s.run_id == run.id)).one()
    counts = {name: int(value) for name, value in row._mapping.items()}
    cost = run.estimated_cost or {}
    return {"campaign": campaign, "run_id": run.id, "run_at": _iso(run.run_at), "trigger": run.trigger,
            "group": run.send_group, "audience": run.audience, "eligible": run.eligible,
            "estimated_cost": {"total": cost.get("total"), "currency": cost.get("currency")},
            **counts, "done": counts["queued"] == 0}


def test_result(config: CampaignConfig | None, stats: dict[str, Any]) -> dict[str, Any] | None:
    """Where a tested campaign's A/B test stands: its variants' reply rates in the test group and
    the winner with its two-proportion z-test (as a promotion would choose now). None without a
    test group."""
    if config is None or config.test_fraction is None:
        return None
    tested = {g["variant"]: g for g in stats["groups"] if g["group"] == "test"}
    variants = [{"variant": i, "sent": tested.get(i, {}).get("sent", 0), "replied": tested.get(i, {}).get("replied", 0)}
                for i in range(len(config.message_variants))]
    for v in variants:
        v["reply_rate"] = round(v["replied"] / v["sent"], 4) if v["sent"] else None
    winner = choose_winner(variants) if any(v["sent"] for v in variants) else None
    return {"variants": variants, "winner": winner}
