"""Ctrl-C, SIGTERM and SIGHUP during training: finish the step, save a checkpoint, return (a second one: stop now)."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

logger = logging.getLogger("zoo.train")


@contextlib.contextmanager
def graceful_signals(received: Callable[[], int | None], record: Callable[[int], None]) -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP call ``record(signum)``; a second one raises KeyboardInterrupt.

    A closed terminal (SIGHUP) saves like Ctrl-C, unless the process was started to ignore it (``nohup``).
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        if received() is not None:
            raise KeyboardInterrupt
        record(signum)
        logger.warning("received %s: saving a checkpoint after this step", signal.Signals(signum).name)

    caught = [signal.SIGINT, signal.SIGTERM]
    hangup = getattr(signal, "SIGHUP", None)  # absent on Windows
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        caught.append(hangup)
    previous = {s: signal.signal(s, handler) for s in caught}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
