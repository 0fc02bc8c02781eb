"""The payment center's logic (the routes are in app.py)."""
import logging

# PynamoDB reports at INFO, in plain text, whether a settings file exists when it is first
# imported; every log line of ours is a JSON event, so its notices below WARNING are dropped.
logging.getLogger("pynamodb").setLevel(logging.WARNING)
