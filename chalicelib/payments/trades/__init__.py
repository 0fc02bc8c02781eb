"""Trade settlement with fees, buyer fees and up-merchants (`pay_trans`), in double
entry on the payment core's journal.

Design
------
* Accounts (payments/registry.py): an account has a kind (B merchant, C the platform's own,
  e.g. fee income), a status (NORMAL, FROZEN, CLOSED) and a currency (CNY), stored on the
  balance item of its sub-account 1. Sub-account 1 (realtime) IS the core's saler account
  partition `<tenant>#<id>`; sub-account 3 (async) is the partition `<tenant>#<id>#3`. A saler
  account created by the core's first credit has no kind: it is a B/NORMAL/CNY account whose
  sub-account 1 is the balance pay and withdraw move; nothing about it changes.
* A trade (service.py) is recorded by `POST /trades` and settled once by
  `POST /trades/{trans_id}/pay`: the rules (rules.py, one named error each) give the effective
  settlement (a Plan); postings.py turns it into signed postings, each phase summing to zero.
* REALTIME postings are written in ONE DynamoDB transaction with the settlement record, whose
  condition (`state = RECORDED`) is the idempotency guard; each posting's journal entry
  (`TRADE#<trans_id>#<leg>`) is put only if absent; balances change in the same transaction
  (a debit only if covered). The buyer always pays in realtime; what async phases will credit
  waits in the platform's transit account.
* ASYNC postings wait on the settlement record itself (a transactional outbox, indexed by the
  sparse GSI `pending_async`); the trade applier (applier.py, its own scheduled Lambda) writes
  them phase by phase, ASYNC_TRADE before ASYNC_FEE, each in one transaction with the record's
  update: exactly once, however often it runs or crashes.
"""
