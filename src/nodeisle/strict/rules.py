"""Strict mode: the catalog of isolation rules and the violations they record.

Each rule has an id, a severity per context (orchestrator or worker), a description and a
remediation naming the guideline broken and its fix. Detectors live where the behaviour happens
(``_node`` for parameter mutation, ``_api`` for bus calls, ``_hosting`` for the schema probe);
they all report through :func:`record`, which logs each violation once, in one line, through the
``nodeisle.strict_mode`` logger.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

LOGGER = logging.getLogger("nodeisle.strict_mode")


class Severity(enum.StrEnum):
    WARNING = "WARNING"
    ERROR = "ERROR"


class Context(enum.StrEnum):
    """Where library code runs: in the orchestrator process (Shared) or in a worker (Isolated)."""

    ORCHESTRATOR = "orchestrator"
    WORKER = "worker"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    orchestrator: Severity | None
    worker: Severity | None
    description: str
    remediation: str

    def severity(self, context: Context) -> Severity | None:
        return self.orchestrator if context is Context.ORCHESTRATOR else self.worker


REENTRANT_BUS_IN_INIT = Rule(
    id="reentrant-bus-in-init",
    orchestrator=Severity.ERROR,
    worker=Severity.ERROR,
    description=(
        "A node's __init__ issued a request through the engine. __init__ runs during the schema probe, "
        "before the worker is connected; a bus call there would deadlock the worker. The class is "
        "dropped from the library schema."
    ),
    remediation=(
        "Guideline: __init__ does no I/O and issues no event-bus requests. Declare parameters in "
        "__init__ with self.add_parameter(...) and move the request into process()."
    ),
)

PARAMETER_BEHAVIORS_DROPPED = Rule(
    id="parameter-behaviors-dropped-in-schema",
    orchestrator=Severity.WARNING,
    worker=Severity.WARNING,
    description=(
        "A parameter carries converters, validators or traits. Only its scalar fields (name, type, "
        "default, tooltip, allowed modes) cross to the orchestrator's stand-in; the behaviours run "
        "only where the node executes."
    ),
    remediation=(
        "Guideline: custom converters / validators / traits are either re-run inside process() or "
        "accepted as orchestrator-only UI sugar. Move the validation or transform into process(), or "
        "accept the divergence if it is a display nicety."
    ),
)

PARAMETER_MUTATION_DURING_APROCESS = Rule(
    id="parameter-mutation-during-aprocess",
    orchestrator=Severity.WARNING,
    worker=Severity.ERROR,
    description=(
        "add_parameter / remove_parameter_element was called during process(). The change applies "
        "only to the transient node built for this execution; the orchestrator's authoritative node "
        "never sees it. On a worker the node's result becomes a failure."
    ),
    remediation=(
        "Guideline: no add_parameter / remove_parameter_element inside process(). Emit "
        "AddParameterToNodeRequest / RemoveParameterFromNodeRequest via nodeisle.handle_request(...) "
        "(GriptapeNodes.handle_request(...) in Griptape-API code) instead, or adjust parameters in "
        "before_value_set / after_value_set."
    ),
)

WORKER_REACH_INTO_ORCHESTRATOR = Rule(
    id="worker-reach-into-orchestrator",
    orchestrator=None,
    worker=Severity.WARNING,
    description=(
        "A request was forwarded from the worker to the orchestrator during node execution "
        "(hydration included). Each forwarded call is a network round trip and its answer is "
        "stale-by-call."
    ),
    remediation=(
        "Guideline: pass data into nodes via parameters; don't fetch flow state during execution. If "
        "this is an intentional write such as SetParameterValueRequest, this warning is fine to "
        "ignore; if it is a read of flow or connection state, pass the data in through a parameter."
    ),
)

RULES: tuple[Rule, ...] = (
    REENTRANT_BUS_IN_INIT,
    PARAMETER_BEHAVIORS_DROPPED,
    PARAMETER_MUTATION_DURING_APROCESS,
    WORKER_REACH_INTO_ORCHESTRATOR,
)
RULES_BY_ID = {rule.id: rule for rule in RULES}


@dataclass(frozen=True, slots=True)
class Violation:
    """One occurrence of a rule: what fired, where, on what, and how to fix it."""

    rule_id: str
    severity: Severity
    context: Context
    subject: str
    library: str
    message: str
    remediation: str

    def line(self) -> str:
        return (
            f"[{self.severity}] {self.rule_id} ({self.context}) {self.library}/{self.subject}: "
            f"{self.message} Fix: {self.remediation}"
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "rule_id": self.rule_id,
            "severity": str(self.severity),
            "context": str(self.context),
            "subject": self.subject,
            "library": self.library,
            "message": self.message,
            "remediation": self.remediation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Violation:
        return cls(
            rule_id=data["rule_id"],
            severity=Severity(data["severity"]),
            context=Context(data["context"]),
            subject=data["subject"],
            library=data["library"],
            message=data["message"],
            remediation=data["remediation"],
        )


def make_violation(rule: Rule, context: Context, subject: str, library: str, message: str) -> Violation | None:
    """Build a violation of ``rule`` in ``context``; None where the rule does not apply there."""
    severity = rule.severity(context)
    if severity is None:
        return None
    return Violation(rule.id, severity, context, subject, library, message, rule.remediation)


def log_violation(violation: Violation) -> None:
    level = logging.ERROR if violation.severity is Severity.ERROR else logging.WARNING
    LOGGER.log(level, "%s", violation.line())
