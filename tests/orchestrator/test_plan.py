"""The planning rule (a pure core): conflicts named on both sides, can_run_shared, recommended modes, env groups."""

from __future__ import annotations

from typing import Any

from nodeisle.orchestrator.plan import Change, LibraryFacts, SharedFit, make_plan, shared_conflicts

ENGINE = {"numpy": "2.1.3", "websockets": "13.1"}


def shared(
    name: str, pins: list[str], installs: dict[str, str] | None = None, *, fit: SharedFit | None = None, **extra: Any
) -> LibraryFacts:
    mode = str(extra.pop("mode", "shared"))
    return LibraryFacts(name, mode, tuple(pins), fit or SharedFit(installs or {}, ()), **extra)


def test_a_pin_the_engine_contradicts_is_a_conflict_naming_both_sides() -> None:
    old = shared("A", ["numpy==1.26.4"], fit=SharedFit({}, (Change("numpy", "2.1.3", "1.26.4"),)))
    plan = make_plan([old], ENGINE)
    [conflict] = plan.conflicts
    assert conflict.message == "library 'A' pins numpy==1.26.4; the engine's environment has numpy 2.1.3"
    assert conflict.to_json()["sides"] == [
        {"library": "A", "requirement": "numpy==1.26.4"},
        {"engine": "the engine's environment", "requirement": "numpy==2.1.3"},
    ]
    [lib] = plan.libraries
    assert (lib.can_run_shared, lib.recommended_mode) == (False, "isolated")
    assert lib.reason == f"{conflict.message}; run it Isolated"


def test_two_shared_libraries_pinning_different_versions_conflict_and_the_later_one_moves() -> None:
    one = shared("A", ["tinypkg==1.0"], {"tinypkg": "1.0"})
    two = shared("B", ["tinypkg==2.0"], {"tinypkg": "2.0"})
    plan = make_plan([one, two], ENGINE)
    assert [c.message for c in plan.conflicts] == ["library 'A' pins tinypkg==1.0; library 'B' pins tinypkg==2.0"]
    first, second = plan.libraries
    assert (first.can_run_shared, first.recommended_mode, first.overlay) == (True, "shared", ("tinypkg==1.0",))
    assert "install into its own overlay" in first.reason
    assert (second.can_run_shared, second.recommended_mode) == (False, "isolated")


def test_a_range_that_accepts_the_earlier_version_is_compatible() -> None:
    one = shared("A", ["tinypkg==1.0"], {"tinypkg": "1.0"})
    ranged = shared("B", ["tinypkg>=1,<3"], {"tinypkg": "2.0"})
    assert make_plan([one, ranged], ENGINE).conflicts == ()
    # ... but not the other way round: the earlier claim stands, and A does not accept 2.0
    assert [c.package for c in make_plan([ranged, one], ENGINE).conflicts] == ["tinypkg"]


def test_a_transitive_requirement_is_named_with_what_pulls_it_in() -> None:
    one = shared("A", ["tinydep==1.0"], {"tinydep": "1.0"})
    needs = shared("B", ["needsdep==1.0"], fit=SharedFit({"needsdep": "1.0", "tinydep": "2.0"}, (), None, {"tinydep": "needsdep"}))
    [conflict] = make_plan([one, needs], ENGINE).conflicts
    assert conflict.message == "library 'A' pins tinydep==1.0; library 'B' needs tinydep==2.0 (through needsdep)"


def test_isolated_libraries_never_conflict_but_say_whether_they_could_run_shared() -> None:
    one = shared("A", ["tinypkg==1.0"], {"tinypkg": "1.0"})
    iso_new = shared("B", ["tinypkg==2.0"], {"tinypkg": "2.0"}, mode="isolated", env_id="x")
    iso_same = shared("C", ["tinypkg==2.0"], {"tinypkg": "2.0"}, mode="isolated", env_id="x")
    iso_fine = shared("D", ["other==1.0"], {"other": "1.0"}, mode="isolated", env_id="y")
    plan = make_plan([one, iso_new, iso_same, iso_fine], ENGINE)
    assert plan.conflicts == ()
    libs = {lib.name: lib for lib in plan.libraries}
    assert not libs["B"].can_run_shared and libs["B"].recommended_mode == "isolated"
    assert "library 'A' pins tinypkg==1.0" in libs["B"].reason
    assert libs["D"].can_run_shared and libs["D"].recommended_mode == "isolated"
    assert libs["D"].reason.startswith("it could run Shared (")
    assert plan.env_groups == (("B", "C"), ("D",))
    assert "one env for: B, C" in plan.lines()


def test_satisfied_pins_and_no_pins_say_so() -> None:
    plan = make_plan([shared("A", ["numpy>=2"]), shared("B", [])], ENGINE)
    assert [lib.reason for lib in plan.libraries] == [
        "the engine's environment already satisfies its pins", "it has no pip dependencies"]


def test_an_incompatible_library_in_conflict_is_told_to_change_pins_not_to_run_isolated() -> None:
    old = shared("A", ["numpy==1.26.4"], fit=SharedFit({}, (Change("numpy", "2.1.3", "1.26.4"),)), only_shared=True)
    [lib] = make_plan([old], ENGINE).libraries
    assert lib.recommended_mode == "shared" and "INCOMPATIBLE" in lib.reason and "cannot run Isolated" in lib.reason


def test_unresolvable_pins_cannot_run_shared_and_name_the_resolver_reason() -> None:
    broken = shared("A", ["nope==9"], fit=SharedFit({}, (), "error: No solution found when resolving dependencies\ncause: ..."))
    [lib] = make_plan([broken], ENGINE).libraries
    assert not lib.can_run_shared and "No solution found" in lib.reason


def test_a_pin_with_a_marker_for_another_platform_is_ignored() -> None:
    one = shared("A", ["tinypkg==1.0"], {"tinypkg": "1.0"})
    elsewhere = shared("B", ["tinypkg==2.0; sys_platform == 'nonexistent'"])
    assert shared_conflicts(elsewhere, [one], ENGINE) == []


def test_the_plan_json_has_the_documented_fields() -> None:
    document = make_plan([shared("A", ["tinypkg==1.0"], {"tinypkg": "1.0"})], ENGINE).to_json()
    assert set(document) >= {"libraries", "conflicts", "env_groups"}
    assert set(document["libraries"][0]) >= {"name", "mode", "can_run_shared", "recommended_mode", "reason"}
