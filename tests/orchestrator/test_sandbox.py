"""The sandbox's command line, decided from what a worker may see (pure)."""

from __future__ import annotations

from pathlib import Path

from nodeisle.orchestrator.sandbox import SandboxChoice, SandboxSpec, bwrap_argv, cgroup_join_prefix, choose

HOME = Path("/srv/home")
ENV = HOME / "envs" / "lib-abc"
LIB = Path("/srv/libs/mine")
OTHER = Path("/srv/libs/other")


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_the_home_and_other_libraries_are_hidden_and_the_env_and_library_shown_read_only_after() -> None:
    argv = bwrap_argv("bwrap", SandboxSpec(ENV, LIB, (HOME, OTHER)), ENV / "bin" / "python")
    assert argv[:5] == ["bwrap", "--ro-bind", "/", "/", "--dev"]
    assert _pairs(argv, "--tmpfs") == ["/tmp", str(HOME), str(OTHER)]
    assert _pairs(argv, "--ro-bind") == ["/", str(ENV), str(LIB)]
    assert argv.index(str(HOME)) < argv.index(str(ENV))  # hidden first, then shown again
    assert "--unshare-net" in argv and "--unshare-pid" in argv and _pairs(argv, "--cap-drop") == ["ALL"]
    assert argv[-6:] == ["--", str(ENV / "bin" / "python"), "-I", "-u", "-m", "nodeisle.worker"]


def test_a_library_nested_in_ours_is_hidden_after_ours_is_bound() -> None:
    nested = LIB / "vendored"
    argv = bwrap_argv("bwrap", SandboxSpec(ENV, LIB, (nested,)), ENV / "bin" / "python")
    assert argv.index("--tmpfs", argv.index(str(LIB))) > argv.index(str(LIB))
    assert _pairs(argv, "--tmpfs")[-1] == str(nested)


def test_without_network_the_bus_socket_folder_is_bound_and_with_it_the_network_is_shared() -> None:
    bus = Path("/tmp/nodeisle-bus-1")
    closed = bwrap_argv("bwrap", SandboxSpec(ENV, LIB, bus_dir=bus), ENV / "bin" / "python")
    assert str(bus) in _pairs(closed, "--ro-bind") and "--unshare-net" in closed
    opened = bwrap_argv("bwrap", SandboxSpec(ENV, LIB, network=True, bus_dir=bus), ENV / "bin" / "python")
    assert str(bus) not in opened and "--unshare-net" not in opened


def test_the_cgroup_is_joined_by_a_shell_before_bwrap_and_not_at_all_without_one() -> None:
    prefix = cgroup_join_prefix(["/sys/fs/cgroup/memory/nodeisle/1-a/cgroup.procs"])
    assert prefix[:2] == ["/bin/sh", "-c"] and prefix[-2:] == ["/sys/fs/cgroup/memory/nodeisle/1-a/cgroup.procs", "--"]
    assert cgroup_join_prefix([]) == []


def test_the_librarys_choice_overrides_the_engine_default() -> None:
    assert choose(None, False, ()) is None
    assert choose(None, True, (HOME,)) == SandboxChoice(False, (HOME,), "the sandbox setting")
    assert choose({"enabled": False}, True, ()) is None
    assert choose({"enabled": True, "network": True}, False, ()) == SandboxChoice(True, ())


def test_what_a_sandbox_refuses_is_judged_from_the_audited_operation() -> None:
    from nodeisle.orchestrator.sandbox import refusal

    closed = SandboxChoice(False, (HOME, OTHER))
    shown = (ENV, LIB)
    assert refusal("open", str(HOME / ".env"), closed, shown) == f"{HOME} is hidden in its sandbox"
    assert refusal("os.listdir", str(OTHER), closed, shown) == f"{OTHER} is hidden in its sandbox"
    assert refusal("open", str(ENV / "lib" / "x.py"), closed, shown) is None  # its env, shown again
    assert refusal("open", "/etc/hostname", closed, shown) is None  # read-only, but visible
    assert "no network" in (refusal("socket.connect", "('127.0.0.1', 80)", closed, shown) or "")
    assert refusal("socket.connect", "'/tmp/nodeisle-bus-1/bus.sock'", closed, shown) is None
    assert refusal("socket.connect", "('127.0.0.1', 80)", SandboxChoice(True, ()), shown) is None
