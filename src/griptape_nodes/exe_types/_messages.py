"""Griptape's UI messages on a node (``ParameterMessage``), the result of a node message
(``NodeMessageResult``, ``NodeMessagePayload``), ``BadgeData``, and the stack of open
``with ParameterGroup(...)`` blocks that parameters and messages created inside one join.

Messages are UI elements: they live on the node object in the process that built it and are not
part of the schema the orchestrator holds (nodeisle has no editor protocol for them yet).
Standard library only.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from typing import Any, ClassVar, Protocol, dataclass_transform

__all__ = ["BadgeData", "NodeMessagePayload", "NodeMessageResult", "ParameterMessage", "open_groups"]


class _Group(Protocol):
    def add_child(self, child: Any) -> None: ...


class _OpenGroups(threading.local):
    """The ``with ParameterGroup(...)`` blocks open in this thread, innermost last."""

    def __init__(self) -> None:
        self.stack: list[_Group] = []


open_groups = _OpenGroups()


@dataclass_transform(kw_only_default=True)
class NodeMessagePayload:
    """Data sent with, or answered to, a node message. Subclasses declare annotated fields and are
    built with keywords (Griptape's payloads are pydantic models; these are keyword dataclasses)."""

    data: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(kw_only=True)(cls)

    def __init__(self, *, data: Any = None) -> None:
        self.data = data


@dataclasses.dataclass(kw_only=True)
class NodeMessageResult:
    """What a node answers a message with: ``success``, human-readable ``details``, an optional
    ``response`` payload, and whether handling it changed the workflow."""

    success: bool
    details: str
    response: NodeMessagePayload | None = None
    altered_workflow_state: bool = True


@dataclasses.dataclass(kw_only=True)
class BadgeData:
    """A badge shown on a parameter (Griptape's editor); kept on the parameter, shown by no UI here."""

    variant: str = "info"
    title: str | None = None
    message: str | None = None
    icon: str | None = None
    color: str | None = None
    hide: bool = False
    hide_clear_button: bool = False


class ParameterMessage:
    """A message shown on a node (info, warning, error, ... ``variant``), optionally with a button link.

    Added with ``node.add_node_element(message)`` or created inside a ``with ParameterGroup`` block;
    found again with ``node.get_message_by_name_or_element_id(name)``, shown or hidden with
    ``show_message_by_name`` / ``hide_message_by_name``.
    """

    VARIANTS: ClassVar[tuple[str, ...]] = (
        "info", "warning", "error", "success", "tip", "link", "docs", "help", "note", "cloud-upload", "none",
    )
    DEFAULT_TITLES: ClassVar[dict[str, str]] = {
        "info": "Info", "warning": "Warning", "error": "Error", "success": "Success", "tip": "Tip",
        "link": "Link", "docs": "Documentation", "help": "Help", "note": "Note", "cloud-upload": "Upload", "none": "",
    }

    # Griptape's keywords, each a separate argument as library code passes them.
    def __init__(  # noqa: PLR0913
        self,
        variant: str,
        value: str,
        *,
        name: str | None = None,
        title: str | None = None,
        message_icon: str | None = "__DEFAULT__",
        button_link: str | None = None,
        button_text: str | None = None,
        button_icon: str | None = None,
        button_variant: str = "outline",
        button_align: str = "full-width",
        full_width: bool = False,
        markdown: bool | None = None,
        hide: bool | None = None,
        ui_options: dict[str, Any] | None = None,
        traits: Any = None,
        element_id: str | None = None,
    ) -> None:
        if variant not in self.VARIANTS:
            raise ValueError(f"ParameterMessage {name!r}: variant {variant!r} is not one of {', '.join(self.VARIANTS)}")
        self.element_id = element_id or uuid.uuid4().hex
        self.name = name or f"ParameterMessage_{self.element_id}"
        self.variant = variant
        self.value = value
        self.title = title
        self.message_icon = message_icon
        self.button_link, self.button_text, self.button_icon = button_link, button_text, button_icon
        self.button_variant, self.button_align, self.full_width = button_variant, button_align, full_width
        self.ui_options: dict[str, Any] = dict(ui_options or {})
        for key, given in (("markdown", markdown), ("hide", hide)):
            if given is not None and key not in self.ui_options:  # ui_options wins, as in Griptape
                self.ui_options[key] = given
        self.traits = list(traits or ())
        if open_groups.stack:
            open_groups.stack[-1].add_child(self)

    @property
    def hide(self) -> bool:
        return bool(self.ui_options.get("hide", False))

    @hide.setter
    def hide(self, value: bool) -> None:
        self.ui_options["hide"] = bool(value)

    @property
    def markdown(self) -> bool:
        return bool(self.ui_options.get("markdown", False))

    @markdown.setter
    def markdown(self, value: bool) -> None:
        self.ui_options["markdown"] = bool(value)

    def to_dict(self) -> dict[str, Any]:
        """The message as Griptape's editor receives it (its name, value and display options)."""
        return {
            "element_id": self.element_id,
            "element_type": "ParameterMessage",
            "name": self.name,
            "value": self.value,
            "ui_options": {
                **self.ui_options,
                "title": self.title or self.DEFAULT_TITLES.get(self.variant, ""),
                "variant": self.variant,
                "button_link": self.button_link,
                "button_text": self.button_text,
                "full_width": self.full_width,
            },
        }

    def __repr__(self) -> str:
        return f"ParameterMessage(name={self.name!r}, variant={self.variant!r}, value={self.value!r})"
