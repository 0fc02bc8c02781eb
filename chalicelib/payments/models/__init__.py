"""PynamoDB models of the payment core's tables: one module per table (orders, ledger, trades)."""
