"""Argument binding of the method registry, including aliases."""

from __future__ import annotations

import pytest

from kallithead.api.registry import (
    BOOLEAN,
    CALLER,
    ID_OR_NAME,
    OMITTED,
    STRING,
    ApiMethod,
    Registry,
    optional,
    required,
)
from kallithead.errors import ApiError


async def _noop(ctx, **kwargs):
    return kwargs


METHOD = ApiMethod(
    "add_member",
    _noop,
    (
        required("usergroupid", ID_OR_NAME, aliases=["usersgroupid"]),
        required("userid", ID_OR_NAME),
        optional("owner", ID_OR_NAME, default=CALLER),
        optional("active", BOOLEAN, default=True),
        optional("description", STRING),
    ),
)


def test_alias_supplies_the_argument():
    bound = METHOD.bind({"usersgroupid": "devs", "userid": 3})
    assert bound == {
        "usergroupid": "devs",
        "userid": 3,
        "owner": CALLER,
        "active": True,
        "description": OMITTED,
    }


def test_canonical_name_wins_over_alias():
    bound = METHOD.bind({"usersgroupid": "old", "usergroupid": "new", "userid": 3})
    assert bound["usergroupid"] == "new"


def test_alias_counts_as_present_for_the_missing_check():
    with pytest.raises(ApiError) as raised:
        METHOD.bind({"usersgroupid": "devs"})
    assert raised.value.message == "Missing non optional `userid` arg in JSON DATA"


def test_null_optional_takes_the_default():
    bound = METHOD.bind({"usergroupid": 1, "userid": 2, "owner": None, "active": None})
    assert bound["owner"] is CALLER
    assert bound["active"] is True


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("true", True),
        (" Yes ", True),
        ("on", True),
        ("1", True),
        (1, True),
        ("false", False),
        ("NO", False),
        ("off", False),
        ("0", False),
        (0, False),
    ],
)
def test_boolean_words(word, value):
    assert (
        METHOD.bind({"usergroupid": 1, "userid": 2, "active": word})["active"] is value
    )


@pytest.mark.parametrize("bad", ["maybe", 2, 1.0, [], {}])
def test_boolean_rejects_other_values(bad):
    with pytest.raises(ApiError) as raised:
        METHOD.bind({"usergroupid": 1, "userid": 2, "active": bad})
    assert raised.value.message == (
        "Invalid `active` arg in JSON DATA: expected a boolean"
    )


def test_method_aliases_reach_the_same_method():
    registry = Registry()
    registry.method("get_ip", aliases=["show_ip"])(_noop)
    assert registry.get("show_ip") is registry.get("get_ip")
    assert registry.names() == ["get_ip", "show_ip"]


def test_a_name_cannot_be_declared_twice():
    registry = Registry()
    registry.method("get_ip")(_noop)
    with pytest.raises(ValueError):
        registry.method("other", aliases=["get_ip"])(_noop)
