"""Tables of proactive messaging: campaign runs, the per-recipient ledger, promotions, and the
scheduler's own tables (APScheduler's job store and our record of each scheduled run)."""
from __future__ import annotations

import sqlalchemy as sa

from bot.core.tables import BigId, JsonDoc, UTCDateTime, metadata

# One row per planning run of a campaign or of the reorder scan, with what the planner decided.
campaign_runs = sa.Table(
    "campaign_runs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("campaign", sa.String(128), nullable=False),  # the campaign's name, or "reorder"
    sa.Column("kind", sa.String(16), nullable=False),  # campaign | reorder
    sa.Column("trigger", sa.String(16), nullable=False),  # manual | schedule | enter | deferred | promote
    sa.Column("send_group", sa.String(8), nullable=False),  # all | test | rest
    sa.Column("run_at", UTCDateTime(), nullable=False),  # the `now` it planned at
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("audience", sa.Integer, nullable=False),
    sa.Column("eligible", sa.Integer, nullable=False),
    sa.Column("freeform", sa.Integer, nullable=False),
    sa.Column("template", sa.Integer, nullable=False),
    sa.Column("held_back", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", JsonDoc, nullable=False),  # {reason: count}, deferrals included
    sa.Column("estimated_cost", JsonDoc, nullable=False),
    sa.Index("ix_campaign_runs_campaign_run_at", "campaign", "run_at"),
)

# The ledger: one row per recipient a campaign (or a reorder cycle) addressed with a message, now
# or later. Safe to re-run: (campaign, customer, cycle) is unique, and the planner skips anyone
# with a live row. Skips are counted on the run, not stored per customer.
campaign_sends = sa.Table(
    "campaign_sends",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("campaign", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # campaign | reorder
    sa.Column("run_id", BigId, sa.ForeignKey("campaign_runs.id", ondelete="SET NULL")),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("recipient", sa.String(160), nullable=False),
    # Campaigns: the planning time; reorder: "<product key>@<order id>", once per purchase cycle.
    sa.Column("cycle", sa.String(256), nullable=False),
    sa.Column("send_group", sa.String(8), nullable=False),  # all | test | rest
    sa.Column("variant", sa.Integer, nullable=False, server_default="0"),
    sa.Column("category", sa.String(16), nullable=False),
    # queued (handed to the outbox) | deferred (quiet hours, tier) | skipped (a deferral that no longer may go)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32)),  # the deferral or skip reason
    sa.Column("form", sa.String(16)),  # freeform | template
    sa.Column("outbox_id", BigId, sa.ForeignKey("outbox.id", ondelete="SET NULL")),
    sa.Column("planned_at", UTCDateTime(), nullable=False),
    sa.Column("due_at", UTCDateTime()),  # a deferral's time to send
    sa.Column("queued_at", UTCDateTime()),
    sa.Column("context", JsonDoc),  # values the message is filled with (reorder: product, order)
    sa.UniqueConstraint("campaign", "customer_id", "cycle", name="uq_campaign_sends_campaign_customer_cycle"),
    sa.Index("ix_campaign_sends_status_due_at", "status", "due_at"),
    sa.Index("ix_campaign_sends_customer_campaign", "customer_id", "campaign"),
    sa.Index("ix_campaign_sends_campaign_group", "campaign", "send_group", "variant"),
    sa.Index("ix_campaign_sends_outbox_id", "outbox_id"),
)

# Per campaign: a tested campaign's promotion (the winning variant and the test that chose it),
# and how far an entry-triggered campaign has read the segment's entries.
campaign_state = sa.Table(
    "campaign_state",
    metadata,
    sa.Column("campaign", sa.String(128), primary_key=True),
    sa.Column("promoted_variant", sa.Integer),
    sa.Column("promoted_at", UTCDateTime()),
    sa.Column("promotion", JsonDoc),  # reply rates per variant, the z-test
    sa.Column("entry_cursor", BigId),  # the last segment_events.id handled
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# Each scheduled run a job owes: written before APScheduler moves the job's next run time on, and
# marked done in the transaction of the job's own work, so a run is neither lost nor repeated
# when the process dies around it.
scheduled_runs = sa.Table(
    "scheduled_runs",
    metadata,
    sa.Column("job_id", sa.String(191), primary_key=True),
    sa.Column("scheduled_at", UTCDateTime(), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # due | running | done | failed
    sa.Column("owner", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("started_at", UTCDateTime()),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("error", sa.Text),
    sa.Index("ix_scheduled_runs_state", "state"),
)

# APScheduler's SQLAlchemyJobStore table, declared here (as APScheduler 3 defines it) so that the
# schema is made by our migrations like every other table; the job store finds it existing.
apscheduler_jobs = sa.Table(
    "apscheduler_jobs",
    metadata,
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary, nullable=False),
)

# Template health (docs/campaigns.md, "Template health"): per (name, language), the last status and
# quality Meta reported through the account webhooks, each with its event time so a late, older
# event does not undo a newer one; `usable` is what planning and sending read.
template_health = sa.Table(
    "template_health",
    metadata,
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("language", sa.String(16), primary_key=True),
    sa.Column("template_id", sa.BigInteger),  # Meta's message_template_id
    sa.Column("status", sa.String(32)),  # APPROVED | PAUSED | DISABLED | REJECTED | FLAGGED | REINSTATED | ...
    sa.Column("reason", sa.Text),  # Meta's reason / other_info, for the console
    sa.Column("status_at", UTCDateTime()),
    sa.Column("quality", sa.String(16)),  # GREEN | YELLOW | RED | UNKNOWN
    sa.Column("quality_at", UTCDateTime()),
    sa.Column("usable", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_template_health_usable", "usable"),
)
