"""The test Hub's lifecycle: :class:`HubServer` serves the routes of ``_routes`` on 127.0.0.1 from a thread."""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from zoo.testing.hub._routes import FilePart, Request, dispatch
from zoo.testing.hub._store import (
    DEFAULT_MAX_BODY,
    URL_PREFIX,
    HTTPError,
    HubState,
    clean_path,
)

logger = logging.getLogger("zoo.testing.hub")

INVALID_TOKEN = "Invalid credentials in Authorization header"  # the exact text the client maps to a plain 401


class _BodyTooLarge(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    timeout = 60  # idle keep-alive connections must not pin handler threads forever
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.hub._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.hub._track(self.connection, add=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def _read_body(self, limit: int) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while size := int(self.rfile.readline(100).split(b";")[0].strip() or b"0", 16):
                total += size
                if total > limit:
                    raise _BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline(100)
            while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > limit:
            raise _BodyTooLarge
        return self.rfile.read(length)

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str], file: FilePart | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        self.wfile.write(body)
        if file is not None:
            with open(file.path, "rb") as fh:
                fh.seek(file.start)
                remaining = file.length
                while remaining > 0 and (chunk := fh.read(min(remaining, 1 << 20))):
                    self.wfile.write(chunk)
                    remaining -= len(chunk)

    def _error(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        # Header values must be one latin-1 line, and messages may quote client-sent paths.
        safe = "".join(c if 32 <= ord(c) < 127 else f"\\x{ord(c):02x}" for c in message)
        body = json.dumps({"error": message}).encode()
        self._reply(status, body, {"Content-Type": "application/json", "X-Error-Message": safe, **(headers or {})})

    def _handle(self) -> None:
        hub = self.server.hub
        url = urlsplit(self.path)
        hub._log(self.command, url.path)
        try:
            # Read the whole body before any answer, so that an error leaves the keep-alive stream in sync.
            body = self._read_body(hub.max_body_bytes)
        except _BodyTooLarge:
            self.close_connection = True  # the unread body is still on the wire: this stream cannot be reused
            self._error(413, f"Request body larger than {hub.max_body_bytes} bytes", {"Connection": "close"})
            return
        except (ValueError, OSError):
            self.close_connection = True  # the stream is out of sync: do not reuse it
            self._error(400, "Malformed request body", {"Connection": "close"})
            return
        try:
            user = None
            auth = self.headers.get("Authorization")
            if auth is not None and not url.path.startswith("/cas/"):  # the content store checks its own tokens
                token = auth[7:] if auth[:7].lower() == "bearer " else None
                user = hub._state.tokens.get(token) if token else None
                if user is None:
                    raise HTTPError(401, INVALID_TOKEN)
            request = Request(
                method=self.command, path=url.path, query={k: v[-1] for k, v in parse_qs(url.query).items()},
                headers=self.headers, body=body, user=user, state=hub._state, reply=self._reply,
                host=self.headers.get("Host") or hub.endpoint.split("://")[1],
            )
            dispatch(request)
        except HTTPError as err:
            self._error(err.status, err.message, {**err.headers, **({"X-Error-Code": err.code} if err.code else {})})
        except ConnectionError:
            self.close_connection = True  # the client went away mid-reply
        except Exception as exc:  # a server bug must answer, not hang the client
            logger.exception("hub server error on %s %s", self.command, self.path)
            self._error(500, f"Internal error: {exc!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: HubServer


class HubServer:
    """A local Hugging Face Hub for tests: ``with HubServer(tokens={"tok": "alice"}) as hub: ...``.

    Point the client at it with ``endpoint=hub.endpoint`` (``HfApi``, ``hf_hub_download``, ``snapshot_download``).
    ``tokens`` maps each token to its user (a plain list of tokens belongs to ``user``); ``orgs`` maps an
    organisation to its members, who may create and write repositories in its namespace; ``max_body_bytes``
    bounds every request body (413 beyond). ``root`` holds the storage (a temporary folder when None).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 tokens: Mapping[str, str] | Iterable[str] = (), user: str = "user",
                 orgs: Mapping[str, Iterable[str]] | None = None, max_body_bytes: int = DEFAULT_MAX_BODY) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="zoo-hub-") if root is None else None
        self.root = Path(self._tmp.name) if self._tmp is not None else Path(root)  # type: ignore[arg-type]
        self.user = user
        self.max_body_bytes = max_body_bytes
        self._state = HubState.build(self.root, tokens, user, orgs, max_body_bytes)
        self._log_lock = threading.Lock()
        self._request_log: list[tuple[str, str]] = []
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> HubServer:
        """Serve on 127.0.0.1 in a daemon thread; a restart reuses the previous port when it is free."""
        if self._server is not None:
            return self
        try:
            server = _Server(("127.0.0.1", self._port), _Handler)
        except OSError:
            server = _Server(("127.0.0.1", 0), _Handler)
        server.hub = self
        self._port = server.server_address[1]
        self._server = server
        # A short poll keeps stop() fast (shutdown waits for the next poll).
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"zoo-hub-{self._port}",
                                        daemon=True)
        self._thread.start()
        logger.debug("hub server listening on %s (root %s)", self.endpoint, self.root)
        return self

    def stop(self) -> None:
        """Stop serving; also cuts open keep-alive connections so the client really sees a dead server."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def close(self) -> None:
        """Stop and delete the storage if it is a temporary directory."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def endpoint(self) -> str:
        if not self._port:
            raise RuntimeError("HubServer is not started")
        return f"http://127.0.0.1:{self._port}"

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # -- request log ------------------------------------------------------------------------------------------

    def _log(self, method: str, path: str) -> None:
        with self._log_lock:
            self._request_log.append((method, path))

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """(method, raw path without query) of every request received, oldest first (a copy)."""
        with self._log_lock:
            return list(self._request_log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._request_log.clear()

    # -- server-side seeding ----------------------------------------------------------------------------------

    def _full_id(self, repo_id: str, repo_type: str) -> str:
        if repo_type not in URL_PREFIX:
            raise ValueError(f"Unknown repo type {repo_type!r}; expected one of {sorted(URL_PREFIX)}")
        return repo_id if "/" in repo_id else f"{self.user}/{repo_id}"

    def create_repo(self, repo_id: str, *, private: bool = False, repo_type: str = "model",
                    exist_ok: bool = False) -> str:
        """Create a repo owned by its namespace; returns its id."""
        repo_id = self._full_id(repo_id, repo_type)
        ns = repo_id.split("/")[0]
        try:
            created = self._state.store.create(repo_type, repo_id, ns, private, ns)
        except HTTPError as err:
            raise ValueError(f"Invalid repo id {repo_id!r}") from err
        if not created and not exist_ok:
            raise FileExistsError(f"Repo {repo_id} already exists")
        return repo_id

    def commit(self, repo_id: str, files: Mapping[str, bytes], *, branch: str = "main",
               message: str = "Upload files", delete: Iterable[str] = (), repo_type: str = "model",
               lfs: Iterable[str] = ()) -> str:
        """Commit ``files`` and deletions to storage, bypassing HTTP; a new ``branch`` forks from main.

        Paths in ``lfs`` are stored as LFS objects (their sha256 is then listed as on the Hub).
        """
        lfs_paths = set(lfs)
        store = self._state.store
        try:
            ops: list[tuple[str, str, dict[str, Any] | None]] = [("del", clean_path(p), None) for p in delete]
            ops += [("add", clean_path(p), store.put_object(bytes(d), lfs=p in lfs_paths)) for p, d in files.items()]
            return store.commit(repo_type, self._full_id(repo_id, repo_type), branch, ops, message,
                                create_branch=True, author=self.user)
        except HTTPError as err:
            raise (LookupError if err.status == 404 else ValueError)(err.message) from err

    def __repr__(self) -> str:
        where = self.endpoint if self._server is not None else "stopped"
        return f"HubServer({where}, root={str(self.root)!r})"


__all__ = ["HubServer"]
