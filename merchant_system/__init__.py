"""The simulated merchant system as its own Chalice project (app.py, .chalice/, resources.json).

A package only so that tests and the local stack can import its app beside the payment
center's (`merchant_system.app`); chalice itself runs app.py from this folder."""
