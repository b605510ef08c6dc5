"""The pure parts of `wabot campaigns list`: next scheduled times (cron in store time, the scheduler's
intervals), and the languages a campaign's texts and templates cover."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from bot.campaigns import listing
from bot.core.config import Settings, parse_file_config
from bot.pipeline.scheduler import REORDER_JOB, SEGMENTS_JOB, job_specs
from bot.runtime import Features

UTC = timezone.utc


@pytest.mark.parametrize("now, expected", [
    (datetime(2026, 12, 3, 16, 0, tzinfo=UTC), datetime(2026, 12, 3, 16, 0, tzinfo=UTC)),
    (datetime(2026, 12, 3, 16, 0, 1, tzinfo=UTC), datetime(2026, 12, 3, 16, 15, tzinfo=UTC)),
    (datetime(2026, 12, 3, 23, 59, tzinfo=UTC), datetime(2026, 12, 4, 0, 0, tzinfo=UTC)),
])
def test_next_interval(now, expected):
    assert listing.next_interval(15, now) == expected


@pytest.mark.parametrize("expr, now, expected", [
    # 10:00 in New York: 15:00 UTC in winter, 14:00 in summer; weekdays only
    ("0 10 * * 1-5", datetime(2026, 12, 4, 16, 0, tzinfo=UTC), datetime(2026, 12, 7, 15, 0, tzinfo=UTC)),
    ("0 10 * * 1-5", datetime(2026, 7, 1, 13, 0, tzinfo=UTC), datetime(2026, 7, 1, 14, 0, tzinfo=UTC)),
    ("30 9 1 * *", datetime(2026, 3, 2, 0, 0, tzinfo=UTC), datetime(2026, 4, 1, 13, 30, tzinfo=UTC)),
    ("0 10 * * 0", datetime(2026, 12, 3, 0, 0, tzinfo=UTC), datetime(2026, 12, 6, 15, 0, tzinfo=UTC)),  # Sunday = 0
])
def test_next_cron_is_in_store_time(expr, now, expected):
    assert listing.next_cron(expr, "America/New_York", now) == expected


def test_the_intervals_are_the_schedulers():
    settings = Settings(file=parse_file_config({"reorder": {"default_days": 30, "text": "x"}}))
    features = Features.build(settings)
    specs = {s.id: s for s in job_specs(settings, features.campaigns, features.segment_engine,
                                        SimpleNamespace(release=lambda conn, now: None))}
    assert specs[SEGMENTS_JOB].trigger.interval.total_seconds() == listing.REFRESH_MINUTES * 60
    assert specs[REORDER_JOB].trigger.interval.total_seconds() == listing.REORDER_SCAN_MINUTES * 60
    assert specs[SEGMENTS_JOB].trigger.start_date == datetime(2000, 1, 1, tzinfo=UTC)  # counted from midnight UTC


def test_languages_covered_by_texts_and_templates():
    config = parse_file_config({"store": {"languages": ["en", "es", "pt"]}, "campaigns": {"promo": {
        "segment": "vip", "test_fraction": 0.5, "variants": [
            {"texts": {"pt": "Oi"}, "text": "Hi", "template": {"name": "a", "language": "en_US", "languages": ["pt_BR"]}},
            {"template": {"name": "b", "language": "es_MX"}}]}}})
    variants = config.campaigns["promo"].message_variants
    assert listing.text_languages(variants, config.store.languages) == ["en", "pt"]
    assert listing.template_languages([v.template for v in variants]) == ["en_US", "pt_BR", "es_MX"]
    template_only = parse_file_config({"campaigns": {"t": {"segment": "vip", "template": {"name": "t"}}}})
    assert listing.text_languages(template_only.campaigns["t"].message_variants, ("en",)) == []
