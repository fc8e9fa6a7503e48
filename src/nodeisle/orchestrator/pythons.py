"""Which Python an Isolated library's env is built on: the rule, with no I/O.

:mod:`nodeisle.orchestrator.interpreters` reads the library's ``requires-python`` and lists the
interpreters on this machine; this module decides among them, so the rule is tested without
processes. The rule, in order:

1. a per-library ``python`` setting (``nodeisle libraries python NAME ...``) wins. A version
   (``3.12``, ``3.12.1``) picks the newest interpreter found of that version; a path is that
   interpreter. Either may contradict ``requires-python``: the user's choice stands, with a warning;
2. no requirement, or one the orchestrator's own Python satisfies: the orchestrator's Python (the env
   is the one it always was, no search needed);
3. else the newest interpreter found that satisfies the requirement;
4. else :class:`NoInterpreter`, naming the requirement, its file, what was found and the fixes.

"Newest" compares release numbers; on a tie a final release beats a pre-release, a GIL build beats a
free-threaded one, CPython beats other implementations, and then the order of the sources decides
(the orchestrator's Python, PATH, pyenv, uv). ``requires-python`` is matched as pip matches it
(:mod:`packaging.specifiers`, pre-releases allowed), against the full version (``3.12.1``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

__all__ = [
    "SOURCES",
    "Choice",
    "Interpreter",
    "NoInterpreter",
    "PythonSetting",
    "RequiresPython",
    "choose",
    "parse_python_setting",
    "parse_requires_python",
]

#: Where an interpreter was found, in the order that breaks ties between equal versions.
SOURCES = ("orchestrator", "setting", "PATH", "pyenv", "uv")
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
#: The oldest Python the worker runtime runs on (nodeisle's own requires-python): older ones found are
#: listed in errors but never chosen.
RUNTIME_MINIMUM = (3, 11)
#: Minor versions the fix in an error message may suggest installing (``uv python install 3.N``).
_SUGGESTABLE = tuple(f"3.{minor}" for minor in range(8, 21))


@dataclass(frozen=True)
class Interpreter:
    """One Python on this machine, as it described itself when run."""

    path: str  # its sys.executable: a real interpreter, never a pyenv shim
    version: str  # the full version as PEP 508's python_full_version: "3.12.1", "3.13.0rc2"
    implementation: str = "cpython"
    source: str = "PATH"  # one of SOURCES
    freethreaded: bool = False

    @property
    def release(self) -> tuple[int, ...]:
        match = _VERSION.match(self.version)
        return tuple(int(part) for part in match.groups() if part is not None) if match else ()

    def describe(self) -> str:
        flavour = "" if self.implementation == "cpython" else f"{self.implementation} "
        threads = " free-threaded" if self.freethreaded else ""
        return f"{flavour}Python {self.version}{threads} at {self.path} ({self.source})"


@dataclass(frozen=True)
class RequiresPython:
    """A library's ``requires-python`` and the pyproject.toml it was read from."""

    specifier: str
    file: Path

    @property
    def where(self) -> str:
        return f"requires-python {self.specifier!r} in {self.file}"

    def allows(self, version: str) -> bool:
        return SpecifierSet(self.specifier).contains(version, prereleases=True)


def parse_requires_python(value: object, file: Path) -> RequiresPython:
    """``[project].requires-python`` as read from ``file``; ValueError names the file, field and fix."""
    if not isinstance(value, str):
        raise ValueError(f"{file}: [project] requires-python must be a string such as '>=3.12', found {value!r}")
    try:
        SpecifierSet(value)
    except InvalidSpecifier:
        raise ValueError(
            f"{file}: [project] requires-python {value!r} is not a version specifier; write one such as "
            "'>=3.12' or '~=3.12' (PEP 440)"
        ) from None
    return RequiresPython(value.strip(), file)


@dataclass(frozen=True)
class PythonSetting:
    """A per-library ``python`` setting: a version to look for, or the path of one interpreter."""

    text: str
    version: tuple[int, ...] | None = None
    path: str | None = None

    def matches(self, interpreter: Interpreter) -> bool:
        if self.path is not None:
            return interpreter.source == "setting"
        assert self.version is not None
        return interpreter.release[: len(self.version)] == self.version


def parse_python_setting(text: str) -> PythonSetting:
    """``3.12``, ``3.12.1`` or an absolute path (``~`` expanded by the caller); ValueError says what is accepted."""
    value = text.strip()
    if re.fullmatch(r"\d+\.\d+(\.\d+)?", value):
        return PythonSetting(value, version=tuple(int(p) for p in value.split(".")))
    if value.startswith("/"):
        return PythonSetting(value, path=value)
    raise ValueError(
        f"python setting {text!r} is neither a version (such as 3.12 or 3.12.1) nor an absolute path to an "
        "interpreter (such as /usr/bin/python3.12); use `default` to go back to the automatic choice"
    )


@dataclass(frozen=True)
class Choice:
    """The interpreter a library's env is built on, why, and what the user should know about it."""

    interpreter: Interpreter
    why: str
    warning: str | None = None

    @property
    def is_orchestrators(self) -> bool:
        """Built on the orchestrator's own Python: the env (and its key) is the one it always was."""
        return self.interpreter.source == "orchestrator"

    def describe(self) -> str:
        return f"{self.interpreter.describe()}: {self.why}"


class NoInterpreter(Exception):
    """No interpreter fits; the message says what was asked, what was found and how to fix it."""


def _rank(interpreter: Interpreter) -> tuple[tuple[int, ...], bool, bool, bool, int]:
    source = SOURCES.index(interpreter.source) if interpreter.source in SOURCES else len(SOURCES)
    final = bool(re.fullmatch(r"[\d.]+", interpreter.version))
    return interpreter.release, final, not interpreter.freethreaded, interpreter.implementation == "cpython", -source


def newest(found: Sequence[Interpreter]) -> Interpreter | None:
    return max(found, key=_rank) if found else None


def _usable(found: Sequence[Interpreter]) -> list[Interpreter]:
    return [i for i in found if i.release >= RUNTIME_MINIMUM]


def _found_text(found: Sequence[Interpreter]) -> str:
    old = f" [older than {'.'.join(map(str, RUNTIME_MINIMUM))}: not for the worker runtime]"
    shown = [i.describe() + ("" if i in _usable(found) else old) for i in sorted(found, key=_rank, reverse=True)]
    return "; ".join(shown) or "(none)"


def _install_hint(requirement: RequiresPython) -> str:
    usable = [m for m in _SUGGESTABLE if tuple(map(int, m.split("."))) >= RUNTIME_MINIMUM]
    minors = [m for m in usable if requirement.allows(f"{m}.0") or requirement.allows(f"{m}.99")]
    if minors:
        return f"install one (for example `uv python install {minors[0]}`)"
    return "install a Python that satisfies it"


def _from_setting(
    library: str, setting: PythonSetting, requirement: RequiresPython | None, found: Sequence[Interpreter]
) -> Choice:
    matched = [i for i in found if setting.matches(i)]
    picked = newest(_usable(matched))
    if matched and picked is None:
        raise NoInterpreter(
            f"its python setting {setting.text!r} picks {max(matched, key=_rank).describe()}, older than Python "
            f"{'.'.join(map(str, RUNTIME_MINIMUM))}, the oldest the worker runtime runs on; set a newer one with "
            f"`nodeisle libraries python {library!r} VERSION|PATH`"
        )
    if picked is None:
        install = f"install it (`uv python install {setting.text}`), or " if setting.version else ""
        raise NoInterpreter(
            f"its python setting {setting.text!r} matches no interpreter on this machine; found: "
            f"{_found_text(found)}. To fix: {install}set another with "
            f"`nodeisle libraries python {library!r} VERSION|PATH`, or `default` for the automatic choice"
        )
    why = f"set by `nodeisle libraries python` ({setting.text})"
    warning = None
    if requirement is not None and not requirement.allows(picked.version):
        warning = (
            f"library {library!r}: its python setting {setting.text!r} picks Python {picked.version}, which "
            f"{requirement.where} does not allow; using it as set"
        )
    return Choice(picked, why, warning)


def choose(
    library: str,
    requirement: RequiresPython | None,
    orchestrator: Interpreter,
    found: Sequence[Interpreter] = (),
    setting: PythonSetting | None = None,
) -> Choice:
    """The interpreter for ``library``'s env (the rule in the module docstring).

    ``found`` is what the machine has (the orchestrator's Python among it or not; for a path setting,
    the probed interpreter with source ``"setting"``); it is not consulted when the orchestrator's
    Python will do, so the caller may pass nothing then.
    """
    if setting is not None:
        return _from_setting(library, setting, requirement, [orchestrator, *found])
    if requirement is None:
        return Choice(orchestrator, "the orchestrator's Python (no requires-python)")
    if requirement.allows(orchestrator.version):
        return Choice(orchestrator, f"the orchestrator's Python, which {requirement.where} allows")
    picked = newest([i for i in _usable(found) if requirement.allows(i.version)])
    if picked is None:
        raise NoInterpreter(
            f"it needs Python {requirement.specifier} ({requirement.where}), which the orchestrator's "
            f"Python {orchestrator.version} does not satisfy, and no interpreter found on this machine does "
            f"(searched PATH, pyenv's versions folder and uv-managed Pythons); found: "
            f"{_found_text([orchestrator, *found])}. To fix: {_install_hint(requirement)}, or point the "
            f"library at one with `nodeisle libraries python {library!r} VERSION|PATH`"
        )
    return Choice(picked, f"the newest Python found that {requirement.where} allows")
