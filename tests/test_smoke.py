import pytest_twisted


@pytest_twisted.ensureDeferred
async def test_admin_can_call_get_user(server):
    reply = await server.call("get_user")
    assert reply.result["username"] == "admin"
