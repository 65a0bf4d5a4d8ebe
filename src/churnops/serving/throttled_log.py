"""One log line per kind of event and interval, however often the event happens.

An attack (slow clients, wrong admin tokens, aborted uploads) can repeat an event thousands
of times a second; a line per event would flood the log and cost the server more than the
event itself. ``ThrottledLog`` logs the first occurrence at once, then at most one line per
``interval`` seconds saying how many happened since.
"""

from __future__ import annotations

import logging
import threading
import time

LOG_EVERY_S = 10.0


class ThrottledLog:
    def __init__(
        self, logger: logging.Logger, level: int = logging.WARNING, interval: float = LOG_EVERY_S
    ) -> None:
        self.logger = logger
        self.level = level
        self.interval = interval
        self._unlogged = 0
        self._last = -float("inf")
        self._lock = threading.Lock()

    def event(self, message: str, *args: object) -> None:
        """Count one event; log ``message % args`` (with the count since the last line) when
        the previous line is older than the interval."""
        now = time.monotonic()
        with self._lock:
            self._unlogged += 1
            if now - self._last < self.interval:
                return
            count, self._unlogged, self._last = self._unlogged, 0, now
        suffix = f" ({count} such events since the last line)" if count > 1 else ""
        self.logger.log(self.level, message + suffix, *args)
