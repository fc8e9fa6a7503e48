"""The pure flow scheduler: ready sets, skips, cancellation and the run's summary, without a loop or processes."""

from __future__ import annotations

import pytest

from nodeisle.flow.scheduling import NodeStatus, RunSummary, Schedule, Skip, summarize

S, F, C = NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.CANCELLED


def diamond() -> Schedule:
    """a -> b, a -> c, b -> d, c -> d."""
    return Schedule("abcd", [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])


def run(plan: Schedule, name: str, status: NodeStatus = S) -> list[Skip]:
    plan.start(name)
    return plan.finish(name, status)


def test_status_values_are_what_results_and_the_cli_show() -> None:
    assert [s.value for s in NodeStatus] == ["queued", "running", "succeeded", "failed", "skipped", "cancelled"]
    assert [s for s in NodeStatus if s.finished] == [S, F, NodeStatus.SKIPPED, C]


def test_a_diamond_runs_its_branches_together_and_joins_when_both_succeeded() -> None:
    plan = diamond()
    assert plan.ready() == ["a"]
    assert run(plan, "a") == []
    assert plan.ready() == ["b", "c"]  # the branches may run concurrently
    plan.start("b")
    plan.start("c")
    assert plan.ready() == [] and plan.running == ["b", "c"]
    assert plan.finish("c", S) == []
    assert plan.ready() == []  # d waits for b too
    assert plan.finish("b", S) == []
    assert plan.ready() == ["d"]
    run(plan, "d")
    assert plan.finished and plan.summary() == RunSummary(S, "4 of 4 nodes succeeded")


def test_a_failed_node_skips_only_what_is_downstream_of_it() -> None:
    # a -> b -> c, and an independent branch x -> y
    plan = Schedule(["a", "b", "c", "x", "y"], [("a", "b"), ("b", "c"), ("x", "y")])
    assert plan.ready() == ["a", "x"]
    assert run(plan, "a", F) == [Skip("b", "a"), Skip("c", "b")]
    assert plan.status("b") is plan.status("c") is NodeStatus.SKIPPED
    assert plan.blocked_by("c") == "b" and plan.blocked_by("a") is None
    assert plan.ready() == ["x"]  # the other branch goes on
    run(plan, "x")
    run(plan, "y")
    assert plan.finished
    assert plan.statuses == {"a": F, "b": NodeStatus.SKIPPED, "c": NodeStatus.SKIPPED, "x": S, "y": S}
    assert plan.summary() == RunSummary(F, "2 of 5 nodes succeeded")


def test_a_node_is_skipped_once_all_its_upstream_nodes_finished_naming_the_first_that_did_not_succeed() -> None:
    plan = diamond()
    run(plan, "a")
    plan.start("b")
    plan.start("c")
    assert plan.finish("c", F) == []  # d still waits on b
    assert plan.status("d") is NodeStatus.QUEUED
    assert plan.finish("b", S) == [Skip("d", "c")]
    plan = diamond()
    run(plan, "a")
    plan.start("b")
    plan.start("c")
    plan.finish("c", F)
    assert plan.finish("b", F) == [Skip("d", "b")]  # connection order: b comes first


def test_a_failure_in_one_branch_of_a_diamond_skips_the_join_but_not_the_other_branch() -> None:
    plan = diamond()
    run(plan, "a")
    assert run(plan, "b", F) == []
    assert plan.ready() == ["c"]
    assert run(plan, "c") == [Skip("d", "b")]
    assert plan.summary().status is F


def test_nodes_without_connections_are_all_ready_at_once() -> None:
    plan = Schedule(["lonely", "other"], [])
    assert plan.ready() == ["lonely", "other"]
    assert plan.upstream("lonely") == () and plan.downstream("lonely") == ()
    assert plan.all_upstream("lonely") == [] and plan.all_downstream(["lonely"]) == []
    run(plan, "lonely", F)
    assert plan.ready() == ["other"]  # a failure takes nothing else with it


def test_cancelling_cancels_what_has_not_started_and_starts_nothing_new() -> None:
    plan = Schedule(["quick", "slow", "after"], [("slow", "after")])
    run(plan, "quick")
    plan.start("slow")
    assert plan.cancel() == ["after"]
    assert plan.ready() == [] and not plan.finished  # slow runs until its runner stops it
    assert plan.finish("slow", C) == []
    assert plan.finished
    assert plan.statuses == {"quick": S, "slow": C, "after": C}
    assert plan.summary() == RunSummary(C, "1 of 3 nodes succeeded, 2 cancelled")


def test_a_node_cancelled_on_its_own_skips_its_downstream() -> None:
    plan = Schedule("ab", [("a", "b")])
    assert run(plan, "a", C) == [Skip("b", "a")]


def test_the_upstream_and_downstream_of_a_node_transitively_in_flow_order() -> None:
    # e and a feed b; b feeds c and d; x is unrelated
    plan = Schedule(["a", "b", "c", "d", "e", "x"], [("e", "b"), ("a", "b"), ("b", "c"), ("b", "d"), ("a", "b")])
    assert plan.upstream("b") == ("e", "a")  # connection order, a repeated pair counted once
    assert plan.downstream("b") == ("c", "d")
    assert plan.all_upstream("c") == ["a", "b", "e"]
    assert plan.all_downstream(["a"]) == ["b", "c", "d"]
    assert plan.all_downstream(["a", "b"]) == ["c", "d"]  # roots are not their own downstream
    sub = plan.only([*plan.all_upstream("c"), "c"])  # run a node and its upstream
    assert sub.nodes == ("a", "b", "c", "e")
    assert sub.ready() == ["a", "e"] and sub.upstream("b") == ("e", "a") and sub.downstream("b") == ("c",)


def test_misuse_is_refused() -> None:
    plan = Schedule("ab", [("a", "b")])
    with pytest.raises(ValueError, match="not ready"):
        plan.start("b")
    with pytest.raises(ValueError, match="not running"):
        plan.finish("a", S)
    plan.start("a")
    with pytest.raises(ValueError, match="not skipped"):
        plan.finish("a", NodeStatus.SKIPPED)
    with pytest.raises(KeyError, match="no node named 'z'"):
        plan.status("z")
    with pytest.raises(ValueError, match="'z', not a node of the flow"):
        Schedule("a", [("a", "z")])


def test_summaries_count_every_node() -> None:
    assert summarize([]) == RunSummary(S, "0 of 0 nodes succeeded")
    assert summarize(["succeeded", "skipped", "failed"]) == RunSummary(F, "1 of 3 nodes succeeded")
    assert summarize(["failed", "cancelled"]) == RunSummary(C, "0 of 2 nodes succeeded, 1 cancelled")
    assert summarize(["succeeded"]).succeeded and not summarize(["failed"]).succeeded
