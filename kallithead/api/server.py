"""Methods about the server itself: test, get_server_info, get_ip."""

from __future__ import annotations

from typing import Any

from kallithead.api.context import CallContext
from kallithead.api.encoding import PreEncoded
from kallithead.api.registry import (
    ADMIN_ONLY,
    CALLER,
    ID_OR_NAME,
    optional,
    registry,
    required,
)
from kallithead.api.users import resolve_user
from kallithead.auth.ipaddr import address_range


@registry.method("test", required("args"), gate=ADMIN_ONLY)
async def test(ctx: CallContext, args: Any) -> Any:
    """Echo ``args``; proves that values survive the round trip."""
    return args


@registry.method("get_server_info", gate=ADMIN_ONLY)
async def get_server_info(ctx: CallContext) -> PreEncoded:
    return await ctx.services.server_info.get()


@registry.method(
    "get_ip",
    optional("userid", ID_OR_NAME, default=CALLER),
    gate=ADMIN_ONLY,
    aliases=["show_ip"],
)
async def get_ip(ctx: CallContext, userid: Any) -> dict[str, Any]:
    user = await resolve_user(ctx, userid)
    return {
        "server_ip_addr": ctx.client_ip,
        "user_ips": [
            {"ip_addr": entry, "ip_range": address_range(entry)}
            for entry in user.ip_addresses
        ],
    }
