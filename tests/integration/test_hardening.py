"""Hardening of the HTTP surface: security headers, the sandbox only for this machine, /healthz
that proves a write, and CSV cells a spreadsheet will not run as formulas."""
from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest

from bot.core import db
from bot.core.config import Settings
from bot.runtime import Runtime
from segments.views import csv_cell
from webhook import create_app


@pytest.fixture
def app(settings_for, engine):
    app = create_app(settings_for())
    yield app
    app.extensions["wabot"].close()


@pytest.mark.parametrize("path", ["/sandbox", "/agent", "/healthz", "/api/segments"])
def test_every_answer_carries_the_security_headers(app, path):
    response = app.test_client().get(path)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy


def test_pages_have_no_inline_script_or_style(app):
    for path in ("/sandbox", "/agent"):
        html = app.test_client().get(path).get_data(as_text=True)
        assert "<style" not in html and " style=" not in html
        scripts = [part.split(">", 1)[0] for part in html.split("<script")[1:]]
        assert all("src=" in tag or 'type="application/json"' in tag for tag in scripts), scripts


@pytest.mark.parametrize("remote, allowed", [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
                                             ("10.0.0.5", False), ("192.168.1.20", False), ("2001:db8::1", False)])
def test_the_sandbox_answers_only_this_machine(app, remote, allowed):
    client = app.test_client()
    for path in ("/sandbox", "/sandbox/api/customers", "/sandbox/static/sandbox.js"):
        with client.get(path, environ_overrides={"REMOTE_ADDR": remote},
                        headers={"X-Forwarded-For": "127.0.0.1"}) as response:  # a header proves nothing
            assert (response.status_code == 200) is allowed, (path, remote, response.status_code)
    sent = client.post("/sandbox/api/send", json={"wa_id": "15550004001", "text": "hi"},
                       environ_overrides={"REMOTE_ADDR": remote})
    assert (sent.status_code == 200) is allowed


def test_healthz_says_503_when_the_database_refuses_writes(database_url, engine):
    db.upgrade(engine)
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        read_only = f"sqlite:///file:{quote(path)}?mode=ro&uri=true"
    else:
        read_only = database_url + quote(" -cdefault_transaction_read_only=on", safe="=")
    app = create_app(runtime_=Runtime.from_settings(Settings(database_url=read_only)))
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503 and "write" in response.json["error"]
    finally:
        app.extensions["wabot"].close()
    healthy = create_app(runtime_=Runtime.from_settings(Settings(database_url=database_url)))
    try:
        assert healthy.test_client().get("/healthz").json == {"status": "ok"}
    finally:
        healthy.extensions["wabot"].close()


@pytest.mark.parametrize("text, cell", [
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"), ("+1+1", "'+1+1"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("Ana", "Ana"), ("", ""), (None, ""),
    ("a=b", "a=b"),
])
def test_csv_cells_are_never_formulas(text, cell):
    assert csv_cell(text) == cell


def test_members_csv_neutralises_names_but_not_the_phone(settings_for, engine):
    from datetime import datetime, timezone

    from bot.cli.segments import segments_group  # noqa: F401 - the command the CSV serves
    from bot.conversation import customers
    from segments.engine import SegmentEngine
    from segments.views import members_csv

    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        customers.touch_inbound(conn, wa_id="15550004002", user_id=None, profile_name="=cmd|' /C calc'!A0",
                                sent_at=now, now=now)
    segments = SegmentEngine(Settings())
    with engine.connect() as conn:
        text = "".join(members_csv(segments, conn, now, "chat_engaged"))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0] == "+15550004002"  # the E.164 phone column as it is
    assert rows[1][4].startswith("'=")


def test_api_requests_are_limited_per_token(settings_for, engine):
    app = create_app(settings_for(toml="[api]\nrequests_per_minute = 5\n",
                                  WABOT_AGENT_TOKENS="ana:tok-ana,ben:tok-ben", WABOT_ADMIN_TOKEN="adm"))
    try:
        client = app.test_client()
        ana = {"Authorization": "Bearer tok-ana"}
        assert [client.get("/api/agent", headers=ana).status_code for _ in range(5)] == [200] * 5
        refused = client.get("/api/agent", headers=ana)
        assert refused.status_code == 429 and "error" in refused.json
        assert client.get("/api/agent", headers={"Authorization": "Bearer tok-ben"}).status_code == 200
        assert client.get("/api/segments", headers={"Authorization": "Bearer adm"}).status_code == 200
        assert client.post("/webhook", data=b"{}").status_code == 401  # the webhook is not limited, only signed
    finally:
        app.extensions["wabot"].close()


@pytest.mark.parametrize("path", ["/api/conversations/%00", "/api/segments?now=%00", "/sandbox/api/messages?wa_id=a%00"])
def test_text_the_database_refuses_is_bad_input_before_any_view(app, path):
    response = app.test_client().get(path, headers={"Authorization": "Bearer x"})
    assert response.status_code == 400 and "invalid text" in response.json["error"]
