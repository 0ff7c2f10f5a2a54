"""Slow repository work happens off the reactor: the API keeps answering."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.web import resource
from twisted.web import server as web


class HeldRequests(resource.Resource):
    """Answers nothing until released; then a 500 for every held request."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.held: list[web.Request] = []
        self.arrived: defer.Deferred[None] = defer.Deferred()

    def render(self, request: web.Request) -> object:
        self.held.append(request)
        if not self.arrived.called:
            self.arrived.callback(None)
        return web.NOT_DONE_YET

    def release(self) -> None:
        for request in self.held:
            request.setResponseCode(500)
            request.write(b"gone")
            request.finish()
        self.held = []


@pytest.mark.parametrize("repo_type", ["hg", "git"])
@pytest_twisted.ensureDeferred
async def test_api_answers_while_a_pull_waits_on_a_slow_remote(server, repo_type):
    held = HeldRequests()
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        web.Site(held)
    )
    try:
        reply = await server.call(
            "create_repo", repo_name="mirror", repo_type=repo_type
        )
        assert reply.error is None
        url = f"http://127.0.0.1:{port.getHost().port}/mirror"
        pulling = defer.ensureDeferred(
            server.call("pull", repoid="mirror", clone_uri=url)
        )
        await held.arrived
        # The pull now waits on its VCS thread for an answer that does not come.
        for _ in range(10):
            assert (await server.call("get_user")).result["username"] == "admin"
            assert (await server.call("get_repos")).error is None
        assert not pulling.called
        held.release()
        reply = await pulling
        assert reply.error == "Unable to pull changes from `mirror`"
    finally:
        held.release()
        await port.stopListening()
