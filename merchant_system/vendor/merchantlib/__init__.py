"""The simulated merchant system: its own orders, sent to the payment center over HTTPS and
signed with its own key like any merchant's (its Chalice app is merchant_system/app.py)."""
