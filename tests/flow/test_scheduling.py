"""The pure flow scheduler: ready sets, skips, cancellation and the run's summary, without a loop or processes."""

from __future__ import annotations

import pytest

from nodeisle.flow.scheduling import ControlEdge, NodeStatus, RunSummary, Schedule, Skip, summarize

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


# -- control connections ----------------------------------------------------------------------------
K, SK = ControlEdge, NodeStatus.SKIPPED


def test_a_control_chain_runs_one_node_after_the_other() -> None:
    plan = Schedule("abc", [K("a", "exec_out", "b"), K("b", "exec_out", "c")])
    assert plan.ready() == ["a"]  # a has no incoming control connection: it starts the chain
    assert run(plan, "a") == [] and plan.ready() == ["b"]
    assert run(plan, "b") == [] and plan.ready() == ["c"]
    run(plan, "c")
    assert plan.summary() == RunSummary(S, "3 of 3 nodes succeeded")
    assert plan.upstream("b") == ("a",) and plan.all_downstream(["a"]) == ["b", "c"]


def test_a_failure_in_a_control_chain_skips_the_rest_and_an_unconnected_branch_completes() -> None:
    plan = Schedule(["a", "b", "c", "lone"], [K("a", "exec_out", "b"), K("b", "exec_out", "c")])
    assert plan.ready() == ["a", "lone"]
    run(plan, "a")
    skips = run(plan, "b", F)
    assert skips == [Skip("c", "b")] and skips[0].reason == "upstream node 'b' did not succeed"
    assert not plan.not_reached("c")  # skipped because of a failure, not a branch
    run(plan, "lone")
    assert plan.statuses == {"a": S, "b": F, "c": SK, "lone": S}
    assert plan.summary() == RunSummary(F, "2 of 4 nodes succeeded")


def test_a_failure_skips_downstream_along_data_and_control_connections_alike() -> None:
    # a feeds b by data, b orders c by control, c feeds d by data: a's failure reaches d
    plan = Schedule("abcd", [("a", "b"), K("b", "exec_out", "c"), ("c", "d")])
    assert run(plan, "a", F) == [Skip("b", "a"), Skip("c", "b"), Skip("d", "c")]


def test_a_branch_whose_control_output_did_not_fire_is_not_reached_and_the_run_succeeds() -> None:
    # if -True-> yes -> after_yes;  if -False-> no;  yes feeds after_yes's data too
    plan = Schedule(
        ["if", "yes", "after_yes", "no", "no_data"],
        [K("if", "True", "yes"), K("if", "False", "no"), K("yes", "exec_out", "after_yes"), ("no", "no_data")],
    )
    plan.start("if")
    skips = plan.finish("if", S, fired=["True"])
    assert skips == [Skip("no", "if", not_reached=True), Skip("no_data", "no", not_reached=True)]
    assert skips[0].reason == "control output if.False did not fire"
    assert skips[1].reason == "upstream node 'no' was not reached"
    assert plan.not_reached("no") and plan.status("no") is SK and plan.blocked_by("no") == "if"
    assert plan.ready() == ["yes"]
    run(plan, "yes")
    run(plan, "after_yes")
    assert plan.finished and plan.summary() == RunSummary(S, "3 of 5 nodes succeeded, 2 not reached")


def test_firing_no_control_output_ends_the_control_flow_there() -> None:
    plan = Schedule("abc", [K("a", "exec_out", "b"), K("b", "exec_out", "c")])
    plan.start("a")
    assert plan.finish("a", S, fired=[]) == [Skip("b", "a", True), Skip("c", "b", True)]
    assert plan.summary().succeeded


def test_branches_meeting_at_one_exec_in_run_it_once_after_both_settled() -> None:
    plan = Schedule(
        ["if", "yes", "no", "join"],
        [K("if", "True", "yes"), K("if", "False", "no"), K("yes", "exec_out", "join"), K("no", "exec_out", "join")],
    )
    plan.start("if")
    assert plan.finish("if", S, fired=["False"]) == [Skip("yes", "if", True)]
    assert plan.ready() == ["no"]  # join waits for its other control connection to settle
    run(plan, "no")
    assert plan.ready() == ["join"]
    run(plan, "join")
    assert plan.summary() == RunSummary(S, "3 of 4 nodes succeeded, 1 not reached")


def test_a_failure_at_a_meeting_point_wins_over_a_branch_that_fired() -> None:
    plan = Schedule(["x", "y", "join"], [K("x", "exec_out", "join"), K("y", "exec_out", "join")])
    run(plan, "x")
    assert plan.ready() == ["y"]
    assert run(plan, "y", F) == [Skip("join", "y")]
    assert not plan.not_reached("join")


def test_a_reached_node_whose_data_comes_from_a_branch_not_taken_is_not_reached() -> None:
    plan = Schedule(["if", "no", "use"], [K("if", "False", "no"), K("if", "True", "use"), ("no", "use")])
    plan.start("if")
    assert plan.finish("if", S, fired=["True"]) == [Skip("no", "if", True), Skip("use", "no", True)]


def test_data_and_control_connections_between_the_same_nodes_both_hold() -> None:
    # a orders b and feeds it; b also needs c's data: b waits for both, and a's branch choice counts
    plan = Schedule("acb", [K("a", "exec_out", "b"), ("a", "b"), ("c", "b")])
    assert plan.ready() == ["a", "c"]
    run(plan, "a")
    assert plan.ready() == ["c"]
    run(plan, "c")
    assert plan.ready() == ["b"]
    assert plan.upstream("b") == ("a", "c")


def test_a_control_output_that_did_not_fire_leaves_a_data_connection_from_the_same_node_open() -> None:
    plan = Schedule("ab", [K("a", "exec_out", "b"), ("a", "b")])
    plan.start("a")
    assert plan.finish("a", S, fired=[]) == [Skip("b", "a", True)]  # control decides, data does not override
    plan = Schedule("ab", [("a", "b")])
    plan.start("a")
    assert plan.finish("a", S, fired=[]) == [] and plan.ready() == ["b"]  # fired concerns control only


def test_only_keeps_control_connections() -> None:
    plan = Schedule("abc", [K("a", "exec_out", "b"), ("b", "c")])
    sub = plan.only(["a", "b"])
    assert sub.nodes == ("a", "b") and sub.ready() == ["a"]
    sub.start("a")
    assert sub.finish("a", S, fired=[]) == [Skip("b", "a", True)]


def test_not_reached_counts_must_fit_the_skipped_nodes() -> None:
    assert summarize(["succeeded", "skipped"], not_reached=1) == RunSummary(S, "1 of 2 nodes succeeded, 1 not reached")
    assert summarize(["failed", "skipped"], not_reached=1).status is F
    with pytest.raises(ValueError, match="1 were skipped"):
        summarize(["skipped"], not_reached=2)
