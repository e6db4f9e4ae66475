"""HTTP for the Hub: one bounded request, and the mapping of HTTP answers and failures to ``zoo.errors``.

Every request has a per-read timeout (:data:`REQUEST_TIMEOUT_S`) and runs under a :class:`Deadline` that counts
the whole request, not the gaps between bytes: when it passes, its sockets are shut down, so a server that
dribbles its headers or body one byte at a time cannot hold a download. Redirects are httpx's
(``follow_redirects``, ``response.history``): it stops after :data:`MAX_REDIRECTS` and never forwards the
``Authorization`` header to another origin.

The bounds are module attributes, read when a request starts, so that tests (and the brave) can tighten them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final
from urllib.parse import urlsplit

from zoo._text import shown
from zoo._version import __version__
from zoo.errors import (
    HubAuthError,
    HubError,
    HubNotFoundError,
    HubProtocolError,
    HubRedirectError,
    HubServerError,
    HubTimeoutError,
    MissingFileError,
)

# The Hub's `library_name`: the distribution users `pip install` (the import name `zoo` is too generic to
# identify a library on the Hub, and the Hub keys library pages and code snippets by this name).
LIBRARY_NAME: Final = "genzoo"

REQUEST_TIMEOUT_S = 10.0  # connect, and each read: a server that says nothing for this long is timed out
DEADLINE_BASE_S = 60.0  # a request's overall deadline: this, plus a download's size at MIN_RATE bytes per second
MIN_RATE = 256 * 1024
MAX_LISTING_BYTES = 8 * 1024 * 1024
MAX_REDIRECTS = 5


def endpoint_url(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")


def has_token(token: str | bool | None) -> bool:
    if token is False:
        return False
    if isinstance(token, str):
        return bool(token)
    from huggingface_hub.utils import get_token

    return get_token() is not None


def httpx() -> ModuleType:
    """The HTTP library huggingface_hub's client belongs to (httpx2 in 2.x, httpx in 1.x)."""
    for name in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            return importlib.import_module(name)
    raise ImportError("huggingface_hub's HTTP library (httpx2 or httpx) is not installed; reinstall huggingface_hub")


def _transport_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(module).TransportError)
    return tuple(errors)


@dataclass
class Where:
    """What a request concerns, for messages: the repository, the revision and the server."""

    repo_id: str
    revision: str | None
    endpoint: str
    token: str | bool | None
    write: bool = False

    @property
    def at(self) -> str:
        return f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id

    @property
    def token_fix(self) -> str:
        access = "write" if self.write else "read"
        return f"pass token= (zoo CLI: HF_TOKEN or --token-file) with {access} access to {self.repo_id}"


class Unreachable(HubError):
    """No answer at all: nothing listens, DNS fails, the connection is refused (a cached copy may be used)."""


def status_error(status: int, headers: Any, where: Where) -> HubError:
    """The zoo error for an HTTP error status: which it was, and what to do."""
    fields: dict[str, Any] = {"repo_id": where.repo_id, "status": status}
    code = headers.get("X-Error-Code")
    server = where.endpoint
    access = "write" if where.write else "read"
    if code == "RevisionNotFound":
        return HubNotFoundError(
            f"{where.repo_id} at {server} has no revision {shown(where.revision)!r}; use an existing branch, tag or "
            f"commit sha (hf-hub:{where.repo_id} loads the default branch)", **fields)
    if code == "EntryNotFound":
        return MissingFileError(f"{where.at} at {server} has no such file (HTTP 404)", **fields)
    if code == "GatedRepo":
        return HubAuthError(f"{where.repo_id} at {server} is gated (HTTP {status}): accept its conditions on the "
                            f"repository page, then {where.token_fix}", **fields)
    if code == "RepoNotFound" or (status == 404 and code is None and not where.revision):
        who = "the token given cannot see it" if has_token(where.token) else "no token was given"
        return HubNotFoundError(
            f"repository {where.repo_id} was not found at {server} (HTTP 404): check the name; if it is private, "
            f"{who}: {where.token_fix}", **fields)
    if status == 401 and has_token(where.token):
        return HubAuthError(
            f"the Hub at {server} refused the token for {where.repo_id} (HTTP 401): check it, or pass another with "
            f"token= (zoo CLI: HF_TOKEN or --token-file); for a {'push' if where.write else 'private repo'} the "
            f"token needs {access} access", **fields)
    if status == 401:
        return HubAuthError(f"the Hub at {server} needs a token for {where.repo_id} (HTTP 401): {where.token_fix}",
                            **fields)
    if status == 403:
        return HubAuthError(f"the Hub at {server} denied {access} access to {where.repo_id} (HTTP 403): "
                            f"{where.token_fix}", **fields)
    if status == 404:
        return HubNotFoundError(f"{where.at} was not found at {server} (HTTP 404)", **fields)
    if status >= 500:
        return HubServerError(f"the Hub at {server} answered HTTP {status} (a server error) for {where.at}; "
                              "retry later", **fields)
    message = headers.get("X-Error-Message")
    detail = f": {shown(message)}" if message else ""
    return HubError(f"the Hub at {server} answered HTTP {status} for {where.at}{detail}", **fields)


class Deadline:
    """A wall-clock bound on a whole request: when it passes, the request's sockets are shut down.

    Pass :meth:`trace` as the request's ``trace`` extension: httpcore reports each new connection to it. A read
    blocked on a shut-down socket fails at once, and :func:`transport` reports that as a timeout.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._at = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._arm()

    def _arm(self) -> None:
        self._timer = threading.Timer(max(self._at - time.monotonic(), 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def extend(self, seconds: float) -> None:
        """Allow ``seconds`` more in all (a download's share, once its size is known)."""
        with self._lock:
            if self.expired or self._timer is None:
                return
            self._timer.cancel()
            self.seconds += seconds
            self._at += seconds
            self._arm()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith("connect_tcp.complete") and info.get("return_value") is not None:
            sock = info["return_value"].get_extra_info("socket")
            if isinstance(sock, socket.socket):
                with self._lock:
                    self._sockets.append(sock)
                    if self.expired:
                        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def transport(where: Where, deadline: Deadline | None = None, what: str = "the answer") -> Iterator[None]:
    """Map connection failures, timeouts and a passed deadline to zoo errors that say which."""
    lib = httpx()
    try:
        yield
    except (lib.TimeoutException, *_transport_errors()) as exc:
        if deadline is not None and deadline.expired:
            raise HubTimeoutError(
                f"downloading {what} of {where.at} from {where.endpoint} ran past its deadline of "
                f"{deadline.seconds:g} s (the server is too slow or trickles); retry later",
                repo_id=where.repo_id) from None
        if isinstance(exc, lib.TimeoutException):
            raise HubTimeoutError(
                f"the Hub at {where.endpoint} did not answer within {REQUEST_TIMEOUT_S:g} s for {where.at}; retry "
                "later, or check HF_ENDPOINT and any proxy settings", repo_id=where.repo_id) from None
        raise Unreachable(
            f"could not reach the Hub at {where.endpoint} for {where.repo_id} ({type(exc).__name__}); check the "
            "connection, HF_ENDPOINT and any proxy settings", repo_id=where.repo_id) from None
    except lib.TooManyRedirects:  # not a TransportError: httpx gave up following the redirects
        raise HubRedirectError(f"the Hub at {where.endpoint} redirected {where.at} in a loop (more than "
                               f"{MAX_REDIRECTS} redirects); report it to the server's operators",
                               repo_id=where.repo_id) from None


def headers(token: str | bool | None) -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    built: dict[str, str] = build_hf_headers(token=token, library_name=LIBRARY_NAME, library_version=__version__)
    return built


def same_origin(a: str, b: str) -> bool:
    x, y = urlsplit(a), urlsplit(b)
    return (x.scheme, x.netloc) == (y.scheme, y.netloc)


@dataclass
class Answer:
    """A response whose body is not read yet, and ``meta``: the last answer from the Hub's own origin (its headers
    name the commit, ETag and size; a CDN's do not)."""

    meta: Any
    response: Any
    deadline: Deadline


@contextlib.contextmanager
def request(method: str, url: str, where: Where, token: str | bool | None, *, follow: bool = True,
            deadline_s: float | None = None) -> Iterator[Answer]:
    """Send ``method url`` on a client of its own (closed afterwards) under one :class:`Deadline`.

    Error statuses raise zoo errors. With ``follow``, httpx follows redirects (``Authorization`` only to the
    same origin) and ``meta`` is the last answer from the Hub's origin in ``response.history``.
    """
    lib = httpx()
    deadline = Deadline(DEADLINE_BASE_S if deadline_s is None else deadline_s)
    client = lib.Client(timeout=REQUEST_TIMEOUT_S, max_redirects=MAX_REDIRECTS, follow_redirects=follow)
    try:
        with transport(where, deadline), client:
            built = client.build_request(method, url, headers=headers(token), extensions={"trace": deadline.trace})
            response = client.send(built, stream=True)
            try:
                chain = [*response.history, response]
                hub = [r for r in chain if same_origin(str(r.url), where.endpoint)]
                meta = hub[-1] if hub else response
                if response.status_code >= 400:
                    raise status_error(response.status_code, response.headers, where)
                yield Answer(meta, response, deadline)
            finally:
                response.close()
    finally:
        deadline.close()


def get_json(url: str, where: Where, token: str | bool | None) -> Any:
    """A bounded JSON answer (listings), with the request timeout and an overall deadline."""
    with request("GET", url, where, token) as answer:
        body = bytearray()
        with transport(where, answer.deadline, "the file listing"):
            for chunk in answer.response.iter_bytes():
                body += chunk
                if len(body) > MAX_LISTING_BYTES:
                    raise HubProtocolError(f"the Hub at {where.endpoint} sent more than {MAX_LISTING_BYTES:,} "
                                           f"bytes listing {where.at}; refusing it", repo_id=where.repo_id)
    try:
        return json.loads(bytes(body))
    except ValueError:
        raise HubProtocolError(f"the Hub at {where.endpoint} sent a listing of {where.at} that is not JSON",
                               repo_id=where.repo_id) from None


@contextlib.contextmanager
def translate(where: Where) -> Iterator[None]:
    """Map huggingface_hub's exceptions (raised by HfApi during a push) to zoo's. Never shows a token."""
    from huggingface_hub import errors as hf

    try:
        yield
    except hf.HfHubHTTPError as exc:
        response = exc.response
        if response is None:
            raise HubError(f"the Hub at {where.endpoint} failed for {where.at}: {shown(exc)}",
                           repo_id=where.repo_id) from None
        raise status_error(response.status_code, response.headers, where) from None
    except hf.OfflineModeIsEnabled:
        raise HubError(f"cannot push to {where.repo_id} at {where.endpoint}: HF_HUB_OFFLINE is set; unset it",
                       repo_id=where.repo_id) from None
    except httpx().TimeoutException:
        raise HubTimeoutError(f"the Hub at {where.endpoint} timed out during the push to {where.at}; retry",
                              repo_id=where.repo_id) from None
    except _transport_errors() as exc:
        raise HubError(f"could not reach the Hub at {where.endpoint} for {where.repo_id} ({type(exc).__name__}); "
                       "check the connection, HF_ENDPOINT and any proxy settings", repo_id=where.repo_id) from None


__all__ = [
    "LIBRARY_NAME",
    "Answer",
    "Deadline",
    "Unreachable",
    "Where",
    "endpoint_url",
    "get_json",
    "has_token",
    "headers",
    "httpx",
    "request",
    "same_origin",
    "status_error",
    "translate",
    "transport",
]
