"""EnvManager against real uv and real virtualenvs, offline, with wheels built at test time."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nodeisle.errors import EnvironmentBuildError, LibraryError
from nodeisle.orchestrator import envs
from nodeisle.orchestrator.envs import MARKER_NAME, EnvManager, EnvProgress
from tests.wheels import build_wheel

SRC = Path(__file__).resolve().parents[2] / "src"
MakeManager = Callable[..., EnvManager]


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    house = tmp_path / "wheelhouse"
    build_wheel(house, "tinypkg", "1.0")
    build_wheel(house, "tinypkg", "2.0")
    build_wheel(house, "tinydep", "1.0")
    build_wheel(house, "tinydep", "2.0")
    build_wheel(house, "needsdep", "1.0", requires=["tinydep>=2"])
    return house


@pytest.fixture
def runtime_source(tmp_path: Path) -> Path:
    pkg = tmp_path / "checkout" / "nodeisle"
    for rel, text in {
        "__init__.py": 'RUNTIME = "v1"\n',
        "worker/__init__.py": "",
        "py.typed": "",
        "orchestrator/__init__.py": "raise RuntimeError('the orchestrator must not be copied')\n",
        "__pycache__/stale.cpython-311.pyc": "",
        "NOTES.txt": "not code\n",
    }.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    return pkg


@pytest.fixture
def events() -> list[EnvProgress]:
    return []


@pytest.fixture
def make_manager(tmp_path: Path, wheelhouse: Path, events: list[EnvProgress]) -> MakeManager:
    def make(**kwargs: Any) -> EnvManager:
        kwargs.setdefault("find_links", [str(wheelhouse)])
        kwargs.setdefault("progress", events.append)
        return EnvManager(tmp_path / "home" / "envs", offline=True, **kwargs)

    return make


def run_in(python: Path, code: str) -> str:
    """Run ``code`` in an env's interpreter, without the test process's PYTHONPATH."""
    proc = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env={"PATH": os.defpath}, check=True
    )
    return proc.stdout.strip()


def count_uv_runs(monkeypatch: pytest.MonkeyPatch, delay: float = 0.0) -> list[list[str]]:
    """Record the arguments of every uv run (after an optional delay that widens race windows)."""
    calls: list[list[str]] = []
    real = EnvManager._run_uv

    def spy(self: EnvManager, job: Any, log: Any, args: list[str]) -> None:
        calls.append(args)
        time.sleep(delay)
        real(self, job, log, args)

    monkeypatch.setattr(EnvManager, "_run_uv", spy)
    return calls


def test_built_env_imports_the_pinned_version(make_manager: MakeManager, runtime_source: Path) -> None:
    info = make_manager().ensure("Tiny Lib", ["tinypkg==1.0"], [], [], runtime_source)
    assert not info.reused
    assert info.path.name.startswith("env-") and info.libraries == ("Tiny Lib",)
    assert run_in(info.python, "import tinypkg; print(tinypkg.__version__)") == "1.0"


def test_env_python_is_absolute_and_not_resolved(make_manager: MakeManager, runtime_source: Path) -> None:
    info = make_manager().ensure("lib", [], [], [], runtime_source)
    assert info.python == info.path / "bin" / "python"
    assert info.python.is_absolute() and info.python.is_symlink()


def test_libraries_pinning_different_versions_get_separate_envs(
    make_manager: MakeManager, runtime_source: Path
) -> None:
    manager = make_manager()
    one = manager.ensure("one", ["tinypkg==1.0"], [], [], runtime_source)
    two = manager.ensure("two", ["tinypkg==2.0"], [], [], runtime_source)
    assert one.path != two.path and one.key != two.key
    assert run_in(one.python, "import tinypkg; print(tinypkg.__version__)") == "1.0"
    assert run_in(two.python, "import tinypkg; print(tinypkg.__version__)") == "2.0"


def test_unchanged_inputs_reuse_the_env_without_running_uv(
    make_manager: MakeManager, runtime_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_manager().ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    log_size = first.log_path.stat().st_size
    calls = count_uv_runs(monkeypatch)
    again = make_manager().ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)  # a fresh manager too
    assert again.reused and again.path == first.path and again.created_at == first.created_at
    assert calls == []
    assert first.log_path.stat().st_size == log_size


def test_changed_pins_build_a_new_env_and_keep_the_old_one(make_manager: MakeManager, runtime_source: Path) -> None:
    manager = make_manager()
    old = manager.ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    new = manager.ensure("lib", ["tinypkg==2.0"], [], [], runtime_source)
    assert not new.reused and new.path != old.path
    assert {e.path for e in manager.list()} == {old.path, new.path}


def test_runtime_copy_is_what_import_nodeisle_finds_in_the_env(make_manager: MakeManager, runtime_source: Path) -> None:
    info = make_manager().ensure("lib", [], [], [], runtime_source)
    copied = info.path / "runtime" / "nodeisle"
    files = sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*") if p.is_file())
    assert [f for f in files if "__pycache__" not in f] == ["__init__.py", "py.typed", "worker/__init__.py"]
    assert any(f.startswith("__pycache__/__init__.") for f in files), "the runtime is compiled once, at build"
    found = run_in(info.python, "import nodeisle; print(nodeisle.__file__, nodeisle.RUNTIME)")
    assert found == f"{copied / '__init__.py'} v1"


def test_runtime_change_refreshes_the_copy_without_reinstalling(
    make_manager: MakeManager,
    runtime_source: Path,
    monkeypatch: pytest.MonkeyPatch,
    events: list[EnvProgress],
) -> None:
    manager = make_manager()
    first = manager.ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    (runtime_source / "__init__.py").write_text('RUNTIME = "v2"\n')
    calls = count_uv_runs(monkeypatch)
    events.clear()
    second = manager.ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    assert second.reused and second.path == first.path and calls == []
    assert [e.step for e in events] == ["reuse", "runtime", "done"]
    assert run_in(second.python, "import nodeisle; print(nodeisle.RUNTIME)") == "v2"
    assert len(list(second.path.glob("runtime-*"))) == 1  # the previous copy is gone


def test_missing_pin_raises_build_error_with_uv_explanation_and_log_path(
    make_manager: MakeManager, runtime_source: Path, events: list[EnvProgress]
) -> None:
    manager = make_manager()
    with pytest.raises(EnvironmentBuildError) as caught:
        manager.ensure("lib", ["tinypkg==9.9"], [], [], runtime_source)
    error = caught.value
    assert "there is no version of tinypkg==9.9" in str(error)
    assert error.log_path in str(error)
    assert "there is no version of tinypkg==9.9" in Path(error.log_path).read_text()
    assert "there is no version of tinypkg==9.9" in error.installer_output
    assert list(manager.root.glob(f"*/{MARKER_NAME}")) == []
    assert [p for p in manager.root.iterdir() if p.is_dir()] == []  # the partial env is gone
    assert events[-1].step == "failed"


def test_pins_and_runtime_requirements_resolve_together(make_manager: MakeManager, runtime_source: Path) -> None:
    with pytest.raises(EnvironmentBuildError, match="tinydep"):
        make_manager().ensure("lib", ["tinydep==1.0"], [], ["needsdep"], runtime_source)


def test_concurrent_threads_build_once_and_share_the_env(
    make_manager: MakeManager, runtime_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_uv_runs(monkeypatch, delay=0.2)
    barrier = threading.Barrier(2)
    results: list[envs.EnvInfo] = []

    def build() -> None:
        manager = make_manager()
        barrier.wait()
        results.append(manager.ensure("lib", ["tinypkg==1.0"], [], [], runtime_source))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 2 and results[0].path == results[1].path
    assert sorted(r.reused for r in results) == [False, True]
    assert [args[0] for args in calls] == ["venv", "pip"]


def test_concurrent_processes_build_once_and_share_the_env(
    tmp_path: Path, wheelhouse: Path, runtime_source: Path
) -> None:
    script = (
        "import json, sys; from pathlib import Path; from nodeisle.orchestrator.envs import EnvManager\n"
        "m = EnvManager(Path(sys.argv[1]), find_links=[sys.argv[2]], offline=True)\n"
        "info = m.ensure('lib', ['tinypkg==1.0'], [], [], Path(sys.argv[3]))\n"
        "print(json.dumps([str(info.path), info.reused]))\n"
    )
    root = tmp_path / "home" / "envs"
    args = [sys.executable, "-c", script, str(root), str(wheelhouse), str(runtime_source)]
    env = {"PATH": os.defpath, "PYTHONPATH": str(SRC)}
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert outputs[0][0] == outputs[1][0]
    assert sorted(reused for _, reused in outputs) == [False, True]
    log = (tmp_path / "home" / "logs" / "envs" / "lib.log").read_text()
    assert log.count(" venv --python ") == 1


def test_rebuild_replaces_the_env_in_place(
    make_manager: MakeManager, runtime_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = make_manager()
    first = manager.ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    calls = count_uv_runs(monkeypatch)
    again = manager.rebuild("lib", ["tinypkg==1.0"], [], [], runtime_source)
    assert not again.reused and again.path == first.path and again.created_at > first.created_at
    assert [args[0] for args in calls] == ["venv", "pip"]


def test_prune_removes_envs_not_kept_and_stale_files(make_manager: MakeManager, runtime_source: Path) -> None:
    manager = make_manager()
    kept = manager.ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    old = manager.ensure("lib", ["tinypkg==2.0"], [], [], runtime_source)
    half_built = manager.root / "lib-0123456789abcdef"
    (half_built / "bin").mkdir(parents=True)
    stale_lock = manager.root / "gone-fedcba9876543210.lock"
    stale_lock.touch()
    removed = manager.prune(keep=[kept.key])
    assert {old.path, half_built, stale_lock} <= set(removed)
    assert not old.path.exists() and not half_built.exists() and not stale_lock.exists()
    assert [e.path for e in manager.list()] == [kept.path]
    assert run_in(kept.python, "import tinypkg; print(tinypkg.__version__)") == "1.0"


def test_progress_reports_each_build_step_then_reuse(
    make_manager: MakeManager, runtime_source: Path, events: list[EnvProgress]
) -> None:
    manager = make_manager()
    manager.ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    assert [e.step for e in events] == ["create", "install", "runtime", "done"]
    assert all(e.library == "lib" for e in events)
    assert [e.elapsed_s for e in events] == sorted(e.elapsed_s for e in events)
    events.clear()
    manager.ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    assert [e.step for e in events] == ["reuse"]


def test_no_requirements_skip_the_install_step(
    make_manager: MakeManager, runtime_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_uv_runs(monkeypatch)
    make_manager().ensure("lib", [], [], [], runtime_source)
    assert [args[0] for args in calls] == ["venv"]


def test_uv_does_not_inherit_the_orchestrator_environment(
    make_manager: MakeManager, runtime_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uv

    dump = tmp_path / "uv-env.txt"
    wrapper = tmp_path / "uv-wrapper"
    wrapper.write_text(f'#!/bin/sh\nenv >> "{dump}"\nexec "{uv.find_uv_bin()}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("NODEISLE_TEST_SECRET", "s3cret")
    make_manager(uv_bin=str(wrapper)).ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    seen = dump.read_text()
    assert "s3cret" not in seen and "PATH=" in seen


def test_flag_in_pip_dependencies_is_rejected(make_manager: MakeManager, runtime_source: Path) -> None:
    with pytest.raises(LibraryError, match="looks like an installer flag"):
        make_manager().ensure("lib", ["--index-url=https://example.invalid"], [], [], runtime_source)


def test_key_covers_flags_but_not_where_the_same_wheels_were_found(
    make_manager: MakeManager, runtime_source: Path, tmp_path: Path, wheelhouse: Path
) -> None:
    plain = make_manager().ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    flagged = make_manager().ensure("lib", ["tinypkg==1.0"], ["--no-deps"], [], runtime_source)
    (tmp_path / "more").mkdir()
    other_links = make_manager(find_links=[str(wheelhouse), str(tmp_path / "more")])
    linked = other_links.ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    assert flagged.key != plain.key
    assert linked.key == plain.key and linked.reused  # the same versions and hashes: the same env
    assert flagged.pip_install_flags == ("--no-deps",)


def test_explicit_python_path_of_the_same_interpreter_maps_to_the_same_env(
    make_manager: MakeManager, runtime_source: Path
) -> None:
    default = make_manager().ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    explicit = make_manager(python=sys.executable).ensure("lib", ["tinypkg==1.0"], [], [], runtime_source)
    assert explicit.reused and explicit.key == default.key


def test_unknown_python_raises_build_error_with_uv_explanation(
    make_manager: MakeManager, runtime_source: Path, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-python")
    with pytest.raises(EnvironmentBuildError, match="no-such-python") as caught:
        make_manager(python=missing).ensure("lib", [], [], [], runtime_source)
    assert caught.value.installer_output


def test_credentials_in_a_requirement_url_never_reach_progress_events_or_logs(
    make_manager: MakeManager, runtime_source: Path, events: list[EnvProgress], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="nodeisle.envs")
    pin = "tinypkg @ https://alice:s3cr3t-token@pkgs.example.invalid/tinypkg-1.0-py3-none-any.whl"
    with pytest.raises(EnvironmentBuildError):
        make_manager().ensure("cred", [pin], [], [], runtime_source)
    shown = [e.detail for e in events] + [r.getMessage() for r in caplog.records]
    assert any("***@pkgs.example.invalid" in text for text in shown)
    assert not any("s3cr3t-token" in text for text in shown)


def _two_links(tmp_path: Path) -> tuple[Path, Path]:
    """``python`` and ``python3`` in two folders, both symlinks to the interpreter running the tests."""
    first, second = tmp_path / "one" / "python", tmp_path / "two" / "python3"
    for link, target in ((first, os.path.realpath(sys.executable)), (second, sys.executable)):
        link.parent.mkdir()
        link.symlink_to(target)
    return first, second


def test_two_symlinks_to_the_same_interpreter_probed_map_to_the_same_env(
    make_manager: MakeManager, runtime_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _two_links(tmp_path)
    one = make_manager(python=str(first)).ensure("lib", [], [], [], runtime_source)
    calls = count_uv_runs(monkeypatch)
    two = make_manager(python=str(second)).ensure("lib", [], [], [], runtime_source)
    assert two.key == one.key and two.path == one.path and two.reused and calls == []


def test_the_engine_started_through_either_symlink_uses_the_same_env(
    make_manager: MakeManager, runtime_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _two_links(tmp_path)
    monkeypatch.setattr(sys, "executable", str(first))
    one = make_manager().ensure("lib", [], [], [], runtime_source)
    monkeypatch.setattr(sys, "executable", str(second))
    calls = count_uv_runs(monkeypatch)
    two = make_manager().ensure("lib", [], [], [], runtime_source)
    assert two.key == one.key and two.reused and calls == []


def count_resolver_runs(manager: EnvManager) -> list[str]:
    """The uv commands this manager's resolver runs from now on."""
    manager.resolver.runs.clear()
    return manager.resolver.runs


def test_libraries_resolving_to_the_same_set_share_one_env_dir(make_manager: MakeManager, runtime_source: Path) -> None:
    manager = make_manager()
    one = manager.ensure("one", ["tinypkg==2.0"], [], [], runtime_source)
    two = manager.ensure("two", ["tinypkg>=1.5"], [], [], runtime_source)  # written otherwise, resolves the same
    assert two.path == one.path and two.reused and two.libraries == ("one", "two")
    assert [info.libraries for info in manager.list()] == [("one", "two")]
    assert two.resolved[0].startswith("tinypkg==2.0 --hash=sha256:")


def test_an_unchanged_manifest_costs_no_resolver_run(make_manager: MakeManager, runtime_source: Path) -> None:
    make_manager().ensure("lib", ["needsdep==1.0"], [], [], runtime_source)
    manager = make_manager()  # a fresh engine: the resolution is cached on disk
    runs = count_resolver_runs(manager)
    info = manager.ensure("lib", ["needsdep==1.0"], [], [], runtime_source)
    assert info.reused and runs == []
    assert run_in(info.python, "import tinydep; print(tinydep.__version__)") == "2.0"  # one depending on another
    rebuilt = manager.rebuild("lib", ["needsdep==1.0"], [], [], runtime_source)
    assert runs == ["compile"] and rebuilt.source == "uv pip compile"  # rebuild resolves again


def test_an_env_built_from_a_lock_never_runs_the_resolver(
    make_manager: MakeManager, runtime_source: Path, tmp_path: Path
) -> None:
    manager = make_manager()
    resolved = manager.resolve("lib", ["tinypkg>=1.0"], [])
    lock = tmp_path / "lib" / "nodeisle.lock"
    lock.parent.mkdir()
    lock.write_text("# a comment\ntinypkg==1.0\n")  # an older version than the range resolves to
    runs = count_resolver_runs(manager)
    info = manager.ensure("lib", ["tinypkg>=1.0"], [], [], runtime_source, lock=lock)
    assert runs == [] and info.source == str(lock) and resolved.versions() == {"tinypkg": "2.0"}
    assert run_in(info.python, "import tinypkg; print(tinypkg.__version__)") == "1.0"
    lock.write_text("not a pin at all\n")
    with pytest.raises(EnvironmentBuildError, match="holds no 'name==version' lines"):
        manager.ensure("lib", ["tinypkg>=1.0"], [], [], runtime_source, lock=lock)


def test_the_compiled_runtime_is_made_once_and_linked_into_later_envs(
    make_manager: MakeManager, runtime_source: Path
) -> None:
    manager = make_manager()
    one = manager.ensure("one", ["tinypkg==1.0"], [], [], runtime_source)
    two = manager.ensure("two", ["tinypkg==2.0"], [], [], runtime_source)
    pyc = [sorted((info.path / "runtime").resolve().glob("nodeisle/__pycache__/__init__.*.pyc")) for info in (one, two)]
    assert pyc[0] and pyc[1]
    assert pyc[0][0].stat().st_ino == pyc[1][0].stat().st_ino  # one compile, hard-linked
    [cached] = (manager.root.parent / "runtime-cache").iterdir()
    assert (cached / ".complete").is_file() and not (two.path / "runtime" / ".complete").exists()
    assert run_in(two.python, "import nodeisle; print(nodeisle.RUNTIME)") == "v1"
