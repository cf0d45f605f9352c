"""The ASR simulator process object: HTTPS server, fake AAD, vault, jobs, faults.

Use `AsrSimulator` inside an event loop you own, or `AsrSimulatorThread` to run it
on its own loop in a background thread (tests, the demo): the SDK's aiohttp session
and the server must not share a loop that a test framework tears down.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from asr_operator.sim.asr import aad
from asr_operator.sim.asr.app import Arm, ArmSettings, WriteRecord, add_control_routes
from asr_operator.sim.asr.faults import FaultRule, Faults, JobFailure
from asr_operator.sim.asr.jobs import JobRunner
from asr_operator.sim.asr.throttle import ThrottleLimits, Throttler
from asr_operator.sim.asr.tls import make_server_tls
from asr_operator.sim.asr.vault import Item, Vault
from asr_operator.sim.asr.vm_endpoints import VmEndpoints
from asr_operator.sim.datacenter import Datacenter
from asr_operator.sim.scenario import Scenario

log = logging.getLogger(__name__)
T = TypeVar("T")


class AsrSimulator:
    """One simulated Recovery Services vault over HTTPS on 127.0.0.1."""

    def __init__(
        self,
        scenario: Scenario,
        datacenter: Datacenter | None = None,
        *,
        time_scale: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        retry_after: int = 0,
        cancelled_spelling: str = "Canceled",
        final_result_204: bool = False,
        page_size: int = 100,
        vm_ports: tuple[int, ...] = (3389,),
        throttle_limits: ThrottleLimits | None = None,
        throttling: bool = True,
        test_failover_suspends: bool = True,
    ) -> None:
        self.scenario = scenario
        self.datacenter = datacenter or Datacenter.from_scenario(scenario)
        self.time_scale = time_scale
        self._host, self._port = host, port
        self.faults = Faults()
        self.throttler = Throttler(limits=throttle_limits or ThrottleLimits(), enabled=throttling)
        self.endpoints = VmEndpoints(ports=vm_ports)
        self.runner = JobRunner(task_seconds=self._task_seconds, faults=self.faults)
        self.vault = Vault(
            scenario,
            self.datacenter,
            self.endpoints,
            self.runner,
            time_scale=time_scale,
            test_failover_suspends=test_failover_suspends,
        )
        self.tokens = aad.TokenService(scenario.tenant_id, list(scenario.credentials))
        self.settings = ArmSettings(
            retry_after=retry_after,
            cancelled_spelling=cancelled_spelling,
            final_result_204=final_result_204,
            page_size=page_size,
        )
        self.arm = Arm(self.vault, self.tokens, self.throttler, self.faults, self.settings)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._runner: web.AppRunner | None = None
        self._url = ""
        self._ca_path: Path | None = None

    def _task_seconds(self) -> float:
        return self.scenario.task_seconds * self.time_scale

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="asr-sim-")
        names = tuple(dict.fromkeys((self._host, "127.0.0.1", "localhost")))
        tls = make_server_tls(Path(self._tmp.name), names)
        self._ca_path = tls.ca_path
        app = web.Application(client_max_size=8 * 1024 * 1024)
        aad.add_routes(app, self.tokens)
        add_control_routes(app, self.arm, self.set_vm_answering)
        app.router.add_route("*", "/{tail:.*}", self.arm.handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=tls.context)
        await site.start()
        server = site._server
        assert server is not None and isinstance(server, asyncio.base_events.Server)
        port = server.sockets[0].getsockname()[1]
        self._url = f"https://{self._host}:{port}"
        log.info("ASR simulator listening on %s", self._url)

    async def stop(self) -> None:
        for job in list(self.vault.jobs.values()):
            if job.runner is not None and not job.runner.done():
                job.runner.cancel()
                with contextlib.suppress(BaseException):
                    await job.runner
        await self.endpoints.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --- addresses -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL: the ARM endpoint and the AAD authority host at once."""
        return self._url

    @property
    def ca_path(self) -> Path:
        """PEM bundle of the CA that signed the server certificate."""
        assert self._ca_path is not None, "simulator not started"
        return self._ca_path

    # --- inspection and faults (thread-safe) ----------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        """How often each operation was called, e.g. calls['items.plannedFailover']."""
        with self.arm._calls_lock:
            return Counter(self.arm.calls)

    def reset_calls(self) -> None:
        with self.arm._calls_lock:
            self.arm.calls.clear()

    @property
    def writes(self) -> list[WriteRecord]:
        """Every POST and PATCH as it arrived (copies), oldest first."""
        with self.arm._calls_lock:
            return [replace(w) for w in self.arm.writes]

    def inject(self, rule: FaultRule) -> None:
        self.faults.add(rule)

    def fail_job(self, failure: JobFailure) -> None:
        self.faults.add_job_failure(failure)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_throttle_limits(self, limits: ThrottleLimits) -> None:
        self.throttler.set_limits(limits)

    def item(self, name: str) -> Item:
        """A protected item by VM name or id (read it on the simulator loop to be exact)."""
        it = self.vault.find_item(name)
        if it is None:
            raise KeyError(name)
        return it

    def recovery_vm_ip(self, name: str) -> str | None:
        it = self.item(name)
        return it.recovery_vm_ips[0] if it.recovery_vm_ips else None

    async def set_vm_answering(self, name: str, answering: bool) -> None:
        """Make the Azure VM (recovery and test) of item `name` answer TCP, or not."""
        it = self.item(name)
        await self.endpoints.set_answering(f"{it.vm_id}:recovery", answering, it.recovery_booted)
        await self.endpoints.set_answering(f"{it.vm_id}:test", answering, it.test_booted)


class AsrSimulatorThread:
    """Runs an `AsrSimulator` on its own event loop in a daemon thread.

    ``with AsrSimulatorThread(scenario, time_scale=0.1) as sim: ...`` gives the
    started simulator's `url`, `ca_path`, counters and fault API; `call()` runs a
    coroutine function on the simulator loop.
    """

    def __init__(
        self, scenario: Scenario, datacenter: Datacenter | None = None, **kwargs: Any
    ) -> None:
        self.sim = AsrSimulator(scenario, datacenter, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="asr-sim", daemon=True)

    def __enter__(self) -> AsrSimulatorThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        self.run(self.sim.start())

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self.run(self.sim.stop(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run `coro` on the simulator loop and wait for its result."""
        fut: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the simulator loop (consistent reads of vault state)."""

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())

    # Convenience pass-throughs.
    @property
    def url(self) -> str:
        return self.sim.url

    @property
    def ca_path(self) -> Path:
        return self.sim.ca_path

    @property
    def calls(self) -> Counter[str]:
        return self.sim.calls

    @property
    def writes(self) -> list[WriteRecord]:
        return self.sim.writes

    def inject(self, rule: FaultRule) -> None:
        self.sim.inject(rule)

    def fail_job(self, failure: JobFailure) -> None:
        self.sim.fail_job(failure)

    def clear_faults(self) -> None:
        self.sim.clear_faults()

    def set_vm_answering(self, name: str, answering: bool) -> None:
        self.run(self.sim.set_vm_answering(name, answering))
