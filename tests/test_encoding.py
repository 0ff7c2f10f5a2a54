"""JSON encoding: Kallithea's datetime format and the response envelope."""

from __future__ import annotations

import datetime
import json

from hypothesis import given
from hypothesis import strategies as st

from kallithead.api.encoding import (
    EncodedArray,
    PreEncoded,
    envelope,
    envelope_parts,
    format_datetime,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def test_naive_datetime_keeps_milliseconds_truncated():
    value = datetime.datetime(2015, 1, 10, 12, 0, 0, 123999)
    assert format_datetime(value) == "2015-01-10T12:00:00.123"


def test_datetime_without_fraction_has_none():
    assert format_datetime(datetime.datetime(2010, 4, 8, 0, 31, 14)) == (
        "2010-04-08T00:31:14"
    )


def test_tiny_fraction_is_written_as_zero_milliseconds():
    value = datetime.datetime(2015, 1, 10, 12, 0, 0, 500)
    assert format_datetime(value) == "2015-01-10T12:00:00.000"


def test_utc_datetime_ends_in_z():
    value = datetime.datetime(2015, 1, 10, 12, 0, 0, tzinfo=datetime.UTC)
    assert format_datetime(value) == "2015-01-10T12:00:00Z"


def test_datetimes_inside_results_are_formatted():
    body = envelope(1, {"created_on": datetime.datetime(2020, 2, 3, 4, 5, 6)}, None)
    assert json.loads(body)["result"] == {"created_on": "2020-02-03T04:05:06"}


@given(request_id=json_values, result=json_values, error=st.none() | st.text())
def test_envelope_is_the_json_document_of_the_three_keys(request_id, result, error):
    expected = {"id": request_id, "result": result, "error": error}
    assert json.loads(envelope(request_id, result, error)) == expected


@given(request_id=json_values, result=json_values)
def test_pre_encoded_result_is_spliced_in_unchanged(request_id, result):
    encoded = PreEncoded(json.dumps(result).encode())
    document = json.loads(envelope(request_id, encoded, None))
    assert document == {"id": request_id, "result": result, "error": None}


@given(request_id=json_values, items=st.lists(json_values))
def test_an_array_of_encoded_items_is_the_document_of_the_list(request_id, items):
    encoded = EncodedArray([json.dumps(item).encode() for item in items])
    body = envelope(request_id, encoded, None)
    assert json.loads(body) == {"id": request_id, "result": items, "error": None}
    assert body == json.dumps(
        {"id": request_id, "result": items, "error": None}
    ).encode("utf-8")


def test_the_items_of_an_encoded_array_are_sent_as_they_are():
    items = [b'{"a": 1}', b'{"b": 2}']
    parts = envelope_parts(3, EncodedArray(items), None)
    assert parts[2] is items[0] and parts[4] is items[1]
    assert (
        b"".join(parts) == b'{"id": 3, "result": [{"a": 1}, {"b": 2}], "error": null}'
    )
