"""The shape of the operator's log lines: one line per decision, outcome and Event, scoped
to the object; JSON by default off a terminal; the Azure SDK quiet unless asked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from asr_operator.api.conditions import Reason
from asr_operator.api.operation import OperationalStatus, OperationStatus, OperationType, Phase
from asr_operator.controllers import journal
from asr_operator.controllers.run import configure_logging, default_log_format, parser
from asr_operator.lifecycle.steps import (
    Accepted,
    Refusal,
    Refused,
    StartFailover,
    Submit,
    Wait,
)

IDLE = OperationalStatus(phase=Phase.PROTECTED, reason="Reconciled")
FAILING_OVER = OperationalStatus(
    phase=Phase.FAILING_OVER,
    reason="Progressing",
    operation=OperationStatus(
        run_id="run-1",
        type=OperationType.FAILOVER,
        requested_at=datetime(2026, 1, 1, tzinfo=UTC),
        job_name="job-1",
    ),
)
SUBMIT = Submit(StartFailover(planned=True, recovery_point_id=None, shutdown_source=False))


@pytest.fixture()
def root() -> Iterator[None]:
    """configure_logging replaces the root logger's handler and levels: put them back."""
    logger = logging.getLogger()
    handlers, level = logger.handlers[:], logger.level
    azure = logging.getLogger("azure").level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logging.getLogger("azure").setLevel(azure)


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line]


def json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(capsys)]


def test_a_decision_is_one_json_line_scoped_to_the_object(
    root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "info", "warning")
    journal.decision("ProtectedVM", "dr", "web01", IDLE, FAILING_OVER, SUBMIT)
    (line,) = json_lines(capsys)
    assert line["object"] == {
        "apiVersion": "asr-operator.io/v1alpha1",
        "kind": "ProtectedVM",
        "namespace": "dr",
        "name": "web01",
    }
    assert line["phase"] == "FailingOver"
    assert line["operation"] == "Failover" and line["run_id"] == "run-1"
    assert line["job"] == "job-1"
    assert line["step"] == "Submit" and line["action"] == "StartFailover"
    assert line["severity"] == "info" and line["timestamp"]
    assert line["message"] == (
        "ProtectedVM dr/web01 [FailingOver] Failover job job-1: decided to call ASR StartFailover"
    )


def test_outcomes_and_events_are_lines_too(root: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "info", "warning")
    journal.outcome("ProtectedVM", "dr", "web01", FAILING_OVER, SUBMIT, Accepted("job-2"))
    refused = Refused(Refusal.CONFLICT, "another job runs")
    journal.outcome("ProtectedVM", "dr", "web01", FAILING_OVER, SUBMIT, refused)
    journal.event("RecoveryPlan", "dr", "web", IDLE, "Warning", "ItemNotFound", "no item")
    accepted, refusal, event = json_lines(capsys)
    assert accepted["job"] == "job-2" and accepted["severity"] == "info"
    assert refusal["refusal"] == "Conflict" and refusal["severity"] == "warn"
    assert event["object"]["kind"] == "RecoveryPlan"
    assert (event["event_type"], event["event_reason"]) == ("Warning", "ItemNotFound")
    assert (
        event["message"] == "RecoveryPlan dr/web [Protected]: event Warning ItemNotFound: no item"
    )


def test_an_idle_cycle_logs_nothing_at_info(root: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "info", "warning")
    wait = Wait(Reason.RECONCILED, "nothing to do", 30.0)
    journal.decision("ProtectedVM", "dr", "web01", IDLE, IDLE, wait)
    assert lines(capsys) == []
    configure_logging("json", "debug", "warning")
    journal.decision("ProtectedVM", "dr", "web01", IDLE, IDLE, wait)
    (line,) = json_lines(capsys)
    assert line["step"] == "Wait" and line["severity"] == "debug"


def test_the_azure_sdk_logs_only_warnings_unless_asked(
    root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parser().parse_args(["-A"]).azure_log_level == "warning"
    configure_logging("json", "debug", "warning")
    http = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    http.info("Request URL: 'https://management.azure.com/...'")
    http.warning("a warning")
    assert [line["message"] for line in json_lines(capsys)] == ["a warning"]
    configure_logging("json", "info", "info")
    http.info("Request URL")
    assert [line["message"] for line in json_lines(capsys)] == ["Request URL"]


def test_text_on_a_terminal_json_elsewhere(root: None, capsys: pytest.CaptureFixture[str]) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert default_log_format(Terminal()) == "full"
    assert default_log_format(io.StringIO()) == "json"
    assert parser().parse_args(["-A"]).log_format is None  # decided at start
    configure_logging("full", "info", "warning")
    journal.decision("ProtectedVM", "dr", "web01", IDLE, FAILING_OVER, SUBMIT)
    (line,) = lines(capsys)
    assert "[INFO    ]" in line
    assert line.endswith(
        "ProtectedVM dr/web01 [FailingOver] Failover job job-1: decided to call ASR StartFailover"
    )
