"""Reentry records in DynamoDB: claim, start sending, finish, give up; the sweeper's index.

Every write is one TransactWriteItems through the record's model (with the caller's `effects`,
writes of its own models that must change in the same transaction, e.g. a marketing subsidy's
returnable amount), so a process that dies between two writes leaves either the one or the
other, never half. Refusals are matched to the record, its guard and each effect by identity
(chalicelib/data/transactions.py), never by the position DynamoDB reports them at.

Outcomes, all named (TigerBeetle style):
* `claim`:  `Claimed(record, fresh)`  we hold the lease and must send (fresh: just created,
                                      RECEIVED; else taken over from FAILED, UNKNOWN,
                                      NEEDS_ATTENTION or an expired lease);
            `Replayed(record)`         SUCCEEDED with the same fingerprint: answer it, send nothing;
            `Mismatch(record)`         the key is known with another fingerprint: nothing changed;
            `InProgress(record)`       another holder's lease is live: nothing changed;
            `EffectRefused(index, record)`  the caller's effect `index` (its position in the
                                      list the caller gave) failed its condition: nothing changed.
            `Scheduled(record)`        a scheduled record (claim with `not_before`) not yet due:
                                      recorded, not ours to send (the due job claims it later).
* `revise_unsent`: a RECEIVED record never sent and not held: its request / attributes changed
            or it is CANCELLED (final); `LeaseLost` when someone claimed or sent it meanwhile.
* `start_sending`: the record IN_FLIGHT with `sends` + 1 and the lease renewed, or `LeaseLost`.
* `finish`: `Finished(record)` recorded; `AlreadyFinal(record)` someone else recorded a final
            state first (ours dropped, theirs returned); `LeaseLost(record)` we were taken over
            and ours was not a success (dropped; the new holder re-sends the same request).
* `give_up`: the record NEEDS_ATTENTION, or `LeaseLost` if someone holds or finished it.

The decisions (which outcome a claim reaches, what a refused finish means) are plain rules in
decisions.py; this module reads, persists them and maps refusals.

Condition expressions (exactly):
* create:        attribute_not_exists(pk)  on the record and on its OUTBOUND#<no> guard (global:
                 a number is unique across every tenant; the guard holds the record's key and
                 its `tenant` attribute when the record has one)
* take over:     #version = :seen AND #lease_until <= :now AND #state IN (RECEIVED, IN_FLIGHT,
                 UNKNOWN, FAILED, NEEDS_ATTENTION) AND (attribute_not_exists(#not_before) OR
                 #not_before <= :now)
* revise unsent: #version = :seen AND #state = RECEIVED AND #sends = 0 AND #lease_until <= :now
* start sending: #version = :mine AND #lease_until > :now
* finish:        #version = :mine AND #state = IN_FLIGHT
* late success:  #outbound_no = :no AND #version = :seen AND #state IN (RECEIVED, IN_FLIGHT, UNKNOWN,
                 FAILED, NEEDS_ATTENTION)      (:seen: the version just read; a race re-reads)
* give up:       #version = :seen AND #lease_until <= :now AND #state IN (RECEIVED, IN_FLIGHT, UNKNOWN)
"""
import dataclasses
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type, Union

from .. import clock
from ..data.transactions import Cancelled, Transaction, Update, Write
from ..dynamo import from_item
from ..logs import log
from ..retry import REENTRY_RECORD
from .decisions import (AlreadyFinal, InProgress, LateSuccess, LeaseLost, Mismatch, Replayed, Scheduled,
                        TakeOver, decide_claim, decide_refused_finish)
from .models import OPEN_INDEX, OutboundGuardModel, ReentryRecordModel, outbound_guard_of, plain
from .record import (CANCELLED, FAILED, IN_FLIGHT, NEEDS_ATTENTION, RECEIVED, SUCCEEDED, UNKNOWN, Failed,
                     Record, Succeeded, Unknown)

CLAIMED = "CLAIMED"          # the `after` that effects get for a claim (create or take-over)
MAX_ROUNDS = REENTRY_RECORD.attempts   # reads and conditional writes racing other writers of one record
RECORD, GUARD = "record", "outbound number guard"   # owners of their writes in a transaction
ALL_OLD = "ALL_OLD"          # a refused create returns the record as stored


@dataclass(frozen=True)
class Claimed:
    record: Record
    fresh: bool


@dataclass(frozen=True)
class EffectRefused:
    index: int                   # position in the caller's effects
    record: Optional[Record]     # the record as stored (None when it did not exist)


@dataclass(frozen=True)
class Finished:
    record: Record


class LeaseLostError(Exception):
    def __init__(self, record: Record):
        super().__init__(f"{record.pk}: lease lost")
        self.record = record


ClaimOutcome = Union[Claimed, Replayed, Mismatch, InProgress, EffectRefused, Scheduled]
FinishOutcome = Union[Finished, AlreadyFinal, LeaseLost]
# effects(before, after, outbound_no, outcome) -> the caller's writes (Save, Update, Delete), made with
# the record's change (outcome: the Succeeded / Failed / Unknown being recorded, None for claims):
# after = CLAIMED for a claim (before is None when the record is being created, else the record
# as it was before the take-over), else the state being recorded (SUCCEEDED, FAILED, UNKNOWN)
# and before the record as it was (IN_FLIGHT normally; any state for a late success).
Effects = Callable[[Optional[Record], str, str, Any], List[Write]]


def new_outbound_no(moment: datetime) -> str:
    """19 digits: epoch milliseconds (13) and 6 random digits. Uniqueness is not assumed:
    the OUTBOUND#<no> guard item is created with the record, a collision draws again."""
    millis = int(moment.timestamp() * 1000)
    return f"{millis:013d}{secrets.randbelow(1_000_000):06d}"[-19:]


def _no_effects(before, after, outbound_no, outcome) -> List[Write]:
    return []


class Reentry:
    def __init__(self, kind: str, *, model: Type[ReentryRecordModel],
                 guard_model: Optional[Type[OutboundGuardModel]] = None,
                 lease_seconds: float = 12,
                 retry_after_seconds: float = 30,
                 now: Callable[[], datetime] = clock.utc_now,
                 new_outbound_no: Callable[[datetime], str] = new_outbound_no,
                 sleep: Callable[[float], None] = time.sleep):
        self.kind = kind
        self.model = model           # the record type of `kind` (its table's module)
        self.guard_model = guard_model or outbound_guard_of(model)
        self.lease_seconds = lease_seconds
        self.retry_after_seconds = retry_after_seconds
        self.now = now
        self.new_outbound_no = new_outbound_no
        self.sleep = sleep
        self._backoff = REENTRY_RECORD.using(sleep=sleep)

    # -- reading ---------------------------------------------------------------------------
    def get(self, pk: str) -> Optional[Record]:
        try:
            found = self.model.get(pk, consistent_read=True)
        except self.model.DoesNotExist:
            return None
        return Record.from_item(plain(found))

    def due(self, limit: int, cursor: Optional[dict] = None) -> Tuple[List[Record], Optional[dict]]:
        """Open records of this kind whose retry time has come (the index is eventually
        consistent: callers re-read each record before acting). One Query of `limit` items."""
        # Queried by name on the record's own model: the `open` index object is shared by every
        # record type, and PynamoDB binds a shared index to whichever subclass it met last.
        page = self.model.query(self.kind, self.model.retry_at <= clock.iso_utc(self.now()),
                                index_name=OPEN_INDEX, limit=limit, page_size=limit,
                                last_evaluated_key=cursor or None)
        records = [Record.from_item(plain(found)) for found in page]
        return records, page.last_evaluated_key

    # -- time ------------------------------------------------------------------------------
    def _clock(self) -> Tuple[datetime, int, int, str]:
        moment = self.now()
        now_ms = int(moment.timestamp() * 1000)
        until_ms = now_ms + int(self.lease_seconds * 1000)
        return moment, now_ms, until_ms, clock.iso_utc(moment)

    def _ms_iso(self, millis: int) -> str:
        return clock.iso_utc(datetime.fromtimestamp(millis / 1000, tz=timezone.utc))

    # -- claim -----------------------------------------------------------------------------
    def claim(self, pk: str, reentry_key: str, fingerprint: str, request: dict,
              number_field: str, attributes: Optional[dict] = None,
              effects: Effects = _no_effects, sweep: bool = False,
              not_before_ms: int = 0) -> ClaimOutcome:
        """Create the record (RECEIVED, a new outbound number written into `request` under
        `number_field`, our lease), or decide on the stored one: replay, mismatch, in progress,
        or take it over (FAILED, UNKNOWN, NEEDS_ATTENTION, expired lease) with a new lease and
        version. `sweep`: the sweeper's claim, counted in `sweeps`. `not_before_ms` (creation
        only): a scheduled record, created without a lease and due in the `open` index at that
        time; until then every claim answers `Scheduled`."""
        for round_ in range(MAX_ROUNDS):
            # A caller's first claim is usually a new record: try to create it, the refusal
            # carries the stored one. The sweeper claims records it has just found, whose domain
            # attributes it does not carry: it reads first.
            stored = self.get(pk) if round_ or sweep else None
            if stored is None:
                created = self._create(pk, reentry_key, fingerprint, request, number_field,
                                       attributes or {}, effects, not_before_ms)
                if isinstance(created, _Created):
                    if created.record.not_before:
                        return Scheduled(created.record)
                    return Claimed(created.record, fresh=True)
                if isinstance(created, EffectRefused):
                    return created
                if created is None:          # it exists, but its old image was not returned
                    continue
                stored = created
            _, now_ms, until_ms, _ = self._clock()
            decision = decide_claim(stored, fingerprint, now_ms, until_ms, sweep)
            if not isinstance(decision, TakeOver):
                return decision
            taken = self._take_over(decision, effects, sweep)
            if taken is not None:
                return taken
            self._retry(round_)      # someone changed it between our read and our write
        raise RuntimeError(f"{pk}: no decision after {MAX_ROUNDS} rounds")

    def _retry(self, round_: int) -> None:
        self._backoff.pause(round_)

    def _declared(self, attributes: dict) -> None:
        """Records are read through their model, which reads only the attributes it declares:
        an undeclared domain attribute would be written and then never seen again."""
        unknown = set(attributes) - set(self.model.get_attributes())
        if unknown:
            raise ValueError(f"{self.model.__name__} does not declare {sorted(unknown)}")

    def _create(self, pk, reentry_key, fingerprint, request, number_field, attributes, effects,
                not_before_ms: int = 0):
        self._declared(attributes)
        model, guard_model = self.model, self.guard_model
        for _ in range(MAX_ROUNDS):
            moment, now_ms, until_ms, stamp = self._clock()
            if not_before_ms:      # scheduled: no lease; due in the open index at not_before
                until_ms = 0
            number = self.new_outbound_no(moment)
            fixed = dict(request, **{number_field: number})
            record = {**attributes, "pk": pk, "kind": self.kind, "reentry_key": reentry_key,
                      "fingerprint": fingerprint, "outbound_no": number, "state": RECEIVED,
                      "version": 1, "lease_until": until_ms, "sends": 0, "sweeps": 0,
                      "request": fixed, "created_at": stamp, "updated_at": stamp,
                      "open_kind": self.kind,
                      "retry_at": self._ms_iso(not_before_ms or until_ms)}
            if not_before_ms:
                record["not_before"] = not_before_ms
            # The one item not under a tenant: outbound numbers are unique across every tenant
            # (the channel is idempotent on them); the guard names the record and its tenant.
            guard = guard_model(guard_model.key(number), record=pk, tenant=attributes.get("tenant"))
            writes = effects(None, CLAIMED, number, None)
            transaction = Transaction(model)
            transaction.save(model(**record), condition=model.pk.does_not_exist(), owner=RECORD,
                             return_values=ALL_OLD)
            transaction.save(guard, condition=guard_model.pk.does_not_exist(), owner=GUARD)
            for write in writes:
                transaction.add(write)
            try:
                transaction.commit()
            except Cancelled as cancelled:
                if cancelled.condition_failed(RECORD):
                    old = cancelled.old_item(RECORD)
                    return Record.from_item(from_item(old)) if old else None   # None: read it and decide
                if cancelled.condition_failed(GUARD):
                    log("reentry.outbound_no_collision", kind=self.kind, outbound_no=number)
                    continue
                refused = _refused_effect(cancelled, writes)
                if refused is not None:
                    return EffectRefused(refused, None)
                if cancelled.conflicted:
                    self._retry(1)
                    continue
                raise
            log("reentry.created", kind=self.kind, pk=pk, outbound_no=number)
            return _Created(Record.from_item(record))
        raise RuntimeError(f"{pk}: could not draw an unused outbound number")

    def _take_over(self, decision: TakeOver, effects: Effects, sweep: bool):
        """Persist `decision` under the take-over's condition (the version it read still stored)."""
        stored, until_ms = decision.record, decision.lease_until
        moment, now_ms, _, stamp = self._clock()
        model = self.model
        actions = [model.version.set(decision.next_version), model.lease_until.set(until_ms),
                   model.updated_at.set(stamp), model.retry_at.set(self._ms_iso(until_ms)),
                   model.open_kind.set(self.kind), model.sweeps.set(decision.sweeps)]
        condition = ((model.version == stored.version) & (model.lease_until <= now_ms)
                     & model.state.is_in(RECEIVED, IN_FLIGHT, UNKNOWN, FAILED, NEEDS_ATTENTION)
                     & (model.not_before.does_not_exist() | (model.not_before <= now_ms)))
        writes = effects(stored, CLAIMED, stored.outbound_no, None)
        try:
            self._commit(Update(model(stored.pk), actions, condition), writes)
        except Cancelled as cancelled:
            if cancelled.condition_failed(RECORD):
                return None
            refused = _refused_effect(cancelled, writes)
            if refused is not None:
                return EffectRefused(refused, stored)
            if cancelled.conflicted:
                return None
            raise
        log("reentry.taken_over", kind=self.kind, pk=stored.pk, outbound_no=stored.outbound_no,
            before=stored.state, version=decision.next_version, sweep=sweep)
        return Claimed(_replace(stored, version=decision.next_version, lease_until=until_ms,
                                updated_at=stamp, sweeps=decision.sweeps),
                       fresh=False)

    def _commit(self, change: Update, writes: Sequence[Write] = ()) -> None:
        """The record's `change` and the caller's `writes`, in one transaction (Cancelled names
        the record's refusal under RECORD, each write's under the write itself)."""
        transaction = Transaction(self.model)
        transaction.add(change, owner=RECORD)
        for write in writes:
            transaction.add(write)
        transaction.commit()

    # -- revising a scheduled record before its first send -------------------------------
    def revise_unsent(self, record: Record, request: Optional[dict] = None,
                      attributes: Optional[dict] = None, cancel: bool = False,
                      effects: Sequence[Write] = ()) -> Union[Finished, LeaseLost]:
        """Change the stored request and/or domain attributes of a record that was never sent
        and is not held (version `record.version`), or CANCEL it (final, out of the index).
        `effects`: writes of the caller's in the same transaction (a refusal of one of them is
        raised as `Cancelled`). The version goes up, so a take-over that read the old record
        fails and re-reads."""
        self._declared(attributes or {})
        _, now_ms, _, stamp = self._clock()
        model = self.model
        sets = dict(attributes or {})
        if request is not None:
            sets["request"] = request
        sets.update(version=record.version + 1, updated_at=stamp)
        actions = [getattr(model, name).set(value) for name, value in sets.items()]
        if cancel:
            actions += [model.state.set(CANCELLED), model.open_kind.remove(), model.retry_at.remove()]
        condition = ((model.version == record.version) & (model.state == RECEIVED)
                     & (model.sends == 0) & (model.lease_until <= now_ms))
        try:
            self._commit(Update(model(record.pk), actions, condition), effects)
        except Cancelled as cancelled:
            if cancelled.condition_failed(RECORD) or cancelled.conflicted:
                return LeaseLost(self.get(record.pk) or record)
            raise
        log("reentry.revised_unsent", kind=self.kind, pk=record.pk, outbound_no=record.outbound_no,
            cancelled=cancel, version=record.version + 1)
        extra = dict(record.extra, **(attributes or {}))
        return Finished(_replace(record, version=record.version + 1, updated_at=stamp,
                                 state=CANCELLED if cancel else record.state,
                                 request=request if request is not None else record.request,
                                 extra=extra))

    # -- sending ---------------------------------------------------------------------------
    def start_sending(self, record: Record) -> Record:
        """IN_FLIGHT, sends + 1, the lease renewed for a whole call; LeaseLostError if our
        lease expired or someone took the record over (then we must not send)."""
        moment, now_ms, until_ms, stamp = self._clock()
        model = self.model
        actions = [model.state.set(IN_FLIGHT), model.sends.set(model.sends + 1),
                   model.lease_until.set(until_ms), model.updated_at.set(stamp),
                   model.retry_at.set(self._ms_iso(until_ms)), model.open_kind.set(self.kind)]
        condition = (model.version == record.version) & (model.lease_until > now_ms)
        try:
            self._commit(Update(model(record.pk), actions, condition))
        except Cancelled as cancelled:
            if cancelled.condition_failed(RECORD):
                raise LeaseLostError(self.get(record.pk) or record) from None
            raise
        return _replace(record, state=IN_FLIGHT, sends=record.sends + 1, lease_until=until_ms,
                        updated_at=stamp)

    # -- finishing -------------------------------------------------------------------------
    def finish(self, record: Record, outcome: Union[Succeeded, Failed, Unknown],
               effects: Effects = _no_effects) -> FinishOutcome:
        """Record what our send of `record` produced (we hold version `record.version`)."""
        state = _state_of(outcome)
        model = self.model
        written = self._write_outcome(record, outcome, effects,
                                      (model.version == record.version) & (model.state == IN_FLIGHT))
        if written is not None:
            return Finished(written)
        for _ in range(MAX_ROUNDS):
            stored = self.get(record.pk)
            decision = decide_refused_finish(stored, record, state)
            if isinstance(decision, LateSuccess):
                # The channel applied this number: a fact no later answer can contradict.
                late = self._write_outcome(
                    stored, outcome, effects,
                    (model.outbound_no == record.outbound_no) & (model.version == stored.version)
                    & model.state.is_in(RECEIVED, IN_FLIGHT, UNKNOWN, FAILED, NEEDS_ATTENTION))
                if late is not None:
                    log("reentry.late_success_recorded", kind=self.kind, pk=record.pk,
                        outbound_no=record.outbound_no, replaced=stored.state)
                    return Finished(late)
                continue
            if isinstance(decision, AlreadyFinal):
                if stored.state != state:
                    log("reentry.late_answer_dropped", kind=self.kind, pk=record.pk,
                        outbound_no=record.outbound_no, stored=stored.state, late=state)
                return decision
            log("reentry.lease_lost", kind=self.kind, pk=record.pk, outbound_no=record.outbound_no,
                mine=record.version, stored_version=stored.version, dropped=state)
            return decision
        raise RuntimeError(f"{record.pk}: could not record the outcome")

    def _write_outcome(self, before: Record, outcome, effects: Effects, condition) -> Optional[Record]:
        moment, _, _, stamp = self._clock()
        state = _state_of(outcome)
        model = self.model
        sets = {"state": state, "lease_until": 0, "updated_at": stamp}
        removes = []
        if isinstance(outcome, Succeeded):
            sets["result"] = outcome.answer
            removes += ["failure", "last_error"]
        elif isinstance(outcome, Failed):
            sets["failure"] = {"code": outcome.code, "message": outcome.message}
            removes += ["last_error"]
        else:
            sets["last_error"] = outcome.reason
        if state == UNKNOWN:
            retry = moment + timedelta(seconds=self.retry_after_seconds)
            sets["open_kind"] = self.kind
            sets["retry_at"] = clock.iso_utc(retry)
        else:
            removes += ["open_kind", "retry_at"]
        actions = ([getattr(model, name).set(value) for name, value in sets.items()]
                   + [getattr(model, name).remove() for name in removes])
        change = Update(model(before.pk), actions, condition)
        writes = effects(before, state, before.outbound_no, outcome)
        for round_ in range(MAX_ROUNDS):
            try:
                self._commit(change, writes)
                break
            except Cancelled as cancelled:
                if cancelled.condition_failed(RECORD):
                    return None
                if cancelled.conflicted:
                    self._retry(round_)
                    continue
                raise
        else:
            raise RuntimeError(f"{before.pk}: contention outlasted {MAX_ROUNDS} rounds")
        log("reentry.finished", kind=self.kind, pk=before.pk, outbound_no=before.outbound_no,
            state=state, detail=(outcome.reason if isinstance(outcome, Unknown) else
                                 outcome.code if isinstance(outcome, Failed) else None))
        return _replace(before, state=state, lease_until=0, updated_at=stamp,
                        result=sets.get("result", before.result),
                        failure=None if isinstance(outcome, Succeeded) else sets.get("failure", before.failure),
                        last_error=sets.get("last_error"))

    # -- giving up -------------------------------------------------------------------------
    def give_up(self, record: Record, reason: str) -> Union[Finished, LeaseLost]:
        """NEEDS_ATTENTION (out of the sweeper's index) for an open record nobody holds."""
        _, now_ms, _, stamp = self._clock()
        model = self.model
        actions = [model.state.set(NEEDS_ATTENTION), model.updated_at.set(stamp),
                   model.last_error.set(reason), model.open_kind.remove(), model.retry_at.remove()]
        condition = ((model.version == record.version) & (model.lease_until <= now_ms)
                     & model.state.is_in(RECEIVED, IN_FLIGHT, UNKNOWN))
        try:
            self._commit(Update(model(record.pk), actions, condition))
        except Cancelled as cancelled:
            if cancelled.condition_failed(RECORD):
                return LeaseLost(self.get(record.pk) or record)
            raise
        return Finished(_replace(record, state=NEEDS_ATTENTION, updated_at=stamp, last_error=reason))


def _refused_effect(cancelled: Cancelled, writes: Sequence[Write]) -> Optional[int]:
    """The position, in the caller's own list, of the first of its writes whose condition was
    false (matched by identity, whatever order the transaction sent them in), or None."""
    return next((index for index, write in enumerate(writes) if cancelled.condition_failed(write)),
                None)


@dataclass(frozen=True)
class _Created:
    record: Record


def _state_of(outcome) -> str:
    if isinstance(outcome, Succeeded):
        return SUCCEEDED
    if isinstance(outcome, Failed):
        return FAILED
    return UNKNOWN


def _replace(record: Record, **changes) -> Record:
    return dataclasses.replace(record, **changes)
