"""What an API method gets to work with: the caller and the services."""

from __future__ import annotations

from dataclasses import dataclass

from kallithead.api.serverinfo import ServerInfo
from kallithead.config import Settings
from kallithead.db.grants import GrantStore
from kallithead.db.pullrequests import PullRequestStore
from kallithead.db.settings import SettingsStore
from kallithead.db.usergroups import UserGroupStore
from kallithead.db.users import Caller, UserStore
from kallithead.gists import Gists
from kallithead.repo_groups import RepoGroups
from kallithead.repositories import Repositories
from kallithead.tasks.rescan import Scanner


@dataclass(frozen=True)
class Services:
    """The components API methods call; built once by the root service."""

    settings: Settings
    users: UserStore
    user_groups: UserGroupStore
    repositories: Repositories
    repo_groups: RepoGroups
    gists: Gists
    grants: GrantStore
    pull_requests: PullRequestStore
    settings_store: SettingsStore
    scanner: Scanner
    server_info: ServerInfo


@dataclass(frozen=True)
class CallContext:
    caller: Caller
    client_ip: str
    # scheme://host of this site as the client addressed it (for URLs).
    site_url: str
    services: Services

    @property
    def is_admin(self) -> bool:
        return self.caller.admin
