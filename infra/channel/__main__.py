"""`python -m infra.channel`: the simulator alone, until Ctrl-C or SIGTERM.

CHANNEL_PORT chooses the port (default any free port; the URL is logged), CENTER_URL
the payment center to notify of paid transactions (unset: nobody is notified),
CHANNEL_KEY_ID and CHANNEL_KEY_SECRET the `channel` credential signing the notifications
(unset: they go unsigned, and a verifying center refuses them)."""
import os
import signal
import sys
import threading

from chalicelib.logs import log

from .server import ChannelSimulator


def main() -> int:
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    port = int(os.environ.get("CHANNEL_PORT") or 0)
    key_id, secret = os.environ.get("CHANNEL_KEY_ID"), os.environ.get("CHANNEL_KEY_SECRET")
    credential = {"key_id": key_id, "secret": secret} if key_id and secret else None
    simulator = ChannelSimulator(center_url=os.environ.get("CENTER_URL") or None, port=port,
                                 credential=credential).start()
    try:
        stopping.wait()
    finally:
        simulator.stop()
        log("channel.stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
