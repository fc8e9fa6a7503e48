"""Griptape's ``Button`` trait: a button on a parameter or message, with an ``on_click`` callback or a
``button_link``. nodeisle has no editor to click it: the button's options reach ``ui_options`` and
``click`` runs the callback as Griptape's editor would (for tests and for nodeisle's own editor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from griptape_nodes import _compat
from griptape_nodes.exe_types.core_types import NodeMessagePayload, NodeMessageResult, Trait

__all__ = ["Button", "ButtonDetailsMessagePayload", "OnClickMessageResultPayload"]


class ButtonDetailsMessagePayload(NodeMessagePayload):
    """The button as it was when clicked."""

    label: str
    variant: str
    size: str
    state: str
    icon: str | None = None
    full_width: bool = False
    tooltip: str | None = None


class OnClickMessageResultPayload(NodeMessagePayload):
    """What a click answers: the button's details, and a link to open."""

    button_details: ButtonDetailsMessagePayload
    href: str | None = None


OnClick = Callable[["Button", ButtonDetailsMessagePayload], NodeMessageResult | None]


class Button(Trait):
    element_id = "Button"
    ON_CLICK_MESSAGE_TYPE = "on_click"

    # Griptape's keywords, each a separate argument as node code passes them.
    def __init__(  # noqa: PLR0913
        self,
        *,
        label: str = "",
        variant: str = "secondary",
        size: str = "default",
        state: str = "normal",
        icon: str | None = None,
        icon_class: str | None = None,
        icon_position: str | None = None,
        full_width: bool = False,
        loading_label: str | None = None,
        loading_icon: str | None = None,
        loading_icon_class: str | None = None,
        tooltip: str | None = None,
        button_link: str | None = None,
        on_click: OnClick | None = None,
        get_button_state: OnClick | None = None,
    ) -> None:
        if button_link is not None and on_click is not None:
            raise ValueError(
                "Cannot specify both 'button_link' and 'on_click' for Button: use 'button_link' to open a URL, "
                "'on_click' for custom behavior"
            )
        self.label, self.variant, self.size, self.state = label, variant, size, state
        self.icon, self.icon_class, self.icon_position = icon, icon_class, icon_position
        self.full_width, self.tooltip, self.button_link = full_width, tooltip, button_link
        self.loading_label, self.loading_icon, self.loading_icon_class = loading_label, loading_icon, loading_icon_class
        self.on_click_callback: OnClick | None = on_click if button_link is None else self._open_link
        self.get_button_state_callback = get_button_state

    @classmethod
    def get_trait_keys(cls) -> list[str]:
        return ["button", "addbutton"]

    def details(self) -> ButtonDetailsMessagePayload:
        return ButtonDetailsMessagePayload(
            label=self.label, variant=self.variant, size=self.size, state=self.state, icon=self.icon,
            full_width=self.full_width, tooltip=self.tooltip,
        )

    def click(self) -> NodeMessageResult:
        """Do what clicking does: run ``on_click`` (or open ``button_link``)."""
        if self.on_click_callback is None:
            return NodeMessageResult(success=False, details=f"button {self.label!r} has no on_click handler")
        answer = self.on_click_callback(self, self.details())
        return answer if answer is not None else NodeMessageResult(success=True, details="clicked")

    def _open_link(self, button: Button, details: ButtonDetailsMessagePayload) -> NodeMessageResult:
        return NodeMessageResult(
            success=True,
            details="Opening URL",
            response=OnClickMessageResultPayload(button_details=details, href=self.button_link),
            altered_workflow_state=False,
        )

    def ui_options_for_trait(self) -> dict[str, Any]:
        options = {
            "button_label": self.label, "variant": self.variant, "size": self.size, "state": self.state,
            "full_width": self.full_width, "button_link": self.button_link,
        }
        return {"button": True, **{k: v for k, v in options.items() if v is not None}}

    def __repr__(self) -> str:
        return f"Button(label={self.label!r})"


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        raise _compat.missing(__name__, name)
