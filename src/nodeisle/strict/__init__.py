"""Strict mode: the rule catalog (ids, severities per context, remediation) and violations.

Detectors live where the behaviour they watch happens (node.api, node.model, node.hosting,
node.audit); ``nodeisle check`` (nodeisle.check) reports them per library."""
