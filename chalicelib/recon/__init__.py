"""Reconciliation and audit (see the reconciliation issue)."""
