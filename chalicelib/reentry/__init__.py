"""A generic, reusable reentry mechanism for calls to a channel that moves money.

A business request is identified by its *reentry key* (e.g. bizSubsidiesId). Its record, one
DynamoDB item, holds a fingerprint of the parameters that matter, the outbound number (allocated
ONCE, stored before any channel call, never changed), the exact channel request, a state and a
lease. `store.Reentry` reads and writes records; `attempt.attempt` sends one record's request once
under its lease and records what came back. Subsidies (chalicelib/subsidies) and profit sharing
(chalicelib/sharing) use it.

Tenants: the callers key their records under their tenant (chalicelib/tenant_keys.py) and pass
a `tenant` attribute; the mechanism itself is tenant-blind, except that the outbound number's
guard `OUTBOUND#<no>` stays global, so a number is never drawn twice across tenants.

States:  RECEIVED ──start_sending──▶ IN_FLIGHT ──finish──▶ SUCCEEDED | FAILED | UNKNOWN
         FAILED, UNKNOWN, NEEDS_ATTENTION, or RECEIVED / IN_FLIGHT whose lease expired ──claim──▶
         (same state, new lease, version + 1) ──start_sending──▶ IN_FLIGHT ...
         UNKNOWN / stale ──give_up (the sweeper, after its bounded tries)──▶ NEEDS_ATTENTION
         Scheduled records (claim with `not_before`): RECEIVED without a lease, in the `open`
         index at their due time; nobody may take them over before it. Until their first send
         `revise_unsent` may change their request or CANCEL them (final, never sent).

The rules:
* One outbound number per record, for ever. UNKNOWN (timeout, connection error, 5xx,
  SYSTEM_ERROR, unreadable answer) is resolved only by re-sending the identical stored request
  with the same number; the channel is reentrant on it, so an earlier success comes back.
* A definitively FAILED record may be executed again: again with the SAME number.
  A rejection applied nothing under that number, so the number is free on the channel; and a
  send of ours that was abandoned (timed out, or outlived its lease) may still land on the
  channel after a later send was rejected. With one number per key, whichever send lands,
  every other one is a replay of it; with a new number, both could land (or the channel's
  one-subsidy-per-order rule would refuse the new one: the production bug).
* The lease (`lease_until`) and its fencing token (`version`, +1 at each claim) allow one
  in-flight call per record. Duplicates meanwhile get `InProgress`. Every write of a holder is
  conditional on its version; a holder whose lease expired (while the channel was slow) and was
  taken over cannot record FAILED or UNKNOWN any more, and the new holder re-sends the SAME
  request with the SAME number, so no second, different call is ever made. A SUCCESS answer
  for the record's number is the channel's fact and is recorded by whoever receives it,
  fenced or not (it can only replace a non-final state, or a FAILED of the same number).
* The lease outlives a whole channel call (connect + read timeouts + margin): a holder whose
  lease expired has already given up on its call.
"""
from .record import (CANCELLED, FAILED, IN_FLIGHT, NEEDS_ATTENTION, NEEDS_ATTENTION_METRIC, OPEN_STATES, RECEIVED, SUCCEEDED, UNKNOWN,
                     Failed, Record, Succeeded, Unknown)
from .store import (CLAIMED, AlreadyFinal, Claimed, EffectRefused, Finished, InProgress, LeaseLost, Mismatch,
                    Reentry, Replayed, Scheduled)
from .attempt import attempt

__all__ = ["CLAIMED", "CANCELLED", "Scheduled", "RECEIVED", "IN_FLIGHT", "SUCCEEDED", "FAILED", "UNKNOWN", "NEEDS_ATTENTION",
           "NEEDS_ATTENTION_METRIC",
           "OPEN_STATES", "Record", "Succeeded", "Failed", "Unknown", "Reentry", "Claimed",
           "Replayed", "Mismatch", "InProgress", "EffectRefused", "Finished", "AlreadyFinal",
           "LeaseLost", "attempt"]
