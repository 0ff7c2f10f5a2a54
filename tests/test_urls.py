"""Clone URLs and pull request pages as answers show them."""

from __future__ import annotations

import pytest

from kallithead.api.urls import clone_url, pull_request_path


@pytest.mark.parametrize(
    ("template", "site", "expected"),
    [
        (
            "{scheme}://{user}@{netloc}/{repo}",
            "http://localhost:80",
            "http://localhost:80/grp/r",
        ),
        ("", "https://code.example.com", "https://code.example.com/grp/r"),
        ("{scheme}://{netloc}/_{repoid}", "http://h", "http://h/_42"),
        (
            "{scheme}://{user}@{netloc}{prefix}/{repo}",
            "http://h/kallithea",
            "http://h/kallithea/kallithea/grp/r",
        ),
        (
            "ssh://hg@{hostname}/{repo}",
            "https://code.example.com:8443",
            "ssh://hg@code.example.com/grp/r",
        ),
    ],
)
def test_clone_url(template, site, expected):
    assert clone_url(template, site, "grp/r", 42) == expected


@pytest.mark.parametrize(
    ("title", "org", "other", "slug"),
    [
        ("get test", "stable", "default", "stable"),
        ("get test", "default", "default", "get_test"),
        ("Fix: über (2)!", "main", "main", "Fix_ber_2"),
        ("a/b.c-d", "x", "x", "a/b.c-d"),
        ("feature/ä", "feature/ä", "default", "feature/"),
    ],
)
def test_pull_request_path(title, org, other, slug):
    assert (
        pull_request_path("grp/r", 7, title, org, other)
        == f"/grp/r/pull-request/7/_/{slug}"
    )
