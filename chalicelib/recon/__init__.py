"""Reconciliation and audit (the reconciliation and audit steps of the simulation).

    formats.py    the batch's files, columns, result names, diff types, INVALID problems
    manifest.py   manifests: parsing, SHA-256, row counts and text encoding of the files
    encoding.py   the files' encodings (UTF-8, or GB18030 declared): strict checks, UTF-8 copies
    engine.py     both kinds' file pairs, the audit, errors.csv and the figures of summary.json
    pairing.py    one file pair grouped by response_id and joined (in buckets when large), its result CSV
    duckdb_session.py  the DuckDB connection and the SQL that reads CSV cells
    rowerrors.py  line numbers of the rows the engine set aside
    report.py     report.html
    batch.py      one batch folder in, one set of result files out (Lambda and CLI)
    store.py      batch state in DynamoDB and the claim that makes runs exclusive
    s3.py         the recon bucket: inputs, run folders, the latest.json pointer
    service.py    the SQS-triggered handler's work and GET /recon/{batch}
"""
