"""What a worker may ask of the orchestrator: each forwarded request is judged by the library that sent it.

A worker is admitted with a credential bound to one library (nodeisle.orchestrator.workers), so
the orchestrator always knows which library a forwarded request comes from. The rules, each with
the id that refusals name (docs/workers.md lists them with their tests):

* ``library-management``: registering, reloading or switching libraries is for the engine's user;
  node code could otherwise move its library out of its worker and past ``required_secrets``.
* ``engine-config``: a library writes only its own config namespace, ``libraries.<its name>.*`` and
  ``libraries.<category>.*`` for each category its manifest's ``settings`` declare;
  engine-wide settings (``find_links``, ``uv_cache``, timeouts, crash limits, ...) and other
  libraries' settings steer every library, so node code may read them but not change them.
* ``declared-secrets``: a library that declares ``required_secrets`` reads, sets and deletes only
  those keys; a library that declares none reads any secret (the seed's behaviour) and writes none.
* ``own-nodes``: node code changes only nodes of its own library: create, execute, run, set a
  value, add or remove a parameter, delete, and connect *into* them. A connection changes its target
  node (what it is fed), so connecting an own output into another library's input is refused and the
  reverse is allowed. Running or deleting a flow touches every node in it, so every node must be
  the library's own. Reads of flow state (values, parameters, connections, flows, libraries) stay
  allowed, with the ``worker-reach-into-orchestrator`` warning in the worker.
* ``static-files``: a library saves static files only into its own folder of the engine home's
  static-files area (nodeisle.orchestrator.static_files); the file name's checks apply to everyone.

Pure logic: the engine supplies what the rules look up (:class:`GraphFacts`) and raises
:class:`~nodeisle.errors.RequestRefused` with the message; the worker raises it again in node code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nodeisle.requests import (
    AddParameterToNodeRequest,
    CreateConnectionRequest,
    CreateNodeRequest,
    DeleteConnectionRequest,
    DeleteFlowRequest,
    DeleteNodeRequest,
    DeleteSecretValueRequest,
    ExecuteNodeRequest,
    GetSecretValueRequest,
    RegisterLibraryRequest,
    ReloadLibraryRequest,
    RemoveParameterFromNodeRequest,
    Request,
    ResetConfigRequest,
    RunFlowRequest,
    SaveStaticFileRequest,
    SetConfigValueRequest,
    SetLibraryModeRequest,
    SetParameterValueRequest,
    SetSecretValueRequest,
)

LIBRARY_MANAGEMENT = "library-management"
ENGINE_CONFIG = "engine-config"
DECLARED_SECRETS = "declared-secrets"
OWN_NODES = "own-nodes"
STATIC_FILES = "static-files"
RULES = (LIBRARY_MANAGEMENT, ENGINE_CONFIG, DECLARED_SECRETS, OWN_NODES, STATIC_FILES)

_MANAGEMENT = (RegisterLibraryRequest, ReloadLibraryRequest, SetLibraryModeRequest)
_NODE_WRITES = (
    ExecuteNodeRequest,
    SetParameterValueRequest,
    AddParameterToNodeRequest,
    RemoveParameterFromNodeRequest,
    DeleteNodeRequest,
)


@dataclass(frozen=True)
class GraphFacts:
    """What the rules need to know of the engine's state, as lookups (None: not known)."""

    node_library: Callable[[str], str | None]  # node name -> its library
    type_library: Callable[[str, str | None], str | None]  # (node type, library asked for) -> library
    flow_libraries: Callable[[str], Sequence[str]]  # flow name -> the libraries of its nodes
    declared_secrets: Callable[[str], tuple[str, ...] | None]  # library -> its required_secrets
    # (node, output parameter or None for all) -> the libraries of the nodes its connections feed
    fed_libraries: Callable[[str, str | None], Sequence[str]] = lambda _node, _parameter: ()
    # secret name -> the libraries that declare it, whether the operator set it, whether it is a secret at all
    declared_by: Callable[[str], Sequence[str]] = lambda _key: ()
    operator_set: Callable[[str], bool] = lambda _key: False
    known_secret: Callable[[str], bool] = lambda _key: True
    # library -> the config categories its manifest's settings declare (libraries.<category>.* is its own too)
    config_categories: Callable[[str], Sequence[str]] = lambda _library: ()


_LIBRARIES = "libraries."


def own_namespace(library: str) -> str:
    """The config prefix a library may write: ``libraries.<library>.``."""
    return f"libraries.{library}."


def judge(library: str, request: Request, facts: GraphFacts) -> str | None:
    """Why ``library``'s worker may not make ``request`` (the refusal message), or None if it may."""
    name = type(request).__name__
    reason = _reason(library, request, facts)
    if reason is None:
        return None
    rule, why = reason
    return f"{name} refused for library {library!r} (rule {rule}): {why}"


def _reason(library: str, request: Request, facts: GraphFacts) -> tuple[str, str] | None:
    if isinstance(request, _MANAGEMENT):
        return LIBRARY_MANAGEMENT, (
            "registering, reloading and switching libraries is for the engine's user, not for node code in a worker"
        )
    if isinstance(request, (SetConfigValueRequest, ResetConfigRequest)):
        return _config(library, request.key, facts.config_categories(library))
    if isinstance(request, (GetSecretValueRequest, SetSecretValueRequest, DeleteSecretValueRequest)):
        return _secret(library, request, facts.declared_secrets(library)) or _shared_secret(library, request, facts)
    if isinstance(request, SaveStaticFileRequest) and request.library_name != library:
        return STATIC_FILES, (
            f"node code saves static files only into its own library's folder, not into {request.library_name!r}'s; "
            f"send library_name={library!r}"
        )
    return _nodes(library, request, facts) or _side_effects(library, request, facts)


def _config(library: str, key: str | None, categories: Sequence[str] = ()) -> tuple[str, str] | None:
    prefix = own_namespace(library)
    if key is not None and key.startswith(_LIBRARIES):
        # Split as the config store does (the last dot ends the library's name), so "libraries.A.x.y"
        # is library "A.x"'s setting, not one of library "A"'s. A category the library's manifest
        # declares in its settings is the library's own namespace too.
        owner, _, setting = key[len(_LIBRARIES) :].rpartition(".")
        if (owner == library or owner in categories) and setting:
            return None
    what = "every config key" if key is None else f"config key {key!r}"
    return ENGINE_CONFIG, (
        f"node code may change only its own library's settings ({prefix}<name>), not {what}; engine-wide "
        "settings are changed by the engine's user (nodeisle config set)"
    )


def _secret(
    library: str, request: GetSecretValueRequest | SetSecretValueRequest | DeleteSecretValueRequest,
    declared: tuple[str, ...] | None,
) -> tuple[str, str] | None:
    if declared is not None:
        if request.key in declared:
            return None
        return DECLARED_SECRETS, (
            f"secret {request.key!r} is not in the library's required_secrets ({', '.join(declared) or 'none'}); "
            "to allow it, add it to the required_secrets declaration in the library's manifest"
        )
    if isinstance(request, GetSecretValueRequest):
        return None
    return DECLARED_SECRETS, (
        f"the library declares no required_secrets, so its node code may read secrets but not change "
        f"{request.key!r}; declare the keys it writes in required_secrets"
    )


def _shared_secret(
    library: str, request: GetSecretValueRequest | SetSecretValueRequest | DeleteSecretValueRequest, facts: GraphFacts
) -> tuple[str, str] | None:
    """Secret names are shared by every library: one may not change what others read, nor read the
    operator's unrelated environment variables."""
    if isinstance(request, GetSecretValueRequest):
        if facts.known_secret(request.key):
            return None
        return DECLARED_SECRETS, (
            f"{request.key!r} is not a secret (not in .env, and no library declares it); the operator's other "
            "environment variables are not for node code"
        )
    others = sorted(set(facts.declared_by(request.key)) - {library})
    if others:
        return DECLARED_SECRETS, (
            f"secret {request.key!r} is also declared by {', '.join(map(repr, others))}: node code may change only "
            "a secret no other library reads; the engine's user sets shared ones (nodeisle secrets set)"
        )
    if facts.operator_set(request.key):
        return DECLARED_SECRETS, (
            f"secret {request.key!r} is set by the operator in the engine's environment; node code may not override it"
        )
    return None


def _side_effects(library: str, request: Request, facts: GraphFacts) -> tuple[str, str] | None:
    """Deleting an own node, or removing an own output, removes the connections it feeds: those into
    another library's node change that node, so the connection's target decides, as for a disconnect."""
    if isinstance(request, DeleteNodeRequest):
        fed = facts.fed_libraries(request.node_name, None)
        what = f"deleting node {request.node_name!r}"
    elif isinstance(request, RemoveParameterFromNodeRequest):
        fed = facts.fed_libraries(request.node_name, request.parameter_name)
        what = f"removing {request.node_name}.{request.parameter_name}"
    else:
        return None
    others = sorted(set(fed) - {library})
    if not others:
        return None
    return OWN_NODES, (
        f"{what} would remove its connections into nodes of {', '.join(map(repr, others))}; delete those "
        "connections first (as the engine's user) or leave the node in place"
    )


def _nodes(library: str, request: Request, facts: GraphFacts) -> tuple[str, str] | None:
    if isinstance(request, CreateNodeRequest):
        owner = facts.type_library(request.node_type, request.library_name)
        return _foreign(library, owner, f"node type {request.node_type!r}")
    if isinstance(request, _NODE_WRITES):
        return _foreign(library, facts.node_library(request.node_name), f"node {request.node_name!r}")
    if isinstance(request, (CreateConnectionRequest, DeleteConnectionRequest)):
        target = request.target_node_name
        return _foreign(library, facts.node_library(target), f"the connection's target node {target!r}")
    if isinstance(request, (RunFlowRequest, DeleteFlowRequest)):
        others = sorted(set(facts.flow_libraries(request.flow_name)) - {library})
        if others:
            return OWN_NODES, (
                f"flow {request.flow_name!r} holds nodes of other libraries ({', '.join(map(repr, others))}); "
                "node code may run or delete only flows made of its own library's nodes"
            )
    return None


def _foreign(library: str, owner: str | None, what: str) -> tuple[str, str] | None:
    if owner is None or owner == library:
        return None  # unknown: the request itself fails with the usual message
    return OWN_NODES, (
        f"{what} belongs to library {owner!r}; node code may change only its own library's nodes "
        "(reading other nodes' state is allowed)"
    )
