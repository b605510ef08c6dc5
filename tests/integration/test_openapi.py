"""GET /openapi.json describes every JSON route, and every route it describes answers without a
5xx to whatever a generated request sends (a schemathesis-like walk, in process)."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.web import openapi
from webhook import create_app

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only


@pytest.fixture
def app(settings_for, engine):
    app = create_app(settings_for(WABOT_AGENT_TOKENS="ana:tok-ana", WABOT_ADMIN_TOKEN="adm",
                                  WABOT_SHOPIFY_SECRET="shp"))
    yield app
    app.extensions["wabot"].close()


def test_every_json_route_is_described(app):
    spec = app.test_client().get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    described = {(path, method) for path, methods in spec["paths"].items() for method in methods}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in openapi.NOT_JSON:
            continue
        path, _ = openapi._path(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in described, rule.rule


def test_an_undescribed_route_stops_the_app(app):
    app.add_url_rule("/api/new", "new_route", lambda: {})
    with pytest.raises(LookupError, match="/api/new"):
        openapi.describe(app)


TOKENS = {"agentToken": "Bearer tok-ana", "adminToken": "Bearer adm"}
values = st.one_of(st.text(max_size=30), st.integers(-5, 10**12).map(str), st.sampled_from(
    ["15550001111", "nope", "", "2026-12-01T10:00:00", "vip", "../../etc", "%00", "9" * 40]))
bodies = st.one_of(st.none(), st.dictionaries(st.sampled_from(["text", "template", "wa_id", "reply_id", "name"]),
                                              st.one_of(values, st.integers(), st.none(), st.dictionaries(
                                                  st.sampled_from(["name", "language", "body", "category"]),
                                                  st.one_of(values, st.lists(values, max_size=3))))),
                   st.lists(values, max_size=2), values)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_requests_never_get_a_5xx(app, data):
    spec = app.extensions["wabot.openapi"]
    path, methods = data.draw(st.sampled_from(sorted(spec["paths"].items())))
    method, operation = data.draw(st.sampled_from(sorted(methods.items())))
    url = path
    query = {}
    for parameter in operation["parameters"]:
        value = data.draw(values)
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", quote(value, safe="") or "x")
        elif data.draw(st.booleans()):
            query[parameter["name"]] = value
    headers = {}
    for requirement in operation.get("security", []):
        scheme = next(iter(requirement))
        if scheme in TOKENS and data.draw(st.booleans()):
            headers["Authorization"] = TOKENS[scheme]
    kwargs = {"json": data.draw(bodies)} if method == "post" else {}
    response = app.test_client().open(url, method=method.upper(), query_string=query, headers=headers,
                                       environ_overrides={"REMOTE_ADDR": "127.0.0.1"}, **kwargs)
    assert response.status_code < 500, (method, url, query, response.get_data(as_text=True)[:300])
    assert response.is_json or response.status_code in (301, 308, 404, 405), (method, url)
