"""`wabot serve` prints the warnings about replies that can never be chosen at start, each naming
its key, and serves anyway (CONTRACT section 12). (The warnings that need the segments' rules, a
reply shadowed by a wider segment, are Features.warnings': tests/unit/test_config_warnings.py.)"""
from __future__ import annotations

TOML = """
[store]
name = "Acme"
shop_domain = "acme.myshopify.com"

[replies]
segment_priority = ["vip", "former_vip", "vip"]

[replies.greet]
default = "Hi {first_name}!"
vip = "Welcome back, {first_name}!"
former_vip = "We miss you, {first_name}!"

[replies.sale]
sale_shopper = "You're in early, {first_name}"
"""


def test_serve_prints_the_reply_warnings_at_start(start_server, fake_graph):
    server = start_server(fake_graph, toml=TOML)
    log = server.log_path.read_text()
    assert "[replies] segment_priority lists 'vip' twice" in log
    assert "[replies.sale] sale_shopper: never chosen: 'sale_shopper' is not in [replies] segment_priority" in log
