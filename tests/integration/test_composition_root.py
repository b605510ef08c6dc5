"""One composition root: a process builds its router, reply book and segment engine once.

What `wabot serve` does at start, in process: the command's start check, the gunicorn worker's
app built from the same features, the background (inbound worker, sender, scheduler) and a
request to each feature's API.
"""
from __future__ import annotations

from collections import Counter

import pytest

from bot.cli.context import Context
from bot.runtime import Runtime
from flows.nlu import IntentRouter
from flows.replies import ReplyBook
from segments.engine import SegmentEngine
from webhook import create_app

TOML = """
[segments.big_spenders]
rule = "total_spent > 100"

[replies.greet]
big_spenders = "Hello, big spender {first_name}!"

[replies]
segment_priority = ["big_spenders"]

[campaigns.thanks]
segment = "big_spenders"
text = "Thank you, {first_name}"
"""


@pytest.fixture
def built(monkeypatch):
    counts: Counter[str] = Counter()
    for cls in (IntentRouter, ReplyBook, SegmentEngine):
        original = cls.__init__

        def counting(self, *args, _original=original, _name=cls.__name__, **kwargs):
            counts[_name] += 1
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    return counts


def test_serve_builds_each_feature_once(settings_for, built):
    settings = settings_for(toml=TOML, WABOT_ADMIN_TOKEN="admin-secret")
    ctx = Context(settings)
    features = ctx.runtime(warn=True).features  # the start check of `serve`
    runtime = Runtime.from_settings(settings, features=features)  # the gunicorn worker's app
    app = create_app(runtime_=runtime)
    runtime.start_background(scheduler=True)
    try:
        client = app.test_client()
        headers = {"Authorization": "Bearer admin-secret"}
        assert client.get("/api/segments", headers=headers).status_code == 200
        assert client.get("/api/campaigns/thanks/preview", headers=headers).status_code == 200
        assert client.get("/api/campaigns/nope/preview", headers=headers).status_code == 404
    finally:
        runtime.close()
        ctx.close()
    assert built == {"IntentRouter": 1, "ReplyBook": 1, "SegmentEngine": 1}


def test_a_bad_configuration_stops_the_app_at_creation(settings_for):
    from bot.core.errors import ConfigError

    settings = settings_for(toml='[segments.x]\nrule = "in_segment(\\"nope\\")"\n')
    with pytest.raises(ConfigError, match=r"\[segments.x\]"):
        create_app(settings)
