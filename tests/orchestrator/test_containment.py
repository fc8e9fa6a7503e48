"""The containment plan: limits parsed and planned onto cgroup v2, v1 or rlimits, with the reason; attribution."""

from __future__ import annotations

import pytest

from nodeisle.orchestrator.containment import (
    Limits,
    MachineFacts,
    Readings,
    attribute,
    format_bytes,
    gpu_environment,
    parse_memory,
    plan,
    process_limit_note,
)

V1 = {"memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids", "cpu": "/sys/fs/cgroup/cpu"}
LIMITS = Limits(memory=4 * 1024**3, cpus=1.5, max_processes=64)


@pytest.mark.parametrize(("text", "size"), [("4GiB", 4 * 1024**3), ("512MiB", 512 * 1024**2), ("2G", 2 * 10**9),
                                            ("1.5 GiB", 3 * 1024**3 // 2), ("67108864", 64 * 1024**2)])
def test_memory_sizes_parse_in_the_forms_people_write(text: str, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["lots", "4 parsecs", "1MiB", "-3G", ""])
def test_a_bad_or_tiny_memory_size_is_refused_saying_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="memory"):
        parse_memory(text)


def test_sizes_are_shown_as_people_write_them() -> None:
    assert (format_bytes(4 * 1024**3), format_bytes(64 * 1024**2), format_bytes(1536 * 1024**2)) == (
        "4 GiB", "64 MiB", "1.5 GiB")


def test_limits_round_trip_through_settings_and_bad_ones_name_the_field() -> None:
    limits = Limits.from_dict({"memory": "4GiB", "cpus": 1.5, "max_processes": 64, "gpus": "0,1"}, "x")
    assert limits == Limits(4 * 1024**3, 1.5, 64, (0, 1))
    assert Limits.from_dict(limits.to_dict(), "x") == limits
    assert Limits.from_dict({"gpus": "none"}, "x").to_dict() == {"gpus": "none"}
    for bad, word in (({"cpus": 0}, "cpus"), ({"max_processes": 2}, "max_processes"), ({"gpus": "a"}, "gpus"),
                      ({"memroy": "1G"}, "unknown limit 'memroy'")):
        with pytest.raises(ValueError, match=f"library_limits.L: .*{word}"):
            Limits.from_dict(bad, "library_limits.L")


def test_cgroup_v2_is_preferred_and_writes_its_files() -> None:
    chosen = plan(LIMITS, MachineFacts(v2_root="/sys/fs/cgroup", v1_roots=V1))
    assert chosen.mechanism == "cgroup v2"
    assert chosen.cgroup_files == {"/sys/fs/cgroup": {"memory.max": str(4 * 1024**3), "memory.swap.max": "0",
                                                      "pids.max": "64", "cpu.max": "150000 100000"}}


def test_v1_is_used_when_v2_lacks_the_controllers_and_says_why() -> None:
    why = ("cgroup v2 at /sys/fs/cgroup/unified has no memory/pids/cpu controller (they are bound to v1)",)
    chosen = plan(LIMITS, MachineFacts(v1_roots=V1, why_not=why))
    assert chosen.mechanism == "cgroup v1" and why[0] in chosen.reason
    assert chosen.cgroup_files["/sys/fs/cgroup/memory"]["memory.limit_in_bytes"] == str(4 * 1024**3)
    assert chosen.cgroup_files["/sys/fs/cgroup/pids"] == {"pids.max": "64"}
    assert chosen.cgroup_files["/sys/fs/cgroup/cpu"]["cpu.cfs_quota_us"] == "150000"


def test_rlimits_are_the_fallback_and_say_what_they_cannot_enforce() -> None:
    chosen = plan(LIMITS, MachineFacts(why_not=("no writable cgroup v1 memory/pids/cpu under /sys/fs/cgroup",)))
    assert chosen.mechanism == "rlimits" and "no writable cgroup v1" in chosen.reason
    assert chosen.rlimits == {"RLIMIT_AS": 4 * 1024**3, "RLIMIT_NPROC": 64}
    assert any("cpus needs a cgroup" in note for note in chosen.unenforced)


def test_no_resource_limit_plans_no_cgroup_but_keeps_the_gpu_choice() -> None:
    chosen = plan(Limits(gpus=(2,)), MachineFacts(v1_roots=V1))
    assert chosen.mechanism == "none" and not chosen.cgroup_files
    assert chosen.env["CUDA_VISIBLE_DEVICES"] == "2" and chosen.env["ZE_AFFINITY_MASK"] == "2"


def test_gpu_variables_cover_cuda_rocm_and_oneapi_and_none_hides_every_device() -> None:
    assert gpu_environment(None) == {}
    assert gpu_environment(()) == dict.fromkeys(
        ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK"), "-1")


def test_an_oom_kill_is_attributed_to_the_library_with_its_limit_and_peak() -> None:
    readings = Readings(oom_kills=1, peak_memory=4 * 1024**3)
    assert attribute("X", LIMITS, readings) == "library 'X' exceeded its memory limit of 4 GiB (peak 4.0 GiB)"
    assert attribute("X", LIMITS, Readings(peak_memory=10)) is None
    assert attribute("X", Limits(), readings) is None


def test_refused_forks_name_the_max_processes_limit_and_the_fix() -> None:
    note = process_limit_note("X", LIMITS, 3)
    assert note is not None and "limit of 64" in note and "--max-processes N" in note
    assert process_limit_note("X", LIMITS, 0) is None
