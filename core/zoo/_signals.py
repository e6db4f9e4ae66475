"""Signals, in one place, for the trainer and the command line.

- :func:`graceful_signals` (``zoo train``): SIGINT, SIGTERM and SIGHUP ask the trainer to finish the step and
  save a checkpoint; a second one stops at once (KeyboardInterrupt).
- :func:`terminate_cleanly` (every CLI command): SIGTERM and SIGHUP raise :class:`Terminated`, so ``finally``
  blocks run (temporary files are removed) and the CLI reports it in one line.

A closed terminal (SIGHUP) is treated like the others unless the process was started to ignore it (``nohup``).
Handlers can only be installed from the main thread; elsewhere both are no-ops.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

logger = logging.getLogger("zoo.train")

Handler = Callable[[int, Any], None]


class Terminated(Exception):
    """SIGTERM or SIGHUP arrived: unwind (removing temporary files) and report it in one line."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def hangup() -> signal.Signals | None:
    """SIGHUP, unless the platform has none (Windows) or the process ignores it (started under ``nohup``)."""
    sighup = getattr(signal, "SIGHUP", None)
    return sighup if sighup is not None and signal.getsignal(sighup) is not signal.SIG_IGN else None


@contextlib.contextmanager
def handling(signums: Iterable[int], handler: Handler) -> Iterator[None]:
    """Within the block, ``handler`` handles each of ``signums``; the previous handlers come back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def graceful_signals(received: Callable[[], int | None], record: Callable[[int], None]) -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP call ``record(signum)``; a second one raises KeyboardInterrupt."""

    def handler(signum: int, frame: Any) -> None:
        if received() is not None:
            raise KeyboardInterrupt
        record(signum)
        logger.warning("received %s: saving a checkpoint after this step", signal.Signals(signum).name)

    sighup = hangup()
    with handling([signal.SIGINT, signal.SIGTERM, *([sighup] if sighup else [])], handler):
        yield


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated`, so ``finally`` blocks run (zoo train saves instead).

    Only signals still at their default action are taken: nohup's SIG_IGN, or an embedding program's handler, stays.
    """

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(signum)

    candidates = (signal.SIGTERM, getattr(signal, "SIGHUP", None))
    with handling([s for s in candidates if s is not None and signal.getsignal(s) is signal.SIG_DFL], handler):
        yield


__all__ = ["Terminated", "graceful_signals", "handling", "hangup", "terminate_cleanly"]
