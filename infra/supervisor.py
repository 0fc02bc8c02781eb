"""Keeps a local process running: `Supervised(name, command, ...).start()`.

A process that exits while it should be running is started again after a pause that
doubles from `backoff_seconds` up to `max_backoff_seconds` (a process that then runs for
`stable_seconds` starts the count again), and each exit and restart is one JSON log line.
Until `keep_alive()` is called (e.g. when the process first answered), an exit is only
recorded: a command that cannot start at all (a busy port) fails its caller's start
instead of restarting forever. `stop()` ends the process and everything it started: each
one runs in its own session (its own process group), so a terminal's Ctrl-C reaches only
the supervisor, which then stops it in order.
"""
import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence

from chalicelib.logs import log

STOP_TIMEOUT_SECONDS = 10


class Supervised:
    """One command, restarted with backoff when it exits on its own."""

    def __init__(self, name: str, command: Sequence[str], *, env: Mapping[str, str],
                 cwd: Optional[Path] = None, output: Optional[Path] = None,
                 backoff_seconds: float = 0.5, max_backoff_seconds: float = 10.0,
                 stable_seconds: float = 30.0):
        """`output`: a file the process's stdout and stderr are appended to; by default
        it shares this process's."""
        self.name = name
        self.command = list(command)
        self.env = dict(env)
        self.cwd = cwd
        self.output = Path(output) if output else None
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.stable_seconds = stable_seconds
        self.restarts = 0
        self.last_exit_code: Optional[int] = None
        self._process: Optional[subprocess.Popen] = None
        self._keep_alive = False
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: Optional[threading.Thread] = None

    # -- state -----------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        process = self._process
        return process.pid if process is not None else None

    def running(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    def exited(self) -> bool:
        """The process ended and no restart is coming (before `keep_alive`, or stopped)."""
        return not self.running() and (not self._keep_alive or self._stopping.is_set())

    def keep_alive(self) -> None:
        """From now on an exit is followed by a restart."""
        self._keep_alive = True

    # -- running ---------------------------------------------------------------

    def _launch(self) -> subprocess.Popen:
        handle = None
        if self.output is not None:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            handle = self.output.open("ab")
        try:
            return subprocess.Popen(self.command, cwd=self.cwd, env=self.env,
                                    start_new_session=True, stdin=subprocess.DEVNULL,
                                    stdout=handle, stderr=subprocess.STDOUT if handle else None)
        finally:
            if handle is not None:
                handle.close()  # the child keeps its own descriptor

    def start(self) -> "Supervised":
        with self._lock:
            self._process = self._launch()
        log("supervisor.started", process=self.name, pid=self._process.pid)
        self._watcher = threading.Thread(target=self._watch, name=f"supervise-{self.name}",
                                         daemon=True)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        backoff = self.backoff_seconds
        while not self._stopping.is_set():
            process = self._process
            started = time.monotonic()
            code = process.wait()
            self.last_exit_code = code
            if self._stopping.is_set():
                return
            if not self._keep_alive:
                log("supervisor.exited", level=logging.ERROR, process=self.name,
                    pid=process.pid, exit_code=code, restart=False)
                return
            if time.monotonic() - started >= self.stable_seconds:
                backoff = self.backoff_seconds
            log("supervisor.exited", level=logging.ERROR, process=self.name, pid=process.pid,
                exit_code=code, restart=True, restart_in_seconds=backoff)
            if self._stopping.wait(backoff):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._process = self._launch()
                self.restarts += 1
            log("supervisor.restarted", level=logging.WARNING, process=self.name,
                pid=self._process.pid, restarts=self.restarts)
            backoff = min(backoff * 2, self.max_backoff_seconds)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """End the process (SIGTERM to its group, SIGKILL after `timeout`); no restart after."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout)
            self._watcher = None


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)  # its own group: we started it
    except ProcessLookupError:
        pass
