"""Nothing acknowledged is lost: a signed body with one bad part keeps the good parts.

Each bad part is quarantined with its reason; the valid messages beside it are stored and
answered once; the answer to Meta is 200 (a 5xx only when the database cannot store). Runs on
SQLite and, with WABOT_TEST_DATABASE_URL, on PostgreSQL, which refuses NUL and lone surrogates.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.signing import meta_signature
from bot.core.tables import customers, inbound_events, inbound_messages, outbox
from bot.whatsapp import simulate
from tests.conftest import APP_SECRET, fixture_paths, fuzz_examples
from tests.support.mutate import paths, replace
from webhook import create_app

GOOD = ("15550001001", "15550001002")


def message(wa_id: str, message_id: str, body: object = "hello", **extra: object) -> dict:
    raw = {"from": wa_id, "id": message_id, "timestamp": str(int(time.time())), "type": "text",
           "text": {"body": body}}
    raw.update(extra)
    return raw


def envelope(messages: list, contacts: list | None = None) -> dict:
    payload = simulate.text_payload(GOOD[0], "x")
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"] = messages
    value["contacts"] = contacts if contacts is not None else [{"wa_id": m.get("from"), "profile": {"name": "Ana"}}
                                                               for m in messages if isinstance(m, dict)]
    return payload


@pytest.fixture
def app(settings_for, engine):
    app = create_app(settings_for())
    yield app
    app.extensions["wabot"].close()


def post(app, body: bytes):
    return app.test_client().post("/webhook", data=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(APP_SECRET, body)})


def answered(app) -> dict[str, int]:
    """Drain the inbound queue through the real worker; the replies queued, per recipient."""
    app.extensions["wabot"].worker().drain()
    with app.extensions["wabot"].engine.connect() as conn:
        return dict(conn.execute(sa.select(outbox.c.recipient, sa.func.count()).where(outbox.c.kind == "reply")
                                 .group_by(outbox.c.recipient)).all())


def states(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(inbound_events.c.state, sa.func.count())
                                 .group_by(inbound_events.c.state)).all())


def deep(levels: int) -> object:
    value: object = "bottom"
    for _ in range(levels):
        value = {"a": [value]}
    return value


# Each: how one of three messages in a body is bad. The raw text is spliced in where JSON cannot
# say it (a 1e400 literal, NaN, an unpaired surrogate escape).
BAD_PARTS = {
    "nested 1,000 deep": lambda: json.dumps(message("15550009999", "wamid.bad", body="__DEEP__")).replace(
        '"__DEEP__"', '{"a": [' * 500 + '"bottom"' + ']}' * 500),
    "number out of range": lambda: json.dumps(message("15550009999", "wamid.bad")).replace(
        '"timestamp": "', '"timestamp": 1e400, "was": "'),
    "NaN timestamp": lambda: json.dumps(message("15550009999", "wamid.bad")).replace(
        '"timestamp": "', '"timestamp": NaN, "was": "'),
    "huge integer": lambda: json.dumps(message("15550009999", "wamid.bad")).replace(
        '"timestamp": "', '"timestamp": ' + "9" * 5000 + ', "was": "'),
    "lone surrogate in text": lambda: json.dumps(message("15550009999", "wamid.bad", body="x")).replace(
        '"body": "x"', '"body": "x\\ud800y"'),
    "NUL in text": lambda: json.dumps(message("15550009999", "wamid.bad", body="a\x00b")),
    "NUL in the id": lambda: json.dumps(message("15550009999", "wamid.\x00bad")),
    "id longer than its column": lambda: json.dumps(message("15550009999", "wamid." + "x" * 600)),
    "sender longer than its column": lambda: json.dumps(message("1" * 400, "wamid.bad")),
    # beside a good phone number: the user id is stored on the customer too (customers.user_id)
    "user id longer than its column": lambda: json.dumps({**message("15550009999", "wamid.bad"),
                                                          "from_user_id": "BR." + "1" * 300}),
    "profile name longer than its column": lambda: json.dumps(message("15550009999", "wamid.bad")),
}


@pytest.mark.parametrize("badness", list(BAD_PARTS))
def test_one_bad_message_beside_two_good_ones(app, engine, badness):
    good = [json.dumps(message(GOOD[0], "wamid.good.1", body="hi")),
            json.dumps(message(GOOD[1], "wamid.good.2", body="where is my order?"))]
    body = json.loads(json.dumps(envelope([])))
    value = body["entry"][0]["changes"][0]["value"]
    contacts = [{"wa_id": GOOD[0], "profile": {"name": "Ana"}}, {"wa_id": GOOD[1], "profile": {"name": "Bo"}},
                {"wa_id": "15550009999", "profile": {"name": "N" * 400 if "profile" in badness else "Cy"}}]
    value["contacts"] = "__CONTACTS__"
    value["messages"] = "__MESSAGES__"
    text = json.dumps(body).replace('"__CONTACTS__"', json.dumps(contacts)).replace(
        '"__MESSAGES__"', "[" + ", ".join([good[0], BAD_PARTS[badness](), good[1]]) + "]")

    response = post(app, text.encode("utf-8", "surrogatepass"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {"duplicates": 0, "stored": 3}
    assert states(engine) == {"pending": 2, "quarantined": 1}
    assert answered(app) == {GOOD[0]: 1, GOOD[1]: 1}
    assert states(engine) == {"done": 2, "quarantined": 1}
    with engine.connect() as conn:
        reason = conn.execute(sa.select(inbound_events.c.error).where(inbound_events.c.state == "quarantined")).scalar()
    assert reason and "\n" not in reason
    # Meta delivers the same body again: nothing new is stored, nothing answered twice.
    assert post(app, text.encode("utf-8", "surrogatepass")).json == {"duplicates": 3, "stored": 0}
    assert answered(app) == {GOOD[0]: 1, GOOD[1]: 1}


def test_a_timestamp_far_in_the_future_counts_as_the_time_received(app, engine):
    in_2999 = int(datetime(2999, 1, 1, tzinfo=timezone.utc).timestamp())
    body = json.dumps(envelope([message(GOOD[0], "wamid.future", timestamp=str(in_2999))])).encode()
    before = datetime.now(timezone.utc)
    assert post(app, body).status_code == 200
    answered(app)
    with engine.connect() as conn:
        last_inbound = conn.execute(sa.select(customers.c.last_inbound_at)).scalar_one()
        sent_at = conn.execute(sa.select(inbound_messages.c.sent_at)).scalar_one()
    # The window runs 24 h from when we got the message, not until the year 3000.
    assert before - timedelta(seconds=5) <= last_inbound <= datetime.now(timezone.utc)
    assert sent_at == last_inbound


# ---------------------------------------------------------------- fuzzing real payloads

REAL = [json.loads(path.read_text()) for path in fixture_paths("whatsapp")]
FUZZ = {"cases": 0, "statuses": {}}

hostile_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.text(alphabet=st.characters(codec=None, categories=["Cs", "Cc"]), max_size=5),
    st.just("\x00"), st.just("x" * 3000), st.builds(deep, st.integers(40, 60)),
)






def _encode(value: object) -> bytes:
    text = json.dumps(value, allow_nan=True)  # NaN and Infinity as Python writes them: hostile JSON
    return text.encode("utf-8", "surrogatepass")


@st.composite
def mutated_payloads(draw):
    payload = draw(st.sampled_from(REAL))
    for _ in range(draw(st.integers(1, 3))):
        payload = replace(payload, draw(st.sampled_from(paths(payload))), draw(hostile_scalars))
    return payload


@settings(max_examples=fuzz_examples(1500), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(payload=mutated_payloads(), good_id=st.uuids())
def test_mutated_real_payloads_never_5xx_and_keep_the_valid_message_beside(app, engine, payload, good_id):
    """A mutated real payload sent together with one valid message in another entry: never a
    5xx, never an unhandled error in the worker, and the valid message answered exactly once."""
    # A customer and a message of their own in each example: hypothesis draws the same uuid
    # again, and a message id seen before is rightly not answered twice.
    wa_id = f"1555{FUZZ['cases']:07d}"
    good = envelope([message(wa_id, f"wamid.fuzz.{good_id.hex}.{FUZZ['cases']}", body="hi")])
    body = dict(payload) if isinstance(payload, dict) else {"object": "whatsapp_business_account", "entry": []}
    entries = body.get("entry") if isinstance(body.get("entry"), list) else []
    if body.get("object") == "whatsapp_business_account":
        body = {**body, "entry": [*entries, good["entry"][0]]}
        expect_good = True
    else:  # not a WhatsApp payload at all: quarantined whole, nothing to answer
        expect_good = False
    response = post(app, _encode(body))
    FUZZ["cases"] += 1
    FUZZ["statuses"][response.status_code] = FUZZ["statuses"].get(response.status_code, 0) + 1
    assert response.status_code == 200, response.get_data(as_text=True)
    replies = answered(app)
    assert states(engine).get("dead", 0) == 0
    with engine.connect() as conn:
        left = conn.execute(sa.select(inbound_events.c.id, inbound_events.c.kind, inbound_events.c.wa_id,
                                      inbound_events.c.lease_until, inbound_events.c.attempts, inbound_events.c.error)
                            .where(inbound_events.c.state == "pending")).all()
    assert left == []
    if expect_good:
        assert replies.get(wa_id) == 1


def test_fuzz_figures(capsys):
    """Printed for the closing note (pytest -s shows them); runs after the fuzz test above."""
    if FUZZ["cases"]:
        with capsys.disabled():
            print(f"\nwebhook fuzz: {FUZZ['cases']} cases, statuses {FUZZ['statuses']}")
