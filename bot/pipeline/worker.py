"""The inbound worker: a claimed event -> customer update -> flows -> replies into the outbox.

Each event is applied in one transaction together with marking it done, so an event is processed
exactly once even if the process dies half-way: either everything it caused is stored, or nothing
is and the lease returns it to the queue.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.automations import cod
from bot.campaigns import template_health
from bot.conversation import customers, handoff, intake, outbox
from bot.conversation.customers import Customer, mask
from bot.core import languages
from bot.core.config import Settings
from bot.core.db import insert_ignoring_conflicts
from bot.core.logmask import mask_text
from bot.core.retry import Backoff
from bot.core.tables import inbound_messages
from bot.core.times import utcnow
from bot.pipeline import identity
from bot.whatsapp.events import (
    AccountChange,
    InboundMessage,
    MarketingPreference,
    StatusUpdate,
    UserIdChange,
    effective_time,
)
from bot.whatsapp.window import window_open
from flows import effects, language, runner
from flows.answers import yes_or_no
from flows.context import FlowServices, SegmentLookup, no_segments
from flows.nlu import IntentDecision, IntentRouter
from flows.rasa_rest import RasaClient, RasaUnavailable, message_for_rasa
from flows.replies import ReplyBook
from segments.language import customer_language

log = logging.getLogger(__name__)

_SET_HANDLED = (sa.update(inbound_messages).where(inbound_messages.c.id == sa.bindparam("row_id"))
                .values(handled=sa.bindparam("handled")))

# Opting out or back in is honoured (and confirmed) even while a person holds the conversation.
ALWAYS_ANSWERED = ("stop", "start")
# What a yes or no never overrides while a cash-on-delivery question waits: opting out or in,
# asking for a person, choosing a language, or a tap on one of our buttons.
NOT_AN_ANSWER = ("stop", "start", "human", "language", "cod", "cart")
# A cart sent from the catalog is answered by action_cart whatever its note says (docs/catalog.md).
CART = IntentDecision("cart", 1.0, "order")
# Events applied in one transaction (run_once): at most this many, closed after this long.
GROUP_SIZE = 16
GROUP_SECONDS = 0.02


class InboundWorker:
    def __init__(self, engine: Engine, settings: Settings, *, router: IntentRouter, replies: ReplyBook,
                 clock: Callable[[], datetime] = utcnow, metrics=None,
                 segment_lookup: SegmentLookup = no_segments, on_enqueued: Callable[[], None] | None = None,
                 yield_to_requests: Callable[[], None] | None = None, rasa: RasaClient | None = None,
                 backoff: Backoff | None = None):
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.router = router
        self.replies = replies
        self.segment_lookup = segment_lookup
        self.on_enqueued = on_enqueued or (lambda: None)
        # In `wabot serve` the worker shares a process (and SQLite's one writer) with the webhook:
        # acknowledging Meta comes first, processing may lag a burst by a little.
        self.yield_to_requests = yield_to_requests or (lambda: None)
        self.rasa = rasa if rasa is not None else (RasaClient(settings.rasa_url) if settings.rasa_url else None)
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"
        self.backoff = backoff or settings.file.delivery.backoff()
        # Read among the built-in languages too: a line in one the store does not answer in is
        # still not English (bot/core/languages.py decides what counts).
        self.readable_languages = tuple(dict.fromkeys((*settings.store.languages, *languages.BUILT_IN)))

    # -- loop

    def run_once(self, limit: int = 50) -> int:
        """Process one claimed batch. Events are applied in groups sharing one transaction, the
        group closed after GROUP_SECONDS or GROUP_SIZE events: one commit (and one turn of SQLite's
        write lock) for several events, while the webhook's inserts and the sender never wait long,
        and the sender is woken once a group, not once an event (docs/performance.md, "The
        background process"). Events for Rasa are asked one by one, outside any transaction."""
        claimed = intake.claim(self.engine, self.owner, self.clock(), limit=limit)
        for_rasa = [self.rasa is not None and self._for_rasa(item.event) for item in claimed]
        enqueued = False
        position = 0
        while position < len(claimed):
            item = claimed[position]
            self.yield_to_requests()
            if for_rasa[position]:
                enqueued |= self._guarded(item, lambda item=item: self._via_rasa(item, self.clock()))
                position += 1
            else:
                end = position + 1
                while end < min(len(claimed), position + GROUP_SIZE) and not for_rasa[end]:
                    end += 1
                enqueued |= self._apply_group(claimed[position:end])
                position = end
            if enqueued and position < len(claimed):
                self.on_enqueued()  # let the sender start on the first replies of a long batch
                enqueued = False
        if enqueued:
            self.on_enqueued()
        return len(claimed)

    def _apply_group(self, group: list[intake.ClaimedEvent]) -> bool:
        """Apply the events in one transaction. Should one of them fail, the transaction is rolled
        back and each event applied again in a transaction of its own, so that a bad event is
        given back to the queue alone (as bot/core/batching.py does with writes): nothing is lost
        and nothing applied twice, and the common case pays no savepoints."""
        # Read before the transaction: the detector's models load on first use (about a second),
        # which must not hold the database.
        readings = [self._language_of(item.event) for item in group]
        if len(group) == 1:
            return self._guarded(group[0], lambda: self._apply(group, readings)[0])
        try:
            enqueued, done = self._apply(group, readings)
        except Exception as exc:
            log.warning("a group of %d inbound events failed together (%s); applying them one by one",
                        len(group), exc.__class__.__name__)
            enqueued = False
            for item in group:
                enqueued |= self._apply_group([item])
            return enqueued
        if done < len(group):
            enqueued |= self._apply_group(group[done:])
        return enqueued

    def _apply(self, group: list[intake.ClaimedEvent], readings: list) -> tuple[bool, int]:
        """(queued something to send, how many events were applied): stops after GROUP_SECONDS,
        so that the write lock is not held long."""
        enqueued, done = False, 0
        with self.engine.begin() as conn:
            started = time.monotonic()
            for item, reading in zip(group, readings):
                if done and time.monotonic() - started > GROUP_SECONDS:
                    break
                now = self.clock()
                enqueued |= self.process(conn, item.event, item.received_at, now, reading=reading)
                intake.complete(conn, item.id, self.owner, now)
                done += 1
        return enqueued, done

    def _guarded(self, item: intake.ClaimedEvent, work: Callable[[], bool]) -> bool:
        try:
            return work()
        except Exception as exc:
            return self._failed(item, exc)

    def _failed(self, item: intake.ClaimedEvent, exc: Exception) -> bool:
        """Give a failed event back with the intake's backoff; a dead one gets its holding answer."""
        if isinstance(exc, RasaUnavailable):
            log.warning("inbound event %s: %s (attempt %s; retried later)", item.id, exc, item.attempts)
            intake.fail(self.engine, item, self.owner, self.clock(), f"rasa unavailable: {exc}", self.backoff)
            return False
        log.error("inbound event %s failed (attempt %s)", item.id, item.attempts, exc_info=exc)
        if intake.fail(self.engine, item, self.owner, self.clock(), mask_text(f"{exc.__class__.__name__}: {exc}"),
                       self.backoff):
            return self._dead_fallback(item)
        return False

    def run_forever(self, stop: threading.Event, wake: threading.Event | None = None, idle_wait: float = 0.05) -> None:
        while not stop.is_set():
            if wake is not None:
                wake.clear()  # before the round, so a wake-up during it is not lost
            try:
                handled = self.run_once()
            except Exception:
                log.exception("worker round failed")
                handled = 0
            if not handled:
                (wake or stop).wait(idle_wait)

    def drain(self) -> None:
        while self.run_once():
            pass

    # -- one event

    def process(self, conn: Connection, event, received_at: datetime, now: datetime, *,
                reading: language.Reading | None | bool = False) -> bool:
        """Apply one event; returns True when it queued something to send. `reading`: the
        language of a message's text, read by the caller (False: read it here)."""
        if isinstance(event, InboundMessage):
            return self._message(conn, event, received_at, now,
                                 self._language_of(event) if reading is False else reading)
        if isinstance(event, StatusUpdate):
            self._status(conn, event, now)
        elif isinstance(event, MarketingPreference):
            self._preference(conn, event, now)
        elif isinstance(event, UserIdChange):
            identity.rekey(conn, event, now)  # a changed BSUID (docs/usernames.md)
        elif isinstance(event, AccountChange):
            # template status and quality updates decide what campaigns may send (docs/campaigns.md)
            if template_health.record(conn, event, received_at, now) is None:
                log.info("webhook field %s: %s", event.field_name, event.event or "-")
        return False

    def _language_of(self, event) -> language.Reading | None:
        """What the customer typed is evidence of their language (docs/languages.md); taps are not."""
        if isinstance(event, InboundMessage) and event.type == "text":
            return language.read(event.text, self.readable_languages)
        return None

    def _record_inbound(self, conn: Connection, msg: InboundMessage, decision: IntentDecision | None,
                        received_at: datetime, now: datetime,
                        reading: language.Reading | None) -> tuple[Customer, int, str | None, bool]:
        """Store the customer's message: (customer, row id, how it was handled, newly stored)."""
        sent_at = effective_time(msg.timestamp, received_at) or received_at
        # One customer per person: a username record joins the phone record (docs/usernames.md).
        customer = identity.arrive(conn, wa_id=msg.wa_id, user_id=msg.user_id,
                                   profile_name=msg.profile_name, sent_at=sent_at, now=now)
        inserted = list(insert_ignoring_conflicts(conn, inbound_messages, [{
            "wa_message_id": msg.message_id, "customer_id": customer.id, "type": msg.type,
            "text": msg.text, "button_id": msg.reply_id[:256] if msg.reply_id else None,  # the column's size
            "intent": decision.intent if decision else None, "intent_source": decision.source if decision else None,
            "language": reading.language if reading else None, "sent_at": sent_at, "received_at": received_at,
        }], ["wa_message_id"], returning=inbound_messages.c.id))
        if inserted:
            if reading is not None:
                customers.record_language_read(conn, customer.id, reading.language, sent_at)
            if msg.referral is not None:
                customers.record_referral(conn, customer.id, sent_at)
            return customer, inserted[0][0], None, True
        row = conn.execute(sa.select(inbound_messages.c.id, inbound_messages.c.handled)
                           .where(inbound_messages.c.wa_message_id == msg.message_id)).one()
        return customer, row.id, row.handled, False

    def _message(self, conn: Connection, msg: InboundMessage, received_at: datetime, now: datetime,
                 reading: language.Reading | None) -> bool:
        if not msg.sender:
            log.warning("message %s has no sender; stored only", msg.message_id)
            return False
        decision = self.router.route(msg.text, msg.reply_id, msg.type) if msg.wants_reply else None
        order = runner.order_of(msg.content)
        decision = CART if order is not None else decision
        customer, row_id, _, new = self._record_inbound(conn, msg, decision, received_at, now, reading)
        if not new:
            return False  # the same message reached us under another event key; answered already
        if decision is None:
            self._handled(conn, row_id, "no_reply")
            return False
        decision = self._cod_answer(conn, customer, msg, decision)

        conversation = handoff.get(conn, customer.id)
        if conversation.bot_silent and decision.intent not in ALWAYS_ANSWERED:
            self._handled(conn, row_id, "silent_handoff")
            return False

        services = FlowServices.bound(self.settings, self.replies, conn, now, self.segment_lookup, customer=customer,
                                      conversation=conversation)
        outcome = runner.run_intent(decision, services, customer.wa_id, msg.text, msg.reply_id, order=order)
        effects.apply_action(conn, customer.id, outcome.action, outcome.events, now=now,
                             reason=f"{decision.intent} ({decision.source})",
                             streak_before=conversation.fallback_streak)
        return self._reply(conn, customer, row_id, outcome.messages, now,
                           source=outcome.action or f"reply:{decision.intent}", intent=decision)

    def _cod_answer(self, conn: Connection, customer: Customer, msg: InboundMessage,
                    decision: IntentDecision) -> IntentDecision:
        """A yes or a no (in any of the store's languages) while an order of the customer waits
        for its cash-on-delivery confirmation is that answer (docs/automations.md)."""
        if self.settings.file.automations.cod_confirmation is None or decision.intent in NOT_AN_ANSWER:
            return decision
        if decision.source == "button" and msg.reply_id and ":" in msg.reply_id:
            return decision  # a tap on another of our buttons
        answer = yes_or_no(msg.text, self.settings.store.languages)
        if answer is None or cod.awaiting(conn, customer.id) is None:
            return decision
        return IntentDecision("cod", 1.0, "answer", answer)

    def _reply(self, conn: Connection, customer: Customer, row_id: int, messages: list[dict], now: datetime,
               *, source: str, intent: IntentDecision | None) -> bool:
        # The customer as stored now: a message redelivered days late finds the window closed.
        if not window_open(customer.last_inbound_at, now):
            self._handled(conn, row_id, "window_closed")
            return False
        for message in messages:
            outbox.enqueue(conn, recipient=customer.wa_id, customer_id=customer.id, message=message, now=now,
                           kind="reply", category="service", source=source)
        self._handled(conn, row_id, "replied" if messages else "no_reply")
        log.info("message from %s: intent %s (%s), %d repl%s", mask(customer.wa_id),
                 intent.intent if intent else "-", intent.source if intent else source,
                 len(messages), "y" if len(messages) == 1 else "ies")
        return bool(messages)

    # -- Rasa mode

    def _for_rasa(self, event) -> bool:
        """Text and taps go to Rasa; media, STOP, START, a choice of language and the answer to a
        cash-on-delivery question stay with us (opting out is our duty, the customer's language is
        our record, and the answer tags their order)."""
        if not isinstance(event, InboundMessage) or not event.sender or not event.wants_reply:
            return False
        if not (event.text or event.reply_id) or runner.order_of(event.content) is not None:
            return False  # nothing to read, or a cart: answered by action_cart here
        intent = self.router.route(event.text, event.reply_id, event.type).intent
        if intent in (*ALWAYS_ANSWERED, "media", "language", "cod"):
            return False
        return not self._answers_cod_question(event, intent)

    def _answers_cod_question(self, event: InboundMessage, intent: str) -> bool:
        if self.settings.file.automations.cod_confirmation is None or intent in NOT_AN_ANSWER \
                or yes_or_no(event.text, self.settings.store.languages) is None:
            return False
        with self.engine.connect() as conn:
            customer = customers.find(conn, event.sender)
            return customer is not None and cod.awaiting(conn, customer.id) is not None

    def _via_rasa(self, item: intake.ClaimedEvent, now: datetime) -> bool:
        """Store the message, ask Rasa outside any transaction (its actions write to our database
        through `wabot actions`), then queue the answers and mark the event done.

        Rasa down: the event goes back to the queue with the intake's backoff; on the last attempt
        the customer gets a polite holding answer and the conversation goes to the agents' queue.
        """
        msg: InboundMessage = item.event
        routed = self.router.route(msg.text, msg.reply_id, msg.type)
        # Stored with our router's intent (for asked()), marked as answered by Rasa.
        decision = IntentDecision(routed.intent, routed.confidence, "rasa", routed.matched)
        reading = self._language_of(msg)  # outside the transaction, as in run_once
        with self.engine.begin() as conn:
            customer, row_id, handled, _ = self._record_inbound(conn, msg, decision, item.received_at, now, reading)
            if handled is None and handoff.get(conn, customer.id).bot_silent:
                handled = "silent_handoff"
                self._handled(conn, row_id, handled)
            if handled is not None:
                intake.complete(conn, item.id, self.owner, now)
                return False
            typing = self._typing_indicator(conn, customer, msg, now)
        if typing:
            self.on_enqueued()  # before Rasa is asked: the indicator is for the wait
        metadata = {"message_id": msg.message_id, "type": msg.type}
        if msg.reply_id:
            metadata["reply_id"] = msg.reply_id
        try:
            answers = self.rasa.send(customer.wa_id, message_for_rasa(msg.text, msg.reply_id, routed), metadata)
        except RasaUnavailable:
            if item.attempts < intake.MAX_ATTEMPTS:
                raise
            answers = None
        now = self.clock()
        with self.engine.begin() as conn:
            if answers is None:
                log.warning("Rasa unavailable after %s attempts; holding answer to %s", item.attempts,
                            mask(customer.wa_id))
                messages = self._holding_answer(conn, customer, now)
                handoff.transition(conn, customer.id, handoff.PENDING, actor="bot", now=now,
                                   reason="assistant unavailable", expect=(handoff.BOT,))
                source = "reply:assistant_unavailable"
            else:
                messages, source = runner.to_graph_messages(answers), "rasa"
            enqueued = self._reply(conn, customer, row_id, messages, now, source=source, intent=decision)
            intake.complete(conn, item.id, self.owner, now)
        return enqueued

    @staticmethod
    def _typing_indicator(conn: Connection, customer: Customer, msg: InboundMessage, now: datetime) -> bool:
        """Rasa's answer takes more than a second: the message is marked read with the typing
        indicator, once (docs/usernames.md). It goes through the outbox like every other request."""
        return outbox.enqueue(conn, recipient=customer.wa_id, customer_id=customer.id, kind="read",
                              message={"message_id": msg.message_id, "typing_indicator": {"type": "text"}},
                              now=now, source="typing", dedupe_key=f"typing:{msg.message_id}"[:256]) is not None

    def _dead_fallback(self, item: intake.ClaimedEvent) -> bool:
        """A message we could not process however often we tried: the customer still gets a polite
        holding answer where one may be sent (the window), and a person is asked to look."""
        msg = item.event
        if not isinstance(msg, InboundMessage) or not msg.sender or not msg.wants_reply:
            return False
        now = self.clock()
        sent_at = effective_time(msg.timestamp, item.received_at) or item.received_at
        if not window_open(sent_at, now):
            return False
        try:
            with self.engine.begin() as conn:
                customer = customers.find(conn, msg.sender)
                language = customer_language(conn, customer.id, self.settings.store.languages)[0] \
                    if customer else None
                rendered = self.replies.render("assistant_unavailable", (), {
                    "first_name": customer.first_name if customer else None}, language)
                if rendered is None:
                    return False
                outbox.enqueue(conn, recipient=msg.sender, customer_id=customer.id if customer else None,
                               message=runner.to_graph_messages([{"text": rendered.text}])[0], now=now,
                               kind="reply", category="service", source="reply:dead_event",
                               dedupe_key=f"dead-event:{item.id}")
                if customer is not None:
                    handoff.transition(conn, customer.id, handoff.PENDING, actor="bot", now=now,
                                       reason="a message could not be processed", expect=(handoff.BOT,))
        except Exception:
            log.exception("no holding answer for dead event %s", item.id)
            return False
        log.warning("inbound event %s is dead; holding answer queued for %s", item.id, mask(msg.sender))
        return True

    def _holding_answer(self, conn: Connection, customer: Customer, now: datetime) -> list[dict]:
        services = FlowServices.bound(self.settings, self.replies, conn, now, self.segment_lookup)
        with services.reading() as data:
            context = data.context(customer.wa_id)
        rendered = self.replies.render("assistant_unavailable", context.segments, context.values, context.language)
        return runner.to_graph_messages([{"text": rendered.text}]) if rendered else []

    @staticmethod
    def _handled(conn: Connection, row_id: int, handled: str) -> None:
        conn.execute(_SET_HANDLED, {"row_id": row_id, "handled": handled})

    def _status(self, conn: Connection, status: StatusUpdate, now: datetime) -> None:
        row = outbox.apply_status(conn, status, now)
        if status.status in ("read", "played"):
            customer_id = row["customer_id"] if row else None
            if customer_id is None and status.recipient:
                found = customers.find(conn, status.recipient)
                customer_id = found.id if found else None
            if customer_id is not None:
                customers.record_read(conn, customer_id, effective_time(status.timestamp, now) or now)
        if status.status == "failed" and status.errors:
            log.info("message %s failed: %s", row["id"] if row else status.message_id, status.errors[0].code)

    def _preference(self, conn: Connection, pref: MarketingPreference, now: datetime) -> None:
        if pref.value not in ("stop", "resume") or not pref.sender:
            return
        if not customers.set_marketing_paused(conn, pref.sender, pref.value == "stop", now):
            log.info("marketing preference for an unknown customer %s", mask(pref.sender))
