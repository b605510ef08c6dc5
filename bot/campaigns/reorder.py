"""Which reorder prompts are due: pure, from purchase history, the [reorder] settings and `now`.

For each customer and watched product (matched by a `[reorder.days]` selector, or any product when
`default_days` is set; the matching itself is done in SQL by the caller) the next purchase is due
at the last purchase plus the customer's own median
interval between purchases of it, when they bought it at least twice, else the product's
`[reorder.days]`, else `default_days`. A prompt is due from then until `max_overdue_days` later;
once per purchase cycle (the cycle is the last order that contained the product), at most one a
customer a day, the most overdue product first. Whether it may be sent (consent, caps, window,
quiet hours) is the campaign planner's decision: reorder prompts count as marketing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Iterable, Literal

from bot.core.config import ReorderConfig
from bot.core.errors import ConfigError
from segments.rules import RuleError, parse_selector


def check_selectors(config: ReorderConfig, source: str = "wabot.toml") -> None:
    """Every `[reorder.days]` key is a product selector of the rule language (docs/segments.md);
    raise ConfigError naming the first that is not."""
    for key in config.days:
        try:
            parse_selector(key)
        except RuleError as exc:
            raise ConfigError(f"{source}: reorder.days: {key!r}: {exc.reason}") from None


# Two orders of one product less than a day apart are one purchase (a split or corrected order).
SAME_PURCHASE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Purchase:
    """One counted order line: who bought what, when, and the `[reorder.days]` of the first
    selector the product matches (None when none does). Matching is the segment engine's, in
    SQL, so `type:Dog Food` here means what it means in `bought("type:Dog Food")`."""

    customer_id: int
    order_id: int
    order_name: str | None
    at: datetime
    product_key: str | None  # "product:<id>", else "sku:<sku>", else "title:<title>"
    title: str | None
    days: int | None


@dataclass(frozen=True)
class DuePrompt:
    customer_id: int
    product_key: str
    product_title: str
    order_id: int  # the last order with the product: the purchase cycle
    order_name: str | None
    last_purchase_at: datetime
    interval: timedelta
    basis: Literal["own", "product", "default"]
    due_at: datetime

    @property
    def cycle(self) -> str:
        """Once per purchase cycle: a new order of the product starts a new one."""
        return f"{self.product_key}@{self.order_id}"

    def overdue(self, now: datetime) -> timedelta:
        return now - self.due_at

    @property
    def button_id(self) -> str:
        """The Reorder button's id: the router maps `reorder...` ids to the reorder intent, and the
        reorder flow answers `reorder:confirm:<order id>` with a cart of that order's items."""
        return f"reorder:confirm:{self.order_id}"

    def values(self) -> dict[str, object]:
        return {"product_title": self.product_title, "order_id": self.order_id,
                "last_order_name": self.order_name or ""}


def product_key(product_id: int | None, sku: str | None, title: str | None) -> str | None:
    if product_id is not None:
        return f"product:{product_id}"
    if sku:
        return f"sku:{sku.strip().lower()}"
    if title:
        return f"title:{title.strip().lower()}"
    return None


class ReorderRules:
    """[reorder] as the due-date rule uses it: the usual interval of a product, and how late a
    prompt may still go."""

    def __init__(self, config: ReorderConfig):
        self.config = config
        self.default = timedelta(days=config.default_days) if config.default_days else None
        self.max_overdue = timedelta(days=config.max_overdue_days)

    def product_interval(self, days: int | None) -> tuple[timedelta, str] | None:
        """The matching selector's days, else default_days; None when the product is not watched."""
        if days is not None:
            return timedelta(days=days), "product"
        if self.default is not None:
            return self.default, "default"
        return None

    def due(self, purchases: Iterable[Purchase], now: datetime) -> list[DuePrompt]:
        """Every (customer, product) whose next purchase is due at `now`, at most max_overdue late."""
        history: dict[tuple[int, str], list[Purchase]] = {}
        for purchase in purchases:
            if purchase.at > now or purchase.product_key is None:
                continue
            if self.product_interval(purchase.days) is None:
                continue
            history.setdefault((purchase.customer_id, purchase.product_key), []).append(purchase)

        found: list[DuePrompt] = []
        for (customer_id, key), bought in history.items():
            bought.sort(key=lambda p: (p.at, p.order_id))
            purchase_times: list[datetime] = []
            for p in bought:
                if not purchase_times or p.at - purchase_times[-1] >= SAME_PURCHASE:
                    purchase_times.append(p.at)
            last = bought[-1]
            if len(purchase_times) >= 2:
                gaps = [b - a for a, b in zip(purchase_times, purchase_times[1:])]
                interval, basis = median(gaps), "own"
            else:
                interval, basis = self.product_interval(last.days)  # type: ignore[misc]
            due_at = purchase_times[-1] + interval
            if due_at <= now <= due_at + self.max_overdue:
                found.append(DuePrompt(customer_id, key, last.title or key.split(":", 1)[1], last.order_id,
                                       last.order_name, purchase_times[-1], interval, basis, due_at))  # type: ignore[arg-type]
        return found


def choose_prompts(due: Iterable[DuePrompt], now: datetime, *, prompted_cycles: set[tuple[int, str]],
                   prompted_recently: set[int]) -> list[DuePrompt]:
    """At most one prompt a customer: the most overdue product whose cycle was not prompted yet,
    and none for a customer prompted in the last day."""
    best: dict[int, DuePrompt] = {}
    for prompt in due:
        if prompt.customer_id in prompted_recently or (prompt.customer_id, prompt.cycle) in prompted_cycles:
            continue
        current = best.get(prompt.customer_id)
        if current is None or (prompt.overdue(now), current.product_key) > (current.overdue(now), prompt.product_key):
            best[prompt.customer_id] = prompt
    return [best[c] for c in sorted(best)]
