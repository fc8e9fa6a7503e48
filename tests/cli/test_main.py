"""The command line, run as a user runs it: a real process, real files, exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, TEXT_TOOLS, write_library

NODES = """
from nodeisle import BaseNode, Parameter, ParameterMode
class Num(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("value", type="int", default_value=1, allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("out", type="int", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        self.parameter_output_values["out"] = self.parameter_values["value"] * 10
class Fail(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        self.add_parameter(Parameter("value", type="int", default_value=1, allowed_modes={ParameterMode.INPUT}))
        self.add_parameter(Parameter("out", type="int", allowed_modes={ParameterMode.OUTPUT}))
    def process(self):
        raise KeyError("no such thing")
"""


def nodeisle(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nodeisle.cli", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=120,
    )


def workflow(tmp_path: Path, data: dict[str, object], name: str = "wf.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    return write_library(tmp_path / "libs", "Cli Lib", NODES, ["Num", "Fail"])


def test_run_prints_each_node_and_exits_zero(home: Path) -> None:
    result = nodeisle("run", str(EXAMPLES / "workflows" / "text.json"))
    assert result.returncode == 0, result.stderr
    assert 'shout     result="HELLO ISOLATED WORLD"' in result.stdout
    assert "run succeeded: 7 of 7 nodes succeeded" in result.stdout


def test_run_json_reports_failure_traceback_and_skips_with_exit_one(tmp_path: Path, home: Path, lib: Path) -> None:
    wf = workflow(
        tmp_path,
        {
            "libraries": [str(lib)],
            "nodes": [
                {"name": "fail", "type": "Fail"},
                {"name": "after", "type": "Num"},
                {"name": "other", "type": "Num", "values": {"value": 4}},
            ],
            "connections": [{"from": "fail.out", "to": "after.value"}],
        },
    )
    result = nodeisle("run", str(wf), "--json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "failed"
    fail = doc["nodes"]["fail"]
    assert fail["status"] == "failed" and fail["outputs"] == {} and fail["violations"] == []
    assert fail["error"]["type"] == "KeyError" and "no such thing" in fail["error"]["message"]
    assert 'raise KeyError("no such thing")' in fail["error"]["traceback"]
    assert doc["nodes"]["after"]["status"] == "skipped"
    assert doc["nodes"]["other"] == {"status": "succeeded", "outputs": {"out": 40}, "error": None, "violations": []}


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        ({"libraries": ["nowhere"], "nodes": []}, ["libraries[0]", "nowhere"]),
        ({"libraries": ["LIB"], "nodes": [{"name": "x", "type": "Nope"}]}, ["nodes[0].type", "no node type 'Nope'"]),
        (
            {"libraries": ["LIB"], "nodes": [{"name": "x", "type": "Num", "values": {"zz": 1}}]},
            ["nodes[0].values.zz", "no parameter 'zz'"],
        ),
        (
            {
                "libraries": ["LIB"],
                "nodes": [{"name": "x", "type": "Num"}],
                "connections": [{"from": "x.out", "to": "y.value"}],
            },
            ["connections[0].to", "no node named 'y'"],
        ),
        (
            {
                "libraries": ["LIB"],
                "nodes": [{"name": "x", "type": "Num"}, {"name": "y", "type": "Num"}],
                "connections": [{"from": "x.value", "to": "y.value"}],
            },
            ["connections[0]", "not an OUTPUT parameter"],
        ),
        (
            {"libraries": ["LIB"], "nodes": [{"name": "x", "type": "Num"}, {"name": "x", "type": "Num"}]},
            ["nodes[1].name", "duplicate node name 'x'"],
        ),
        ({"libraries": "LIB", "nodes": []}, ["libraries", "expected a list"]),
        ({"libraries": [], "nodes": [{"type": "Num"}]}, ["nodes[0].name", "non-empty string"]),
        (
            {"libraries": ["LIB"], "library_modes": {"Cli Lib": "sideways"}, "nodes": []},
            ["library_modes.Cli Lib", "sideways"],
        ),
    ],
)
def test_bad_workflow_exits_two_naming_file_and_field(
    tmp_path: Path, home: Path, lib: Path, data: dict[str, object], needles: list[str]
) -> None:
    text = json.dumps(data).replace('"LIB"', json.dumps(str(lib)))
    wf = tmp_path / "bad.json"
    wf.write_text(text)
    result = nodeisle("run", str(wf))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert str(wf) in result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_unreadable_or_broken_workflow_file_exits_two(tmp_path: Path, home: Path) -> None:
    missing = nodeisle("run", str(tmp_path / "missing.json"))
    assert missing.returncode == 2 and "missing.json" in missing.stderr and "cannot read" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"nodes": [\n  {"name": "a",}\n]}')
    result = nodeisle("run", str(broken))
    assert result.returncode == 2 and "line 2 column" in result.stderr


def test_broken_manifest_in_workflow_exits_two_naming_the_manifest(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "badlib"
    bad.mkdir()
    (bad / "griptape_nodes_library.json").write_text('{"name": 3, "nodes": []}')
    wf = workflow(tmp_path, {"libraries": ["badlib"], "nodes": []})
    result = nodeisle("run", str(wf))
    assert result.returncode == 2
    assert "griptape_nodes_library.json" in result.stderr and "name" in result.stderr


def test_libraries_add_mode_list_and_remove(tmp_path: Path, home: Path, lib: Path) -> None:
    assert nodeisle("libraries", "add", str(lib)).returncode == 0
    assert json.loads((home / "settings.json").read_text())["libraries"] == [str(lib / "griptape-nodes-library.json")]
    listed = nodeisle("libraries", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["compatibility"], row["suggested_mode"], row["effective_mode"], row["status"]) == (
        "Cli Lib",
        "COMPATIBLE",
        None,
        "shared",
        "loaded",
    )
    assert nodeisle("libraries", "mode", "Cli Lib", "isolated").returncode == 0
    assert json.loads((home / "settings.json").read_text())["library_modes"] == {"Cli Lib": "isolated"}
    human = nodeisle("libraries", "list")
    assert "Cli Lib  [" in human.stdout
    assert nodeisle("libraries", "remove", "Cli Lib").returncode == 0
    assert json.loads((home / "settings.json").read_text())["libraries"] == []
    assert nodeisle("libraries", "remove", "Cli Lib").returncode == 2


def test_libraries_list_shows_worker_id_beside_the_library(tmp_path: Path, offline_home: Path, lib: Path) -> None:
    assert nodeisle("libraries", "add", str(lib)).returncode == 0
    assert nodeisle("libraries", "mode", "Cli Lib", "isolated").returncode == 0
    listed = nodeisle("libraries", "list")
    assert listed.returncode == 0, listed.stderr
    assert "effective=isolated" in listed.stdout and "worker=Worker-" in listed.stdout


def test_mode_isolated_for_incompatible_library_is_refused_with_the_reason(tmp_path: Path, home: Path) -> None:
    lib = write_library(
        tmp_path,
        "Only Here",
        NODES,
        ["Num"],
        declarations=[{"type": "worker_mode_compatibility", "compatibility": "INCOMPATIBLE"}],
    )
    assert nodeisle("libraries", "add", str(lib)).returncode == 0
    refused = nodeisle("libraries", "mode", "Only Here", "isolated")
    assert refused.returncode == 2 and "INCOMPATIBLE" in refused.stderr
    assert (
        "library_modes" not in (home / "settings.json").read_text()
        or json.loads((home / "settings.json").read_text())["library_modes"] == {}
    )


def test_corrupt_settings_file_is_reported_and_never_overwritten(tmp_path: Path, home: Path, lib: Path) -> None:
    settings = home / "settings.json"
    settings.write_text('{"libraries": [')
    result = nodeisle("libraries", "add", str(lib))
    assert result.returncode == 2 and "settings.json" in result.stderr and "line 1" in result.stderr
    assert settings.read_text() == '{"libraries": ['


def test_schema_manifest_prints_a_json_schema(home: Path) -> None:
    result = nodeisle("schema", "manifest")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object" and "nodes" in schema["properties"]


def test_isolated_run_gives_the_same_json_as_shared(offline_home: Path) -> None:
    wf = str(EXAMPLES / "workflows" / "text.json")
    shared = nodeisle("run", wf, "--json")
    isolated = nodeisle("run", wf, "--json", "--all-isolated")
    assert shared.returncode == isolated.returncode == 0, isolated.stderr
    assert json.loads(shared.stdout) == json.loads(isolated.stdout)
    assert "Worker-" in isolated.stderr and "Worker-" not in shared.stderr


def test_envs_list_and_prune(offline_home: Path) -> None:
    assert nodeisle("libraries", "add", str(TEXT_TOOLS)).returncode == 0
    assert nodeisle("libraries", "mode", "Text Tools", "isolated").returncode == 0
    assert nodeisle("libraries", "list").returncode == 0
    listed = nodeisle("envs", "list")
    assert listed.returncode == 0 and "Text Tools" in listed.stdout
    rebuilt = nodeisle("envs", "rebuild", "Text Tools")
    assert rebuilt.returncode == 0 and "rebuilt 'Text Tools'" in rebuilt.stdout
    assert nodeisle("envs", "rebuild", "Nope").returncode == 2
    pruned = nodeisle("envs", "prune")
    assert pruned.returncode == 0 and "removed" not in pruned.stdout
    assert "Text Tools" in nodeisle("envs", "list").stdout


def test_config_with_a_library_entry_that_is_not_an_object_is_a_clear_error(home: Path) -> None:
    (home / "config.json").write_text('{"libraries": {"Text Tools": "hello"}}')
    result = nodeisle("config", "set", "libraries.Text Tools.greeting", "hi")
    assert result.returncode == 2 and "config.json" in result.stderr and "Traceback" not in result.stderr
    (home / "config.json").write_bytes(b'{"offline": "caf\xe9"}')
    result = nodeisle("config", "list")
    assert result.returncode == 2 and "not UTF-8" in result.stderr and "config.json" in result.stderr


def test_an_engine_home_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "home-file"
    not_a_dir.write_text("x")
    result = nodeisle("config", "set", "broadcast_timeout", "2", env={**os.environ, "NODEISLE_HOME": str(not_a_dir)})
    assert result.returncode == 2 and "Traceback" not in result.stderr and "error:" in result.stderr


def test_check_handles_null_metadata_and_a_re_exported_class(tmp_path: Path, home: Path) -> None:
    lib = tmp_path / "reexport"
    lib.mkdir()
    (lib / "_impl.py").write_text(NODES)
    (lib / "nodes.py").write_text("from _impl import Num\n")
    (lib / "griptape-nodes-library.json").write_text(json.dumps({
        "name": "Reexport", "metadata": None,
        "nodes": [{"class_name": "Num", "file_path": "nodes.py", "metadata": {"category": "x"}}],
    }))
    result = nodeisle("check", str(lib), "--shared")
    assert "Traceback" not in result.stderr, result.stderr
    assert "PASS schema-probe" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (b'{"nodes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", ["$", "nested too deeply"]),
        (b'{"nodes": [], "x": ' + b"9" * 5000 + b"}", ["$", "5000 digits"]),
        (b'{"nodes": [{"name": "caf\xe9", "type": "Num"}]}', ["$", "not UTF-8"]),
        (b'{"nodes": [{"name": "slow", "type": "Num", "timeout": NaN}]}', ["nodes[0].timeout", "node 'slow'", "NaN"]),
        (b'{"nodes": [{"name": "n\\u202eum", "type": "Num"}]}', ["nodes[0].name", "U+202E"]),
    ],
    ids=["100k-deep", "5000-digit-number", "latin-1", "nan-timeout", "bidi-name"],
)
def test_hostile_workflow_file_exits_two_naming_the_file_without_a_traceback(
    tmp_path: Path, home: Path, text: bytes, needles: list[str]
) -> None:
    wf = tmp_path / "hostile.json"
    wf.write_bytes(text)
    result = nodeisle("run", str(wf))
    assert result.returncode == 2, (result.stdout, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and f"error: {wf}: " in result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_libraries_mode_with_a_wrong_word_lists_the_accepted_words_and_any_case_works(home: Path, lib: Path) -> None:
    assert nodeisle("libraries", "add", str(lib)).returncode == 0
    wrong = nodeisle("libraries", "mode", "Cli Lib", "WORKER")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "error: unknown library mode 'WORKER'; expected 'shared' or 'isolated'" in wrong.stderr
    assert "a library in a worker is 'isolated'" in wrong.stderr
    assert json.loads((home / "settings.json").read_text())["library_modes"] == {}
    assert nodeisle("libraries", "mode", "Cli Lib", "Isolated").returncode == 0
    assert json.loads((home / "settings.json").read_text())["library_modes"] == {"Cli Lib": "isolated"}


def test_libraries_add_refuses_a_second_library_of_the_same_name_naming_both_paths(
    tmp_path: Path, home: Path, lib: Path
) -> None:
    twin = write_library(tmp_path / "other", "Cli Lib", NODES, ["Num"])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "griptape-nodes-library.json").write_text('{"name": "Broken", "nodes": [')
    first, second = str(lib / "griptape-nodes-library.json"), str(twin / "griptape-nodes-library.json")
    assert nodeisle("libraries", "add", str(lib)).returncode == 0
    refused = nodeisle("libraries", "add", str(twin))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "a library named 'Cli Lib' is already registered from" in refused.stderr
    assert first in refused.stderr and second in refused.stderr and "libraries remove" in refused.stderr
    assert json.loads((home / "settings.json").read_text())["libraries"] == [first]
    assert nodeisle("libraries", "add", str(lib)).returncode == 0  # the same library again: still fine
    # A manifest that cannot be loaded is refused at add time, as before, and registers nothing.
    bad = nodeisle("libraries", "add", str(broken))
    assert bad.returncode == 2 and "griptape-nodes-library.json" in bad.stderr and "line 1" in bad.stderr
    assert json.loads((home / "settings.json").read_text())["libraries"] == [first]
    # A registered manifest that broke since does not stop another library from being added.
    (lib / "griptape-nodes-library.json").write_text("{")
    assert nodeisle("libraries", "add", str(twin)).returncode == 0
    assert json.loads((home / "settings.json").read_text())["libraries"] == [first, second]


def test_a_failed_library_counts_its_nodes_and_prints_the_installer_error_once(
    tmp_path: Path, offline_home: Path, lib: Path
) -> None:
    bad = write_library(tmp_path / "bad", "Unbuildable", NODES, ["Num", "Fail"], pins=["doesnotexist==1.0"])
    wf = workflow(tmp_path, {
        "libraries": [str(bad), str(lib)],
        "library_modes": {"Unbuildable": "isolated"},
        "nodes": [
            {"name": "broken", "library": "Unbuildable", "type": "Num"},
            {"name": "broken_too", "library": "Unbuildable", "type": "Num"},
            {"name": "after", "library": "Cli Lib", "type": "Num"},
            {"name": "fine", "library": "Cli Lib", "type": "Num", "values": {"value": 4}},
        ],
        "connections": [{"from": "broken.out", "to": "after.value"}],
    })
    uv_says = "No solution found"  # a line of uv's own error text
    text = nodeisle("run", str(wf))
    assert text.returncode == 1, text.stderr
    assert "run failed: 1 of 4 nodes succeeded" in text.stdout
    assert "library 'Unbuildable' failed to load" in text.stdout
    for name in ("broken", "broken_too", "after", "fine"):
        assert f"  {name}  " in text.stdout
    assert (text.stdout + text.stderr).count(uv_says) == 1, text.stdout + text.stderr
    as_json = nodeisle("run", str(wf), "--json")
    assert as_json.returncode == 1, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert list(doc["nodes"]) == ["broken", "broken_too", "after", "fine"]
    assert [n["status"] for n in doc["nodes"].values()] == ["failed", "failed", "skipped", "succeeded"]
    assert uv_says in doc["library_errors"]["Unbuildable"]
    assert doc["nodes"]["broken"]["error"]["message"].startswith("library 'Unbuildable' failed to load")
    assert (as_json.stdout + as_json.stderr).count(uv_says) == 1, as_json.stdout + as_json.stderr


ARRAY_NODES = """
import numpy as np
from nodeisle import BaseNode, Parameter, ParameterMode
OUT = {ParameterMode.OUTPUT}
class Arrays(BaseNode):
    def __init__(self, name, metadata=None):
        super().__init__(name, metadata)
        for name in ("grid", "big", "stamps", "nested"):
            self.add_parameter(Parameter(name, allowed_modes=OUT))
    def process(self):
        self.parameter_output_values["grid"] = np.zeros((3, 4), dtype=np.float32)
        self.parameter_output_values["big"] = np.arange(5, dtype=">i8")
        self.parameter_output_values["stamps"] = np.array(["2026-12-01"], dtype="datetime64[D]")
        self.parameter_output_values["nested"] = {"a": [np.ones(2, dtype=np.uint8)]}
"""

# The orchestrator's process without numpy: `import numpy` fails there, the worker's env has it.
WITHOUT_NUMPY = "import sys; sys.modules['numpy'] = None; from nodeisle.cli import main; raise SystemExit(main())"


def test_run_shows_arrays_from_an_isolated_node_by_dtype_and_shape_with_or_without_numpy_here(
    tmp_path: Path, offline_home: Path
) -> None:
    lib = write_library(tmp_path / "libs", "Arrays", ARRAY_NODES, ["Arrays"], pins=["numpy"])
    wf = str(workflow(tmp_path, {"libraries": [str(lib)], "nodes": [{"name": "arrays", "type": "Arrays"}]}))
    expected = ("       ok  arrays  grid=array(float32, shape=(3, 4))  big=array(>i8, shape=(5,))  "
                'stamps=array(datetime64[D], shape=(1,))  nested={"a": [array(uint8, shape=(2,))]}')
    blocked = [sys.executable, "-c", WITHOUT_NUMPY, "run", wf, "--all-isolated"]
    text = subprocess.run(blocked, capture_output=True, text=True, timeout=240)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0] == expected
    as_json = subprocess.run([*blocked, "--json"], capture_output=True, text=True, timeout=120)
    assert as_json.returncode == 0, as_json.stderr
    outputs = json.loads(as_json.stdout)["nodes"]["arrays"]["outputs"]
    assert outputs["grid"] == {"$type": "ndarray", "dtype": "float32", "shape": [3, 4]}
    assert outputs["big"] == {"$type": "ndarray", "dtype": ">i8", "shape": [5]}
    assert outputs["stamps"] == {"$type": "ndarray", "dtype": "datetime64[D]", "shape": [1]}
    with_numpy = nodeisle("run", wf, "--all-isolated")
    assert with_numpy.returncode == 0 and with_numpy.stdout == text.stdout
    assert json.loads(nodeisle("run", wf, "--all-isolated", "--json").stdout)["nodes"]["arrays"]["outputs"] == outputs


def test_libraries_list_shows_a_failed_isolated_library_as_isolated_with_the_reason(
    tmp_path: Path, offline_home: Path
) -> None:
    bad = write_library(tmp_path / "libs", "Bad Pin", NODES, ["Num"], pins=["tinyver==9.9"],
                        declarations=[{"type": "suggested_worker_mode", "mode": "WORKER"}])
    assert nodeisle("libraries", "add", str(bad)).returncode == 0
    listed = nodeisle("libraries", "list")
    assert listed.returncode == 0, listed.stderr
    assert "in process" not in listed.stdout, listed.stdout
    [detail] = [line for line in listed.stdout.splitlines() if "effective=" in line]
    assert "effective=isolated  worker=isolated (failed: " in detail and "tinyver" in detail, detail
    [row] = json.loads(nodeisle("libraries", "list", "--json").stdout)
    assert (row["status"], row["effective_mode"], row["worker_id"], row["worker_state"]) == (
        "failed", "isolated", None, "failed")


def test_envs_list_prints_when_each_env_was_built_as_local_time_and_age(home: Path) -> None:
    import datetime
    import re
    import time

    from nodeisle.orchestrator.envs import MARKER_NAME

    key = "0123456789abcdef" * 4
    created = time.time() - 3 * 86400 - 600  # three days and ten minutes ago
    env = home / "envs" / f"env-{key[:16]}"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").write_text("")
    (env / MARKER_NAME).write_text(json.dumps({
        "format": 2, "key": key, "library": "Text Tools", "libraries": ["Text Tools", "Other"], "created_at": created,
        "inputs": {"pip_dependencies": ["tinyver==1.0"], "pip_install_flags": []},
    }))
    listed = nodeisle("envs", "list")
    assert listed.returncode == 0, listed.stderr
    local = datetime.datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M")
    assert listed.stdout == (
        f"{env.name}  used by: Text Tools, Other  0 kB  {env}  pins=['tinyver==1.0']  created {local} (3 days ago)\n")
    assert not re.search(r"\d{9,}\.\d", listed.stdout), "no raw epoch seconds"


def test_run_orders_nodes_by_control_connections_and_shows_a_branch_not_taken(tmp_path: Path, home: Path) -> None:
    from tests.griptape_nodes.test_control_flows import CLASSES, LIBRARY, NODES

    library = write_library(tmp_path / "libs", LIBRARY, NODES, CLASSES)
    log = tmp_path / "order.log"
    steps = [{"name": n, "type": "Step", "values": {"log": str(log)}} for n in ("second", "first", "other")]
    wf = workflow(tmp_path, {
        "libraries": [str(library)],
        "nodes": [{"name": "if", "type": "Branch"}, *steps],
        "connections": [{"from": "if.True", "to": "first.exec_in"}, {"from": "first.exec_out", "to": "second.exec_in"},
                        {"from": "if.False", "to": "other.exec_in"}],
    })
    result = nodeisle("run", str(wf))
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert [line.split()[:2] for line in log.read_text().splitlines()] == [
        ["start", "first"], ["end", "first"], ["start", "second"], ["end", "second"]
    ]
    assert "skipped  other   NotReached: control output if.False did not fire" in result.stdout
    assert "run succeeded: 3 of 4 nodes succeeded, 1 not reached" in result.stdout

    bad = workflow(tmp_path, {
        "libraries": [str(library)],
        "nodes": [{"name": "if", "type": "Branch"}, *steps],
        "connections": [{"from": "if.True", "to": "first.exec_in"}, {"from": "if.True", "to": "first.text"}],
    }, name="bad.json")
    result = nodeisle("run", str(bad))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"{bad}: connections[1]: cannot connect if.True -> first.text: if.True is a control output" in result.stderr


def test_a_workflow_may_name_a_library_registered_with_libraries_add_by_its_name_alone(
    tmp_path: Path, offline_home: Path, lib: Path
) -> None:
    wf = workflow(tmp_path, {"nodes": [{"name": "n", "library": "Cli Lib", "type": "Num", "values": {"value": 4}}]})
    unknown = nodeisle("run", str(wf))
    assert unknown.returncode == 2 and "no library named 'Cli Lib' is registered" in unknown.stderr
    assert nodeisle("libraries", "add", str(lib)).returncode == 0
    shared = nodeisle("run", str(wf), "--json")
    assert shared.returncode == 0, shared.stderr
    assert json.loads(shared.stdout)["nodes"]["n"]["outputs"] == {"out": 40} and "env Cli Lib" not in shared.stderr
    isolated = nodeisle("run", str(wf), "--json", "--all-isolated")  # --all-isolated covers it too
    assert isolated.returncode == 0, isolated.stderr
    assert json.loads(isolated.stdout) == json.loads(shared.stdout) and "env Cli Lib: done" in isolated.stderr


# -- containment: peak memory in `run --json` --------------------------------------------------------
def test_run_json_reports_each_executions_peak_memory_under_a_memory_limit(tmp_path: Path, offline_home: Path) -> None:
    from nodeisle.orchestrator.cgroups import machine_facts
    from tests.orchestrator.test_cgroups import CLASSES, NODES

    if machine_facts().v2_root is None and "memory" not in machine_facts().v1_roots:
        pytest.fail("needs a writable memory cgroup; this machine kind has one as root")
    lib = write_library(tmp_path / "libs", "Contained", NODES, CLASSES)
    (offline_home / "settings.json").write_text(json.dumps({"library_limits": {"Contained": {"memory": "256MiB"}}}))
    wf = workflow(tmp_path, {"libraries": [str(lib)], "nodes": [{"name": "h", "type": "Hog", "values": {"mib": 64}}]})
    result = nodeisle("run", str(wf), "--json", "--all-isolated")
    assert result.returncode == 0, result.stderr
    peak = json.loads(result.stdout)["nodes"]["h"]["peak_memory_bytes"]
    assert 64 * 1024**2 < peak < 256 * 1024**2
