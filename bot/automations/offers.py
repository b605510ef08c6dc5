"""What each automation sends, as the campaign planner's offers (bot/campaigns/planner.py).

An automation's messages live in the campaign ledger under the name `automation:<name>`, with
the step as the ledger's variant: step k of the abandoned-checkout sequence is offer k; the
cash-on-delivery question is offer 0 and its reminder offer 1 (the same message). Deferred sends
are planned again by bot/campaigns/runs.py, which asks here for the offers and the buttons.
Pure: configuration in, offers out.
"""
from __future__ import annotations

from typing import Literal, Mapping

from bot.campaigns.planner import Offer
from bot.core.config import AUTOMATIONS, AutomationMessage, Settings, TemplateRef
from flows.replies import label

PREFIX = "automation:"
KIND = "automation"
Category = Literal["marketing", "utility"]
# The payloads of the cash-on-delivery template's quick replies, in order: the first button
# confirms, the second cancels (docs/automations.md). The router sends `cod:...` to the cod flow.
COD_CONFIRM, COD_CANCEL = "cod:confirm:{order_id}", "cod:cancel:{order_id}"


def ledger_name(name: str) -> str:
    return PREFIX + name


def automation_of(ledger: str) -> str | None:
    """`automation:order_shipped` -> `order_shipped`; None for a campaign's name."""
    if ledger.startswith(PREFIX) and ledger[len(PREFIX):] in AUTOMATIONS:
        return ledger[len(PREFIX):]
    return None


def category_of(name: str) -> Category:
    return "marketing" if name == "abandoned_checkout" else "utility"


def _offer(message: AutomationMessage, *, cod: bool = False) -> Offer:
    template = message.template
    if cod and template is not None:
        # Meta returns our payload on a tap: it names the order, so an answer finds it.
        template = TemplateRef(**{**template.model_dump(), "quick_replies": (COD_CONFIRM, COD_CANCEL)})
    return Offer(text=message.text, template=template, texts=dict(message.texts))


def offers(settings: Settings, name: str) -> tuple[Offer, ...] | None:
    """The offers of an automation, by step; None when it is not configured."""
    config = settings.file.automations
    if name == "abandoned_checkout":
        checkout = config.abandoned_checkout
        if checkout is None:
            return None
        default = settings.store.default_language
        return tuple(_offer(checkout.step(k, default)) for k in range(len(checkout.after_minutes)))
    message = getattr(config, name, None) if name in AUTOMATIONS else None
    if message is None:
        return None
    if name == "cod_confirmation":
        offer = _offer(message, cod=True)
        return offer, offer  # the question, and its reminder
    return (_offer(message),)


def buttons(name: str, context: Mapping[str, object], language: str) -> tuple[tuple[str, str], ...]:
    """Reply buttons of a free-form message: the cash-on-delivery question's Confirm and Cancel."""
    if name != "cod_confirmation":
        return ()
    order_id = context.get("order_id", "")
    return ((COD_CONFIRM.format(order_id=order_id), label(language, "cod_confirm")),
            (COD_CANCEL.format(order_id=order_id), label(language, "cod_cancel")))


def discount_code(settings: Settings, name: str) -> str:
    checkout = settings.file.automations.abandoned_checkout
    if name == "abandoned_checkout" and checkout is not None and checkout.discount_code:
        return checkout.discount_code
    return settings.file.sale.discount_code
