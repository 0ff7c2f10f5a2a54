"""The JSON shapes of API results (API-SPEC.md section 2)."""

from __future__ import annotations

from typing import Any

from kallithead.db.usergroups import UserGroupRecord
from kallithead.db.users import UserRecord


def user_object(user: UserRecord) -> dict[str, Any]:
    """The eight keys every user appears with (API-SPEC.md 2.2)."""
    return {
        "user_id": user.user_id,
        "username": user.username,
        "firstname": user.firstname,
        "lastname": user.lastname,
        "email": user.email,
        "emails": list(user.emails),
        "active": user.active,
        "admin": user.admin,
    }


def detailed_user_object(user: UserRecord) -> dict[str, Any]:
    """The user object with its keys and login data (DESIGN.md section 1).

    Only for an admin, or for the user itself.
    """
    shape = user_object(user)
    shape.update(
        api_key=user.api_key,
        api_keys=list(user.api_keys),
        ip_addresses=list(user.ip_addresses),
        last_login=user.last_login,
        extern_type=user.extern_type,
        extern_name=user.extern_name,
        ldap_dn=user.extern_name if user.extern_type == "ldap" else None,
    )
    return shape


def user_group_object(group: UserGroupRecord) -> dict[str, Any]:
    """A user group with its members (API-SPEC.md 2.4)."""
    return {
        "users_group_id": group.users_group_id,
        "group_name": group.group_name,
        "group_description": group.description,
        "active": group.active,
        "owner": group.owner,
        "members": [user_object(member) for member in group.members],
    }
