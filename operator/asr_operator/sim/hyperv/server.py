"""The Hyper-V simulator: one WinRM listener per simulated host, on its own port.

Each host of the scenario gets a `ThreadingHTTPServer` on 127.0.0.1 (https with a
trustme CA by default, or http). It speaks the WS-Management shell protocol
(Create, Command, Receive, Signal, Delete), authenticates with NTLM (sealing bodies
when the connection is http, as WinRM's AllowUnencrypted=false demands) or basic
(https only, unless `allow_unencrypted`), and runs commands through `FakePowerShell`
against the shared `Datacenter`.

Faults are switched per host on the simulator object: host down (connection refused
or reset), authentication failure, slow commands, script errors.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from asr_operator.sim.datacenter import Datacenter
from asr_operator.sim.hyperv import wsman
from asr_operator.sim.hyperv.ntlm import (
    AUTHENTICATE,
    CONTENT_TYPE,
    NEGOTIATE,
    Acceptor,
    SpnegoError,
    message_type,
    write_user_file,
)
from asr_operator.sim.hyperv.powershell import (
    FakePowerShell,
    Invocation,
    Result,
    clixml,
    parse_command_line,
)

DownMode = Literal["refused", "reset"]


@dataclass(frozen=True)
class RecordedCommand:
    """One command a host received, decoded: what tests assert on."""

    host: str
    user: str
    command_line: str
    script: str
    script_name: str
    payload: dict[str, Any]
    exit_code: int
    auth: str = ""  # "ntlm" | "basic"
    sealed: bool = False  # the SOAP body was NTLM-encrypted (http)
    tls: bool = False


@dataclass(frozen=True)
class _Peer:
    user: str
    auth: str
    sealed: bool


@dataclass
class _Command:
    result: Result
    started: float


@dataclass
class _Host:
    name: str
    users: list[tuple[str, str]]
    user_file: Path
    shells: dict[str, dict[str, _Command]] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0
    listener: _Listener | None = None
    down: DownMode | None = None
    auth_failing: bool = False
    latency: float = 0.0
    script_errors: list[str] = field(default_factory=list)

    def accepts(self, username: str, password: str) -> bool:
        return not self.auth_failing and any(
            u.lower() == username.lower() and p == password for u, p in self.users
        )


class HyperVSimulator:
    """Simulated Hyper-V hosts behind WinRM. Thread-based: `start()`, `stop()` or `with`."""

    def __init__(
        self,
        datacenter: Datacenter,
        *,
        tls: bool = True,
        address: str = "127.0.0.1",
        allow_unencrypted: bool = False,
    ) -> None:
        self.datacenter = datacenter
        self.tls = tls
        self.address = address
        self.allow_unencrypted = allow_unencrypted
        self._powershell = FakePowerShell(datacenter)
        self._dir = Path(tempfile.mkdtemp(prefix="hyperv-sim-"))
        self._hosts: dict[str, _Host] = {}
        for site in datacenter.scenario.sites:
            for h in site.hosts:
                users = [(u.username, u.password) for u in h.users]
                user_file = self._dir / f"users-{len(self._hosts)}.txt"
                write_user_file(user_file, users)
                self._hosts[h.name.lower()] = _Host(h.name, users, user_file)
        self._commands: list[RecordedCommand] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.tls_context: ssl.SSLContext | None = None
        self.cbt_hash: bytes | None = None
        self._ca_path: Path | None = None
        if tls:
            self._setup_tls()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> HyperVSimulator:
        self.stopping.clear()
        for host in self._hosts.values():
            self._listen(host)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for host in self._hosts.values():
            with host.cond:
                host.cond.notify_all()
            self._close(host)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> HyperVSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where things are ------------------------------------------------------------------

    @property
    def hosts(self) -> list[str]:
        return [h.name for h in self._hosts.values()]

    def endpoint(self, host_name: str) -> tuple[str, int]:
        return self.address, self._host(host_name).port

    def url(self, host_name: str) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.address}:{self._host(host_name).port}/wsman"

    @property
    def ca_path(self) -> str | None:
        """PEM of the CA that signed the listeners' certificate (None over http)."""
        return str(self._ca_path) if self._ca_path else None

    @property
    def commands(self) -> list[RecordedCommand]:
        with self._lock:
            return list(self._commands)

    def clear_commands(self) -> None:
        with self._lock:
            self._commands.clear()

    # -- faults ----------------------------------------------------------------------------

    def set_host_down(
        self, host_name: str, down: bool = True, *, mode: DownMode = "refused"
    ) -> None:
        """`refused`: nothing listens on the port; `reset`: connections are accepted and reset."""
        host = self._host(host_name)
        host.down = mode if down else None
        if down:
            self._close(host)
            if mode == "reset":
                self._listen(host)
        else:
            self._close(host)
            self._listen(host)

    def set_auth_failure(self, host_name: str, failing: bool = True) -> None:
        """Reject every login, even with the right password (a locked or expired account)."""
        self._host(host_name).auth_failing = failing

    def set_latency(self, host_name: str, seconds: float) -> None:
        """Commands on this host take `seconds` before their output is ready."""
        host = self._host(host_name)
        with host.cond:
            host.latency = seconds
            host.cond.notify_all()

    def inject_script_error(self, host_name: str, message: str, times: int = 1) -> None:
        """The next `times` commands fail with `message` as a PowerShell error (exit code 1)."""
        self._host(host_name).script_errors.extend([message] * times)

    def reset_faults(self) -> None:
        for host in self._hosts.values():
            if host.down:
                self.set_host_down(host.name, False)
            host.auth_failing = False
            host.script_errors.clear()
            self.set_latency(host.name, 0.0)

    # -- internals -------------------------------------------------------------------------

    def _host(self, name: str) -> _Host:
        try:
            return self._hosts[name.lower()]
        except KeyError:
            raise KeyError(f"no simulated Hyper-V host {name!r}; have {self.hosts}") from None

    def _setup_tls(self) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert(self.address, "localhost")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self.tls_context = ctx
        self._ca_path = self._dir / "ca.pem"
        ca.cert_pem.write_to_path(str(self._ca_path))
        # RFC 5929 tls-server-end-point, which NTLM binds to over https (CBT).
        leaf = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes())
        algorithm = leaf.signature_hash_algorithm
        if algorithm is None or algorithm.name in ("md5", "sha1"):
            algorithm = hashes.SHA256()
        digest = hashes.Hash(algorithm)
        digest.update(leaf.public_bytes(serialization.Encoding.DER))
        self.cbt_hash = digest.finalize()

    def _listen(self, host: _Host) -> None:
        if host.listener is not None:
            return
        listener = _Listener((self.address, host.port), self, host)
        host.port = listener.server_address[1]
        host.listener = listener
        threading.Thread(
            target=listener.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"hyperv-sim-{host.name}",
            daemon=True,
        ).start()

    def _close(self, host: _Host) -> None:
        listener, host.listener = host.listener, None
        if listener is not None:
            listener.shutdown()
            listener.server_close()
            listener.drop_connections()

    def _record(self, host: _Host, peer: _Peer, line: str, inv: Invocation | None, rc: int) -> None:
        entry = RecordedCommand(
            host=host.name,
            user=peer.user,
            command_line=line,
            script=inv.script if inv else "",
            script_name=inv.script_name if inv else "",
            payload=dict(inv.payload) if inv else {},
            exit_code=rc,
            auth=peer.auth,
            sealed=peer.sealed,
            tls=self.tls,
        )
        with self._lock:
            self._commands.append(entry)

    def handle_soap(
        self, host: _Host, peer: _Peer, data: bytes, base_url: str
    ) -> tuple[int, bytes]:
        """One WS-Management request: (HTTP status, SOAP reply)."""
        try:
            req = wsman.parse(data)
        except Exception:
            return 400, b""
        rid = req.message_id
        with host.cond:
            shell = host.shells.get(req.shell_id or "")
        if req.action == wsman.CREATE:
            shell_id = str(uuid.uuid4()).upper()
            with host.cond:
                host.shells[shell_id] = {}
            return 200, wsman.created(rid, shell_id, base_url)
        if shell is None:
            return 500, wsman.fault(
                rid,
                wsman.FAULT_SHELL_NOT_FOUND,
                f"The request for the Windows Remote Shell with ShellId {req.shell_id} failed "
                "because the shell was not found on the server.",
                "w:InvalidSelectors",
            )
        if req.action == wsman.COMMAND:
            line = wsman.command_line(req.body)
            inv = parse_command_line(line)
            with host.cond:
                injected = host.script_errors.pop(0) if host.script_errors else None
            if injected is not None:
                result = Result(b"", clixml(injected), 1)
            else:
                result = self._powershell.run(host.name, inv, line)
            self._record(host, peer, line, inv, result.exit_code)
            command_id = str(uuid.uuid4()).upper()
            with host.cond:
                shell[command_id] = _Command(result, time.monotonic())
            return 200, wsman.command_started(rid, command_id)
        if req.action == wsman.RECEIVE:
            command_id = wsman.receive_command_id(req.body)
            cmd = shell.get(command_id)
            if cmd is None:
                return 500, wsman.fault(rid, wsman.FAULT_SHELL_NOT_FOUND, "Unknown CommandId.")
            if not self._wait_ready(host, cmd, req.operation_timeout):
                return 500, wsman.fault(
                    rid,
                    wsman.FAULT_OPERATION_TIMEOUT,
                    "The WS-Management service cannot complete the operation within the time "
                    "specified in OperationTimeout.",
                    "w:TimedOut",
                )
            r = cmd.result
            return 200, wsman.received(
                rid,
                command_id,
                base64.b64encode(r.stdout).decode("ascii"),
                base64.b64encode(r.stderr).decode("ascii"),
                r.exit_code,
            )
        if req.action == wsman.SIGNAL:
            with host.cond:
                shell.pop(wsman.signal_command_id(req.body), None)
            return 200, wsman.signalled(rid)
        if req.action == wsman.DELETE:
            with host.cond:
                host.shells.pop(req.shell_id or "", None)
            return 200, wsman.deleted(rid)
        return 500, wsman.fault(
            rid,
            wsman.FAULT_UNSUPPORTED_ACTION,
            f"The WS-Management service does not support the action {req.action}.",
            "w:ActionNotSupported",
        )

    def _wait_ready(self, host: _Host, cmd: _Command, operation_timeout: float) -> bool:
        """Wait for a slow host's output, at most one OperationTimeout (then the client retries)."""
        give_up = time.monotonic() + operation_timeout
        with host.cond:
            while True:
                now = time.monotonic()
                ready = cmd.started + host.latency
                if self.stopping.is_set() or now >= ready:
                    return True
                if now >= give_up:
                    return False
                host.cond.wait(min(ready, give_up) - now)


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sim: HyperVSimulator, host: _Host) -> None:
        self.sim = sim
        self.host = host
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._conn_lock:
            (self._connections.add if alive else self._connections.discard)(conn)

    def drop_connections(self) -> None:
        with self._conn_lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that drop mid-request are normal here (faults, timeouts): stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30
    server: _Listener

    def setup(self) -> None:
        self._reset = self.server.host.down == "reset"
        if self._reset:
            # SO_LINGER 0: close with RST, as a host whose WinRM service died mid-flight.
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.request.close()
            return
        self.acceptor: Acceptor | None = None
        self.ntlm_user = ""
        self.auth_scheme = ""
        ctx = self.server.sim.tls_context
        if ctx is not None:
            self.request.settimeout(self.timeout)
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()
        self.server.track(self.connection, True)

    def handle(self) -> None:
        if not self._reset:
            super().handle()

    def finish(self) -> None:
        if not self._reset:
            self.server.track(self.connection, False)
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    @property
    def _clear_allowed(self) -> bool:
        """Basic auth and unsealed bodies: only over TLS, or when AllowUnencrypted is set."""
        return self.server.sim.tls or self.server.sim.allow_unencrypted

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/").lower() != "/wsman":
            self._send(404, b"")
            return
        user = self._authenticate()
        if user is None:
            return
        sealed = self.headers.get("Content-Type", "").lower().startswith("multipart/encrypted")
        if sealed:
            if self.acceptor is None or not self.acceptor.complete:
                self._send(400, b"")
                return
            try:
                soap = self.acceptor.unseal(body)
            except Exception:
                self._send(400, b"")
                return
        elif not body:
            self._send(200, b"")  # pywinrm's auth-only POST before it starts sealing
            return
        elif not self._clear_allowed:
            self._send(
                500,
                wsman.fault(
                    "",
                    wsman.FAULT_UNENCRYPTED,
                    "The WinRM service requires encrypted messages: unencrypted traffic is "
                    "disabled (AllowUnencrypted=false).",
                    "w:AccessDenied",
                ),
            )
            return
        else:
            soap = body
        scheme = "https" if self.server.sim.tls else "http"
        base = f"{scheme}://{self.server.sim.address}:{self.server.host.port}/wsman"
        peer = _Peer(user, self.auth_scheme, sealed)
        status, reply = self.server.sim.handle_soap(self.server.host, peer, soap, base)
        if sealed and self.acceptor is not None:
            self._send(status, self.acceptor.seal(reply), CONTENT_TYPE)
        else:
            self._send(status, reply)

    def _authenticate(self) -> str | None:
        """The user this request runs as, or None after answering 401 (challenge or refusal)."""
        host = self.server.host
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        scheme = scheme.lower()
        if scheme:
            self.auth_scheme = "basic" if scheme == "basic" else "ntlm"
        if scheme == "basic" and self._clear_allowed:
            try:
                username, _, password = base64.b64decode(value).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                username = password = ""
            if host.accepts(username, password):
                return username
            self._unauthorized()
            return None
        if scheme in ("negotiate", "ntlm"):
            try:
                token = base64.b64decode(value)
            except binascii.Error:
                token = b""
            kind = message_type(token)
            if kind == NEGOTIATE:
                self.acceptor = Acceptor(host.user_file, self.server.sim.cbt_hash)
                challenge = self.acceptor.step(token) or b""
                self._send(401, b"", www_auth=[f"Negotiate {base64.b64encode(challenge).decode()}"])
                return None
            if kind == AUTHENTICATE and self.acceptor is not None:
                try:
                    self.acceptor.step(token)
                except (SpnegoError, ValueError):
                    self.acceptor = None
                if self.acceptor is not None and self.acceptor.complete and not host.auth_failing:
                    self.ntlm_user = self.acceptor.username
                    return self.ntlm_user
            self.acceptor, self.ntlm_user = None, ""
            self._unauthorized()
            return None
        if self.ntlm_user:
            return self.ntlm_user  # NTLM authenticates the connection, not each request
        self._unauthorized()
        return None

    def _unauthorized(self) -> None:
        offers = ["Negotiate"]
        if self._clear_allowed:
            offers.append('Basic realm="WSMAN"')
        self._send(401, b"", www_auth=offers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/soap+xml;charset=UTF-8",
        www_auth: list[str] | None = None,
    ) -> None:
        self.send_response(status)
        for offer in www_auth or []:
            self.send_header("WWW-Authenticate", offer)
        self.send_header("Server", "Microsoft-HTTPAPI/2.0")
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
