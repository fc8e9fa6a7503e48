"""A library's folder is importable by its own code, and only by it: sibling modules, its packages and
relative imports resolve inside the library's package, two libraries never share a module, and the
rest of the process imports as before."""

from __future__ import annotations

import importlib
import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from nodeisle.manifest import load_manifest
from nodeisle.node import libimport
from nodeisle.node.hosting import import_library
from nodeisle.node.loading import LibraryCode

NODE = '''
import nodeisle
from base_node import Base
import utils
from mypackage.sub import helper
import mypackage.sub


class {cls}(Base):
    def tag(self):
        return utils.TAG, helper(), mypackage.sub.helper()

    def lazy_tag(self):
        import utils as later
        from base_node import Base as LaterBase
        return later.TAG, LaterBase is Base
'''


def write(root: Path, name: str, tag: str, files: dict[str, str] | None = None, nodes: list[tuple[str, str]] | None = None) -> Path:
    folder = root / name.replace(" ", "_")
    sources = {
        "base_node.py": f"import nodeisle\n\nclass Base(nodeisle.BaseNode):\n    LIBRARY = {tag!r}\n",
        "utils.py": f"TAG = {tag!r}\n",
        "mypackage/__init__.py": "",
        "mypackage/sub.py": f"from . import inner\nfrom .inner import VALUE\n\ndef helper():\n    return VALUE + {tag!r}\n",
        "mypackage/inner.py": "VALUE = 'inner-'\n",
        "nodes.py": NODE.format(cls="Tagged"),
        **(files or {}),
    }
    for rel, text in sources.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    entries = nodes or [("Tagged", "nodes.py")]
    manifest = {"name": name, "library_schema_version": "0.9.0", "metadata": {"dependencies": {"pip_dependencies": []}},
                "categories": [], "nodes": [{"class_name": c, "file_path": f, "metadata": {}} for c, f in entries]}
    (folder / "griptape-nodes-library.json").write_text(json.dumps(manifest))
    return folder


def load(folder: Path) -> LibraryCode:
    code = import_library(load_manifest(folder, require_inside=True))
    assert code.dropped == [], code.dropped
    return code


def node(code: LibraryCode, cls: str = "Tagged") -> Any:
    return code.classes[cls](f"n-{cls}", None)


def test_two_libraries_each_get_their_own_siblings_and_packages(tmp_path: Path) -> None:
    one, two = load(write(tmp_path, "Lib One", "one")), load(write(tmp_path, "Lib Two", "two"))
    assert node(one).tag() == ("one", "inner-one", "inner-one")
    assert node(two).tag() == ("two", "inner-two", "inner-two")
    assert node(one).LIBRARY == "one" and node(two).LIBRARY == "two"
    assert "utils" not in sys.modules and "base_node" not in sys.modules and "mypackage" not in sys.modules


def test_lazy_imports_at_run_time_resolve_in_the_library_from_any_thread(tmp_path: Path) -> None:
    one, two = load(write(tmp_path, "Lazy One", "one")), load(write(tmp_path, "Lazy Two", "two"))
    results: list[tuple[str, bool]] = []
    threads = [threading.Thread(target=lambda c=c: results.append(node(c).lazy_tag())) for c in (one, two) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [("one", True)] * 3 + [("two", True)] * 3


def test_names_that_differ_only_in_punctuation_never_share_a_module(tmp_path: Path) -> None:
    dash, under = write(tmp_path / "a", "my-lib", "dash"), write(tmp_path / "b", "my_lib", "under")
    a, b = load(dash), load(under)
    assert node(a).tag()[0] == "dash" and node(b).tag()[0] == "under"
    assert a.classes["Tagged"].__module__ != b.classes["Tagged"].__module__
    assert libimport.package_name("my-lib", Path("/x")) != libimport.package_name("my_lib", Path("/x"))


def test_the_rest_of_the_process_imports_as_before(tmp_path: Path) -> None:
    code = load(write(tmp_path, "Quiet", "q", {"quiet_helpers_xyz.py": "X = 1\n", "json.py": "BROKEN = True\n"}))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("quiet_helpers_xyz")
    with pytest.raises(ModuleNotFoundError):
        exec("import quiet_helpers_xyz", {"__name__": "nodeisle.orchestrator.somewhere"})
    assert str(tmp_path) not in " ".join(sys.path)
    # A library file named like a standard library module does not shadow it, even for library code.
    module = sys.modules[code.classes["Tagged"].__module__]
    exec("import json as j\nassert hasattr(j, 'dumps')", dict(module.__dict__))


def test_a_node_file_in_a_folder_is_one_module_with_what_imports_it(tmp_path: Path) -> None:
    files = {
        "nodes/__init__.py": "",
        "nodes/image/blur.py": "import nodeisle\n\nclass Blur(nodeisle.BaseNode):\n    pass\n",
        "nodes/image/sharper.py": "from nodes.image.blur import Blur\nfrom .blur import Blur as Same\n\n"
                                  "class Sharper(Blur):\n    SAME = Same is Blur\n",
        "my-node.py": "import nodeisle\nfrom utils import TAG\n\nclass Dashed(nodeisle.BaseNode):\n    T = TAG\n",
    }
    code = load(write(tmp_path, "Folders", "f", files,
                      [("Blur", "nodes/image/blur.py"), ("Sharper", "nodes/image/sharper.py"), ("Dashed", "my-node.py")]))
    assert issubclass(code.classes["Sharper"], code.classes["Blur"]) and code.classes["Sharper"].SAME
    assert code.classes["Dashed"].T == "f"


def test_a_reload_runs_the_current_files(tmp_path: Path) -> None:
    folder = write(tmp_path, "Reloaded", "before")
    assert node(load(folder)).tag()[0] == "before"
    (folder / "utils.py").write_text("TAG = 'after'\n")
    assert node(load(folder)).tag()[0] == "after"


def test_a_failing_sibling_drops_the_class_naming_the_error(tmp_path: Path) -> None:
    folder = write(tmp_path, "Broken", "b", {"utils.py": "raise RuntimeError('utils is broken')\n"})
    code = import_library(load_manifest(folder, require_inside=True))
    (dropped,) = code.dropped
    assert dropped.class_name == "Tagged" and "utils is broken" in dropped.reason
    assert "utils.py" in dropped.traceback
