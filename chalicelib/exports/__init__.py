"""Exports of successful orders, both sides, to the recon bucket (docs: Reconciliation batches).

    window.py     the batch's time window [start, end) in China time, by response_time
    csvfile.py    a CSV file spooled to disk row by row, with its SHA-256 and row count
    sources.py    successful orders of a window, page by page, from each side's table
    balances.py   the payment side's balances as of the window's end and start, from the journal
    service.py    export_batch(): one or both sides, each file then its manifest, outcomes named
"""
