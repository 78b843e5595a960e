import pytest

from functions.console.identity import Action, ConsoleUser, Group


def test_a_viewer_may_only_look_and_never_sees_addresses() -> None:
    viewer = ConsoleUser.from_claims({"cognito:username": "vic", "cognito:groups": ["viewer"]})
    assert viewer.may(Action.VIEW)
    assert not any(viewer.may(action) for action in Action if action is not Action.VIEW)


def test_authors_edit_but_only_approvers_approve() -> None:
    author = ConsoleUser("ana", frozenset({Group.AUTHOR}))
    approver = ConsoleUser("bo", frozenset({Group.APPROVER}))
    assert author.may(Action.EDIT_TEMPLATES) and not author.may(Action.APPROVE_TEMPLATES)
    assert approver.may(Action.APPROVE_TEMPLATES) and not approver.may(Action.EDIT_TEMPLATES)


def test_unknown_groups_grant_nothing_and_a_token_must_name_a_user() -> None:
    stranger = ConsoleUser.from_claims({"cognito:username": "x", "cognito:groups": ["root"]})
    assert stranger.groups == frozenset()
    assert not stranger.may(Action.VIEW)
    with pytest.raises(ValueError):
        ConsoleUser.from_claims({"cognito:groups": ["admin"]})
