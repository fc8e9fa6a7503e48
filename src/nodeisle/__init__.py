"""nodeisle: a node-graph engine whose libraries run Shared (in process) or Isolated (in a worker).

This package's top level is what library code imports. It depends on the standard library only,
because it is also the worker runtime installed into every isolated library's environment.
"""

from nodeisle.errors import NodeisleError, RequestRefused
from nodeisle.node.api import ahandle_request, handle_request
from nodeisle.node.model import BaseNode, Options, Parameter, Trait
from nodeisle.node.spec import ParameterMode

__version__ = "0.1.0"

__all__ = [
    "BaseNode",
    "NodeisleError",
    "Options",
    "Parameter",
    "ParameterMode",
    "RequestRefused",
    "Trait",
    "__version__",
    "ahandle_request",
    "handle_request",
]
