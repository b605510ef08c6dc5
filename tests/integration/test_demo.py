"""`wabot demo --no-serve`: a believable store, through the real importers, idempotent; its own
configuration when the user has none; hints that name customers really in those segments; and a
refusal to seed a database holding customers it did not seed."""
from __future__ import annotations

import re
import subprocess
import sys

import sqlalchemy as sa

from bot.cli.demo import DEMO_CONFIG
from bot.core.tables import customers, inbound_messages, sandbox_messages
from bot.core.times import utcnow
from segments.tables import orders, segment_members
from tests.conftest import make_env
from tests.support.cli import run_cli
from tests.support.seed import add_order

HINT = re.compile(r"^  (?P<segment>[a-z_]+) +(?P<wa_id>\d+) +(?P<name>.+?) +say: (?P<say>.+)$")


def run_demo(database_url, tmp_path, *args, **env):
    # The real `python -m bot.cli` on purpose (bot/cli/__main__.py, its exit status, stdout through a pipe):
    # the entry point end to end. Other command tests run in process, through tests/support/cli.py.
    return subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--no-serve", *args], capture_output=True,
                          text=True, env=make_env(database_url, tmp_path, **env), cwd=tmp_path, timeout=180)


def counts(engine):
    with engine.connect() as conn:
        return {
            "customers": conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar(),
            "orders": conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar(),
            "messages": conn.execute(sa.select(sa.func.count()).select_from(inbound_messages)).scalar(),
            "segments": dict(conn.execute(sa.select(segment_members.c.segment, sa.func.count())
                                          .group_by(segment_members.c.segment)).all()),
        }


def hints(stdout: str) -> list[dict]:
    return [m.groupdict() for m in map(HINT.match, stdout.splitlines()) if m]


def test_demo_seeds_every_kind_of_customer_once(engine, database_url, tmp_path):
    first = run_demo(database_url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "demo store seeded" in first.stdout and "segments:" in first.stdout
    seeded = counts(engine)
    assert seeded["customers"] >= 30 and seeded["orders"] >= 100 and seeded["messages"] >= 20
    for segment in ("vip", "loyal", "lapsed", "first_time_buyer", "repeat_buyer", "sale_shopper", "former_vip",
                    "chat_engaged", "window_open", "dog_owners"):
        assert seeded["segments"].get(segment, 0) >= 1, segment
    again = run_demo(database_url, tmp_path)
    assert again.returncode == 0, again.stderr
    after = counts(engine)
    assert (after["customers"], after["orders"], after["messages"]) == \
        (seeded["customers"], seeded["orders"], seeded["messages"])


def test_the_hints_name_customers_who_are_in_those_segments(engine, database_url, tmp_path):
    result = run_demo(database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    found = hints(result.stdout)
    # every segment the demo's greeting names, in the order of its segment_priority
    assert [h["segment"] for h in found] == ["former_vip", "vip", "loyal", "lapsed", "sale_shopper", "first_time_buyer"]
    priority = ["former_vip", "vip", "loyal", "lapsed", "sale_shopper", "first_time_buyer"]
    with engine.connect() as conn:
        for hint in found:
            member_of = set(conn.execute(
                sa.select(segment_members.c.segment).join(customers, customers.c.id == segment_members.c.customer_id)
                .where(customers.c.wa_id == hint["wa_id"])).scalars())
            assert hint["segment"] in member_of, hint
            # greeted as that segment: no segment before it in the priority applies to them
            assert next(s for s in priority if s in member_of) == hint["segment"], (hint, member_of)
            first, last = conn.execute(sa.select(customers.c.first_name, customers.c.last_name)
                                       .where(customers.c.wa_id == hint["wa_id"])).one()
            assert hint["name"] == f"{first} {last}"
    assert len({h["wa_id"] for h in found}) == len(found)


def test_without_a_wabot_toml_the_demo_runs_on_its_own_configuration(database_url, tmp_path):
    result = run_demo(database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"configuration: {DEMO_CONFIG} (the demo's own)" in result.stdout
    assert f"WABOT_CONFIG={DEMO_CONFIG} wabot campaigns preview we_miss_you" in result.stdout
    assert "languages: en " in result.stdout and " hi " in result.stdout
    # the printed command works: the campaign and the reorder rules are there
    env = make_env(database_url, tmp_path, WABOT_CONFIG=str(DEMO_CONFIG))
    preview = run_cli(["campaigns", "preview", "we_miss_you", "--json"], env=env, cwd=tmp_path)
    assert preview.returncode == 0, preview.stderr
    assert '"audience"' in preview.stdout
    reorder = run_cli(["reorder", "run", "--dry-run"], env=env, cwd=tmp_path)
    assert reorder.returncode == 0, reorder.stderr
    assert re.search(r"[1-9]\d* product\(s\) due", reorder.stdout), reorder.stdout


def test_a_wabot_toml_of_ones_own_is_used_as_it_is(database_url, tmp_path):
    (tmp_path / "wabot.toml").write_text('[store]\nname = "My Shop"\nshop_domain = "my.myshopify.com"\n')
    result = run_demo(database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"configuration: {tmp_path / 'wabot.toml'}\n" in result.stdout
    assert "the demo's own" not in result.stdout
    assert hints(result.stdout) == []  # that file's replies name no segment: nothing segment-aware to try


def test_a_database_with_customers_the_demo_did_not_seed_is_refused(engine, database_url, tmp_path):
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(sa.insert(customers).values(wa_id="14155550100", first_name="Real", shopify_customer_id=77,
                                                 created_at=now, updated_at=now))
    before = counts(engine)
    refused = run_demo(database_url, tmp_path)
    assert refused.returncode == 2
    where = f"SQLite {database_url.split(':///', 1)[1]}" if database_url.startswith("sqlite") else "PostgreSQL"
    assert refused.stderr.strip().splitlines() == [
        f"wabot: error: the database ({where}) holds 1 customer the demo did not seed: point WABOT_DATABASE_URL "
        "at another database, or pass --force to seed it anyway"]
    assert refused.stdout == ""
    assert counts(engine) == before  # nothing written
    forced = run_demo(database_url, tmp_path, "--force")
    assert forced.returncode == 0, forced.stderr
    assert counts(engine)["customers"] == before["customers"] + 39


def test_orders_the_demo_did_not_seed_are_refused_too(engine, database_url, tmp_path):
    now = utcnow()
    with engine.begin() as conn:  # an order whose phone joins no customer still is a store's
        add_order(conn, 1, None, [], created_at=now, total="10.00")
    refused = run_demo(database_url, tmp_path)
    assert refused.returncode == 2 and "holds 1 order the demo did not seed" in refused.stderr


def test_visitors_who_only_chatted_in_the_sandbox_do_not_stop_a_second_seeding(engine, database_url, tmp_path):
    assert run_demo(database_url, tmp_path).returncode == 0
    now = utcnow()
    with engine.begin() as conn:  # someone tried a number of their own in the sandbox page
        conn.execute(sa.insert(customers).values(wa_id="15550109999", created_at=now, updated_at=now))
        conn.execute(sa.insert(sandbox_messages).values(recipient="15550109999", wa_message_id="wamid.sandbox.x",
                                                        payload={"type": "text"}, created_at=now))
        conn.execute(sa.insert(customers).values(wa_id="15550108888", created_at=now, updated_at=now))
    refused = run_demo(database_url, tmp_path)  # the second one never got an answer from the sandbox: not a visitor
    assert refused.returncode == 2 and "holds 1 customer the demo did not seed" in refused.stderr
    with engine.begin() as conn:
        conn.execute(sa.delete(customers).where(customers.c.wa_id == "15550108888"))
    again = run_demo(database_url, tmp_path)
    assert again.returncode == 0, again.stderr


def test_the_demo_shows_its_automations(engine, database_url, tmp_path):
    """An abandoned checkout whose first reminder the scheduler's first pass sends, and a
    cash-on-delivery order asked at once; seeding again asks nothing twice."""
    import sqlalchemy as sa

    from bot.automations.tables import cod_confirmations
    from bot.core.tables import outbox
    from segments.tables import checkouts

    for _ in range(2):
        seeded = run_demo(database_url, tmp_path)
        assert seeded.returncode == 0, seeded.stderr
    assert "abandoned checkout:" in seeded.stdout and "cash on delivery:" in seeded.stdout
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(checkouts)).scalar() == 1
        assert conn.execute(sa.select(cod_confirmations.c.state)).scalars().all() == ["awaiting"]
        asked = conn.execute(sa.select(outbox.c.payload).where(outbox.c.source == "automation:cod_confirmation")).all()
    assert len(asked) == 1 and asked[0].payload["type"] == "interactive"  # the window is open: text and buttons
