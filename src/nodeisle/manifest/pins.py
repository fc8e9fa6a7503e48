"""Whether a pip requirement pins exactly one version, and the warning when it does not. Stdlib only."""

from __future__ import annotations

import re
from collections.abc import Iterable

_NAME_RE = re.compile(r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?(?P<rest>.*)",
                      re.S)
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_CLAUSE_RE = re.compile(r"(===|==|~=|!=|<=|>=|<|>)\s*(\S+)")
_COMMIT_RE = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_ARCHIVE_RE = re.compile(r"(?P<stem>.+?)\.(?:zip|tar\.gz|tgz|tar\.bz2|tar\.xz)")


def _url_problem(url: str) -> str | None:
    base, _, fragment = url.partition("#")
    if re.search(r"(?:^|&)(?:sha256|sha384|sha512)=", fragment):
        return None  # pip checks the hash, so the file cannot change
    if base.startswith(_VCS_PREFIXES):
        location = base.split("://", 1)[-1]
        repo_path = location.split("/", 1)[1] if "/" in location else ""
        if "@" not in repo_path:
            return "is a VCS reference without a commit (it installs whatever the default branch holds)"
        ref = repo_path.rsplit("@", 1)[1]
        if _COMMIT_RE.fullmatch(ref):
            return None
        return f"points at the VCS ref {ref!r}, a branch or tag that can move; end it with @<commit hash>"
    last = base.rstrip("/").rsplit("/", 1)[-1]
    if last.endswith(".whl"):
        return None
    archive = _ARCHIVE_RE.fullmatch(last)
    if archive is None:
        return "is a URL that names no wheel or archive file"
    if "/archive/" in base and not _COMMIT_RE.fullmatch(archive["stem"]):
        return f"is an archive of the ref {archive['stem']!r}, which can move; use the archive of a commit"
    return None


def pin_warning(req: str) -> str | None:
    """The warning for a requirement that is not pinned to one version, None when it is pinned."""
    body = req.split(";", 1)[0].strip()
    name: str | None = None
    problem: str | None
    is_url = _URL_RE.match(body) is not None
    match = None if is_url else _NAME_RE.fullmatch(body)
    if is_url:
        problem = _url_problem(body.split()[0])
    elif match is None:
        problem = "is not a 'name==version' requirement"
    else:
        name, rest = match["name"], match["rest"].strip()
        if rest.startswith("@"):
            problem = _url_problem(rest[1:].strip().split()[0]) if rest[1:].strip() else "has an empty URL"
        else:
            clauses = [c.strip() for c in rest.strip("() ").split(",") if c.strip()]
            parsed = [_CLAUSE_RE.fullmatch(c) for c in clauses]
            if not clauses:
                problem = "has no version at all"
            elif any(p is None for p in parsed):
                problem = f"has a version specifier {rest!r} that cannot be read"
            elif any(p[1] == "===" or (p[1] == "==" and not p[2].endswith("*")) for p in parsed if p):
                problem = None
            else:
                problem = f"allows a range of versions ({rest})"
    if problem is None:
        return None
    example = f"'{name}==<version>', like 'torch==2.4.1'" if name else "'torch==2.4.1'"
    return f"requirement {req!r} {problem}; pin it to exactly one version with '==' (e.g. {example})"


def unpinned_requirements(reqs: Iterable[str]) -> list[str]:
    """The requirements, in order, that do not pin exactly one version.

    Pinned: ``name==1.2`` (a local label such as ``+cu128`` is fine), ``name===1.2``, a VCS URL ending in
    ``@<full commit hash>``, a wheel URL, a file URL with a ``#sha256=`` hash, or an archive URL of a commit.
    Environment markers (``; sys_platform == 'win32'``) are ignored.
    """
    return [r for r in reqs if pin_warning(r) is not None]
