"""Who is using the console, and what their groups let them do.

In AWS the user comes from a verified Cognito ID token (its `cognito:username` and
`cognito:groups` claims); locally `rung console` lets one person switch between demo users.
Every decision about what a user may do is made here, on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Group(StrEnum):
    VIEWER = "viewer"
    AUTHOR = "author"
    APPROVER = "approver"
    ADMIN = "admin"


class Action(StrEnum):
    VIEW = "view"
    SEE_ADDRESSES = "see_addresses"
    EDIT_TEMPLATES = "edit_templates"
    APPROVE_TEMPLATES = "approve_templates"
    REVIEW_REPLIES = "review_replies"
    MANAGE_SUPPRESSIONS = "manage_suppressions"
    PAUSE_CHANNELS = "pause_channels"


_ALLOWED: dict[Group, frozenset[Action]] = {
    Group.VIEWER: frozenset({Action.VIEW}),
    Group.AUTHOR: frozenset({Action.VIEW, Action.SEE_ADDRESSES, Action.EDIT_TEMPLATES}),
    Group.APPROVER: frozenset(
        {Action.VIEW, Action.SEE_ADDRESSES, Action.APPROVE_TEMPLATES, Action.REVIEW_REPLIES}
    ),
    Group.ADMIN: frozenset(Action),
}


@dataclass(frozen=True)
class ConsoleUser:
    username: str
    groups: frozenset[Group]

    def may(self, action: Action) -> bool:
        return any(action in _ALLOWED[group] for group in self.groups)

    @classmethod
    def from_claims(cls, claims: dict[str, object]) -> ConsoleUser:
        """The user named by verified Cognito ID-token claims; unknown groups grant nothing."""
        username = claims.get("cognito:username")
        if not isinstance(username, str) or not username:
            raise ValueError("the token names no user")
        raw = claims.get("cognito:groups") or []
        names = raw if isinstance(raw, list) else str(raw).split()
        known = {group.value for group in Group}
        return cls(username, frozenset(Group(name) for name in names if name in known))
