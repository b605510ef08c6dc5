"""Reorder prompts (bot/campaigns/reorder.py): due dates from the customer's own rhythm, the product's, or the default."""
from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.campaigns.reorder import Purchase, ReorderRules, choose_prompts, product_key
from bot.core.config import ReorderConfig

T0 = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
# (product key, title, the [reorder.days] its first matching selector gives; None: no selector matches)
DOG_FOOD = ("product:10", "Dog Food 5kg", 28)
CAT_TOY = ("product:20", "Cat Toy", 60)
MUG = ("product:30", "Mug", None)
RULES = ReorderRules(ReorderConfig(days={"type:Dog Food": 28, "tag:cats": 60}, max_overdue_days=14, text="x"))


def bought(customer: int, product: tuple, *days: float, first_order: int = 1) -> list[Purchase]:
    key, title, interval = product
    return [Purchase(customer, first_order + i, f"#{first_order + i}", T0 + timedelta(days=d), key, title, interval)
            for i, d in enumerate(days)]


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_a_single_purchase_uses_the_products_days():
    history = bought(1, DOG_FOOD, 0)
    assert RULES.due(history, day(27.9)) == []
    [prompt] = RULES.due(history, day(28))
    assert (prompt.basis, prompt.due_at, prompt.product_title, prompt.order_id) == ("product", day(28), "Dog Food 5kg", 1)
    assert RULES.due(history, day(42))  # 14 days late: still sent
    assert RULES.due(history, day(42.01)) == []  # later than max_overdue_days: not sent


def test_the_customers_own_median_interval_wins_after_two_purchases():
    history = bought(1, DOG_FOOD, 0, 20, 50)  # gaps 20 and 30: median 25
    [prompt] = RULES.due(history, day(75))
    assert (prompt.basis, prompt.interval, prompt.due_at, prompt.order_id) == ("own", timedelta(days=25), day(75), 3)
    assert RULES.due(history, day(74)) == []


def test_orders_a_few_hours_apart_are_one_purchase():
    history = bought(1, DOG_FOOD, 0, 0.2)
    [prompt] = RULES.due(history, day(28.2))
    assert prompt.basis == "product" and prompt.order_id == 2


def test_products_outside_the_selectors_are_watched_only_with_default_days():
    assert RULES.due(bought(1, MUG, 0), day(30)) == []
    with_default = ReorderRules(ReorderConfig(days={"type:Dog Food": 28}, default_days=30, text="x"))
    [prompt] = with_default.due(bought(1, MUG, 0), day(30))
    assert prompt.basis == "default"
    [dog] = with_default.due(bought(2, DOG_FOOD, 0), day(28))
    assert dog.basis == "product"  # a matching selector wins over the default


def test_future_purchases_are_ignored():
    history = bought(1, DOG_FOOD, 0) + bought(1, DOG_FOOD, 40, first_order=5)
    [prompt] = RULES.due(history, day(30))
    assert prompt.order_id == 1


def test_one_prompt_a_customer_the_most_overdue_not_yet_prompted():
    history = bought(1, DOG_FOOD, 0) + bought(1, CAT_TOY, -40, first_order=7) + bought(2, DOG_FOOD, 5, first_order=9)
    now = day(33)
    due = RULES.due(history, now)
    assert {(p.customer_id, p.product_key) for p in due} == {(1, "product:10"), (1, "product:20"), (2, "product:10")}
    # the cat toy is 13 days overdue, the dog food 5
    chosen = choose_prompts(due, now, prompted_cycles=set(), prompted_recently=set())
    assert [(p.customer_id, p.product_key) for p in chosen] == [(1, "product:20"), (2, "product:10")]
    # the cat toy's cycle was prompted already: the dog food is next
    chosen = choose_prompts(due, now, prompted_cycles={(1, "product:20@7")}, prompted_recently=set())
    assert [(p.customer_id, p.product_key) for p in chosen] == [(1, "product:10"), (2, "product:10")]
    assert [p.customer_id for p in choose_prompts(due, now, prompted_cycles=set(), prompted_recently={1})] == [2]


def test_product_keys():
    assert product_key(7, "SKU-1", "Mug") == "product:7"
    assert product_key(None, " SKU-1 ", "Mug") == "sku:sku-1"
    assert product_key(None, None, "Big Mug") == "title:big mug"
    assert product_key(None, None, None) is None


def test_prompt_values_and_button():
    [prompt] = RULES.due(bought(1, DOG_FOOD, 0), day(28))
    assert prompt.button_id == "reorder:confirm:1" and prompt.cycle == "product:10@1"
    assert prompt.values() == {"product_title": "Dog Food 5kg", "order_id": 1, "last_order_name": "#1"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from([DOG_FOOD, CAT_TOY, MUG]), st.integers(0, 200)),
                max_size=40), st.integers(0, 260))
def test_due_prompts_follow_the_rules(rows, today):
    purchases = [Purchase(c, i, None, day(d), p[0], p[1], p[2]) for i, (c, p, d) in enumerate(rows)]
    now = day(today)
    due = RULES.due(purchases, now)
    for prompt in due:
        assert prompt.due_at <= now <= prompt.due_at + timedelta(days=14)
        own = sorted({p.at for p in purchases if p.customer_id == prompt.customer_id
                      and p.product_key == prompt.product_key and p.at <= now})
        assert prompt.last_purchase_at == own[-1]
        if len(own) >= 2:
            assert prompt.interval == statistics.median([b - a for a, b in zip(own, own[1:])])
        else:
            assert prompt.interval == timedelta(days=28 if prompt.product_key == "product:10" else 60)
    assert all(p.product_key != "product:30" for p in due)  # mugs are not watched
    chosen = choose_prompts(due, now, prompted_cycles=set(), prompted_recently=set())
    assert len({p.customer_id for p in chosen}) == len(chosen)
    for prompt in chosen:
        assert all(other.overdue(now) <= prompt.overdue(now) for other in due if other.customer_id == prompt.customer_id)


def test_the_reorder_button_leads_into_the_reorder_flow():
    from flows.nlu import IntentRouter

    [prompt] = RULES.due(bought(1, DOG_FOOD, 0), day(28))
    decision = IntentRouter().route("Reorder", prompt.button_id, "interactive")
    assert (decision.intent, decision.source) == ("reorder", "button")
