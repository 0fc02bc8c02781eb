"""A small HTTP service on 127.0.0.1 in a daemon thread: the base of the local-only services
(the payment link, the channel simulator). Only start, stop and the URL live here."""
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Collection, Optional

from chalicelib.logs import log

from . import ports
from .embedded_aws import LOOPBACK, STOP_POLL_SECONDS


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # load drivers and concurrency tests open many connections at once

    def __init__(self, address, handler):
        super().__init__(address, handler)
        # Set on stop: a handler holding a connection on purpose (a simulated timeout) lets go.
        self.stopping = threading.Event()

    def handle_error(self, request, client_address):
        """A client that drops a kept-alive connection (a reset while the next request line is
        read) is ordinary under load: one JSON line, not socketserver's traceback on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            log("loopback.connection_dropped", service=type(self).__name__, error=type(error).__name__)
            return
        super().handle_error(request, client_address)


class LoopbackService:
    """`start()` binds (port 0: any free port) so `url` is known before anyone calls;
    `stop()` releases held connections, then the port. Also a context manager."""

    thread_name = "loopback"

    def __init__(self, port: int = 0):
        self.port = port
        self._server: Optional[LoopbackServer] = None
        self._thread: Optional[threading.Thread] = None

    def _make_server(self, address) -> LoopbackServer:
        raise NotImplementedError

    def _started(self) -> None:
        """Log the start (each service says what it fronts)."""

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self, avoid: Collection[int] = ()):
        """`avoid`: ports another process is about to listen on; port 0 never lands on them,
        nor on any port `ports.free_port()` handed out (the kernel hands out any port nothing
        has bound yet)."""
        avoid = set(avoid) | ports.handed_out()
        self._server, taken = self._make_server((LOOPBACK, self.port)), []
        while not self.port and self._server.server_address[1] in avoid:
            taken.append(self._server)   # held until another port is drawn
            self._server = self._make_server((LOOPBACK, self.port))
        for server in taken:
            server.server_close()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": STOP_POLL_SECONDS},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        self._started()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
