"""Every table of kallithead, in SQLAlchemy Core.

The table and column names follow Kallithea's, so that an existing Kallithea
database can be imported column for column. Where Kallithea allowed several
rows for one (subject, object) permission pair, the unique constraints here
allow one: granting replaces the row.

The alembic migrations in ``kallithead/db/migrations`` create these tables;
this module is the reference the code queries against.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# Long free text (descriptions, gist texts) and short identifiers.
Name = sa.String(255)
LongText = sa.Text()

# Names and keys that the API looks up exactly: case-sensitive everywhere.
# MySQL and MariaDB compare case-insensitively unless told otherwise.
ExactName = sa.String(255).with_variant(
    mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb"
)


def _user_fk(nullable: bool = False) -> sa.Column:
    return sa.Column("user_id", sa.ForeignKey("users.user_id"), nullable=nullable)


settings = sa.Table(
    "settings",
    metadata,
    sa.Column("app_settings_id", sa.Integer, primary_key=True),
    sa.Column("app_settings_name", Name, nullable=False, unique=True),
    sa.Column("app_settings_value", sa.String(4096), nullable=False),
    sa.Column("app_settings_type", Name, nullable=True),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("username", ExactName, nullable=False, unique=True),
    # bcrypt hash; NULL means the account has no local password (API key only).
    sa.Column("password", Name, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("admin", sa.Boolean, nullable=False, default=False),
    sa.Column("firstname", Name, nullable=False, default=""),
    sa.Column("lastname", Name, nullable=False, default=""),
    # Stored lower-cased.
    sa.Column("email", Name, nullable=True, unique=True),
    sa.Column("last_login", sa.DateTime, nullable=True),
    sa.Column("extern_type", Name, nullable=True),
    sa.Column("extern_name", Name, nullable=True),
    sa.Column("api_key", ExactName, nullable=False, unique=True),
    sa.Column("inherit_default_permissions", sa.Boolean, nullable=False, default=True),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.Column("user_data", LongText, nullable=True),
)

user_email_map = sa.Table(
    "user_email_map",
    metadata,
    sa.Column("email_id", sa.Integer, primary_key=True),
    _user_fk(),
    sa.Column("email", Name, nullable=False, unique=True),
    sa.Index(None, "user_id"),
)

user_api_keys = sa.Table(
    "user_api_keys",
    metadata,
    sa.Column("user_api_key_id", sa.Integer, primary_key=True),
    _user_fk(),
    sa.Column("api_key", ExactName, nullable=False, unique=True),
    sa.Column("description", LongText, nullable=False, default=""),
    # Unix time as a float; -1 means the key never expires.
    sa.Column("expires", sa.Double, nullable=False, default=-1),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.Index(None, "user_id"),
)

user_ip_map = sa.Table(
    "user_ip_map",
    metadata,
    sa.Column("ip_id", sa.Integer, primary_key=True),
    _user_fk(),
    sa.Column("ip_addr", Name, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.UniqueConstraint("user_id", "ip_addr"),
)

users_groups = sa.Table(
    "users_groups",
    metadata,
    sa.Column("users_group_id", sa.Integer, primary_key=True),
    sa.Column("users_group_name", ExactName, nullable=False, unique=True),
    sa.Column("user_group_description", sa.String(10000), nullable=False, default=""),
    sa.Column("users_group_active", sa.Boolean, nullable=False, default=True),
    sa.Column("inherit_default_permissions", sa.Boolean, nullable=False, default=True),
    _user_fk(),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.Column("group_data", LongText, nullable=True),
)

users_groups_members = sa.Table(
    "users_groups_members",
    metadata,
    sa.Column("users_group_member_id", sa.Integer, primary_key=True),
    sa.Column(
        "users_group_id",
        sa.ForeignKey("users_groups.users_group_id"),
        nullable=False,
    ),
    _user_fk(),
    sa.UniqueConstraint("users_group_id", "user_id"),
    sa.Index(None, "user_id"),
)

# Repository groups; Kallithea calls the table "groups".
repo_groups = sa.Table(
    "groups",
    metadata,
    sa.Column("group_id", sa.Integer, primary_key=True),
    # The full path, "/"-separated.
    sa.Column("group_name", ExactName, nullable=False, unique=True),
    sa.Column("group_parent_id", sa.ForeignKey("groups.group_id"), nullable=True),
    sa.Column("group_description", sa.String(10000), nullable=False, default=""),
    sa.Column("enable_locking", sa.Boolean, nullable=False, default=False),
    _user_fk(),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.Index(None, "group_parent_id"),
)

repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("repo_id", sa.Integer, primary_key=True),
    # The full name including the group path.
    sa.Column("repo_name", ExactName, nullable=False, unique=True),
    sa.Column("repo_state", Name, nullable=False),
    sa.Column("clone_uri", sa.String(1024), nullable=True),
    sa.Column("repo_type", Name, nullable=False),
    _user_fk(),
    sa.Column("private", sa.Boolean, nullable=False, default=False),
    sa.Column("statistics", sa.Boolean, nullable=False, default=False),
    sa.Column("downloads", sa.Boolean, nullable=False, default=False),
    sa.Column("enable_locking", sa.Boolean, nullable=False, default=False),
    # The lock: who holds it and since when (Unix time), both NULL if unlocked.
    sa.Column("locked_by", sa.ForeignKey("users.user_id"), nullable=True),
    sa.Column("locked_since", sa.Double, nullable=True),
    sa.Column("description", sa.String(10000), nullable=False, default=""),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.Column("updated_on", sa.DateTime, nullable=False),
    sa.Column("landing_revision", Name, nullable=False, default="rev:tip"),
    # JSON summary of the tip changeset (see API-SPEC.md 2.5 last_changeset).
    sa.Column("changeset_cache", LongText, nullable=True),
    sa.Column("fork_id", sa.ForeignKey("repositories.repo_id"), nullable=True),
    sa.Column("group_id", sa.ForeignKey("groups.group_id"), nullable=True),
    sa.Index(None, "group_id"),
    sa.Index(None, "fork_id"),
    sa.Index(None, "user_id"),
)

repositories_fields = sa.Table(
    "repositories_fields",
    metadata,
    sa.Column("repo_field_id", sa.Integer, primary_key=True),
    sa.Column("repository_id", sa.ForeignKey("repositories.repo_id"), nullable=False),
    sa.Column("field_key", sa.String(250), nullable=False),
    sa.Column("field_label", sa.String(1024), nullable=False, default=""),
    sa.Column("field_value", sa.String(10000), nullable=False, default=""),
    sa.Column("field_desc", sa.String(1024), nullable=False, default=""),
    sa.Column("field_type", Name, nullable=False, default="str"),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.UniqueConstraint("repository_id", "field_key"),
)

statistics = sa.Table(
    "statistics",
    metadata,
    sa.Column("stat_id", sa.Integer, primary_key=True),
    sa.Column(
        "repository_id",
        sa.ForeignKey("repositories.repo_id"),
        nullable=False,
        unique=True,
    ),
    sa.Column("stat_on_revision", sa.Integer, nullable=False),
    sa.Column("commit_activity", LongText, nullable=False),
    sa.Column("commit_activity_combined", LongText, nullable=False),
    sa.Column("languages", LongText, nullable=False),
)

# The permission catalogue (see kallithead/auth/permissions.py for the fixed
# ids and names the first migration inserts).
permissions = sa.Table(
    "permissions",
    metadata,
    sa.Column("permission_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("permission_name", Name, nullable=False, unique=True),
)


def _permission_fk() -> sa.Column:
    return sa.Column(
        "permission_id", sa.ForeignKey("permissions.permission_id"), nullable=False
    )


def _user_group_fk(name: str = "users_group_id") -> sa.Column:
    return sa.Column(name, sa.ForeignKey("users_groups.users_group_id"), nullable=False)


def _repo_fk() -> sa.Column:
    return sa.Column(
        "repository_id", sa.ForeignKey("repositories.repo_id"), nullable=False
    )


def _repo_group_fk() -> sa.Column:
    return sa.Column("group_id", sa.ForeignKey("groups.group_id"), nullable=False)


# Global permissions of a user (for `default`: the system-wide defaults).
user_to_perm = sa.Table(
    "user_to_perm",
    metadata,
    sa.Column("user_to_perm_id", sa.Integer, primary_key=True),
    _user_fk(),
    _permission_fk(),
    sa.UniqueConstraint("user_id", "permission_id"),
)

# Global permissions granted through a user group.
users_group_to_perm = sa.Table(
    "users_group_to_perm",
    metadata,
    sa.Column("users_group_to_perm_id", sa.Integer, primary_key=True),
    _user_group_fk(),
    _permission_fk(),
    sa.UniqueConstraint("users_group_id", "permission_id"),
)

repo_to_perm = sa.Table(
    "repo_to_perm",
    metadata,
    sa.Column("repo_to_perm_id", sa.Integer, primary_key=True),
    _user_fk(),
    _permission_fk(),
    _repo_fk(),
    sa.UniqueConstraint("user_id", "repository_id"),
    sa.Index(None, "repository_id"),
)

users_group_repo_to_perm = sa.Table(
    "users_group_repo_to_perm",
    metadata,
    sa.Column("users_group_to_perm_id", sa.Integer, primary_key=True),
    _user_group_fk(),
    _permission_fk(),
    _repo_fk(),
    sa.UniqueConstraint("users_group_id", "repository_id"),
    sa.Index(None, "repository_id"),
)

user_repo_group_to_perm = sa.Table(
    "user_repo_group_to_perm",
    metadata,
    sa.Column("group_to_perm_id", sa.Integer, primary_key=True),
    _user_fk(),
    _repo_group_fk(),
    _permission_fk(),
    sa.UniqueConstraint("user_id", "group_id"),
    sa.Index(None, "group_id"),
)

users_group_repo_group_to_perm = sa.Table(
    "users_group_repo_group_to_perm",
    metadata,
    sa.Column("users_group_repo_group_to_perm_id", sa.Integer, primary_key=True),
    _user_group_fk(),
    _repo_group_fk(),
    _permission_fk(),
    sa.UniqueConstraint("users_group_id", "group_id"),
    sa.Index(None, "group_id"),
)

# A user's permission on a user group.
user_user_group_to_perm = sa.Table(
    "user_user_group_to_perm",
    metadata,
    sa.Column("user_user_group_to_perm_id", sa.Integer, primary_key=True),
    _user_fk(),
    _permission_fk(),
    _user_group_fk("user_group_id"),
    sa.UniqueConstraint("user_id", "user_group_id"),
    sa.Index(None, "user_group_id"),
)

# A user group's permission on another user group (the target).
user_group_user_group_to_perm = sa.Table(
    "user_group_user_group_to_perm",
    metadata,
    sa.Column("user_group_user_group_to_perm_id", sa.Integer, primary_key=True),
    _user_group_fk("target_user_group_id"),
    _permission_fk(),
    _user_group_fk("user_group_id"),
    sa.UniqueConstraint("target_user_group_id", "user_group_id"),
    sa.Index(None, "user_group_id"),
)

gists = sa.Table(
    "gists",
    metadata,
    sa.Column("gist_id", sa.Integer, primary_key=True),
    sa.Column("gist_access_id", ExactName, nullable=False, unique=True),
    sa.Column("gist_description", LongText, nullable=False, default=""),
    _user_fk(),
    # Unix time as a float; -1 means the gist never expires.
    sa.Column("gist_expires", sa.Double, nullable=False, default=-1),
    sa.Column("gist_type", sa.String(128), nullable=False),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.Column("modified_at", sa.DateTime, nullable=False),
    sa.Index(None, "user_id"),
)

# The journal of user actions, shown by the journal feeds. The user and
# repository names are kept as text so that entries outlive both.
user_logs = sa.Table(
    "user_logs",
    metadata,
    sa.Column("user_log_id", sa.Integer, primary_key=True),
    _user_fk(nullable=True),
    sa.Column("username", Name, nullable=False),
    sa.Column("repository_id", sa.ForeignKey("repositories.repo_id"), nullable=True),
    sa.Column("repository_name", Name, nullable=False),
    sa.Column("user_ip", Name, nullable=True),
    sa.Column("action", LongText, nullable=False),
    sa.Column("action_date", sa.DateTime, nullable=False),
    sa.Index(None, "repository_id"),
    sa.Index(None, "user_id"),
    sa.Index(None, "action_date"),
)

user_followings = sa.Table(
    "user_followings",
    metadata,
    sa.Column("user_following_id", sa.Integer, primary_key=True),
    _user_fk(),
    sa.Column(
        "follows_repository_id", sa.ForeignKey("repositories.repo_id"), nullable=True
    ),
    sa.Column("follows_user_id", sa.ForeignKey("users.user_id"), nullable=True),
    sa.Column("follows_from", sa.DateTime, nullable=False),
    sa.UniqueConstraint("user_id", "follows_repository_id"),
    sa.UniqueConstraint("user_id", "follows_user_id"),
    sa.Index(None, "follows_repository_id"),
)

# Cache state shared by every process that uses the database: a row per
# (cache key, repository); clearing cache_active tells every process to
# rebuild what it cached for that repository.
cache_invalidation = sa.Table(
    "cache_invalidation",
    metadata,
    sa.Column("cache_id", sa.Integer, primary_key=True),
    sa.Column("cache_key", Name, nullable=False, unique=True),
    sa.Column("cache_args", Name, nullable=False),
    sa.Column("cache_active", sa.Boolean, nullable=False, default=False),
    sa.Index(None, "cache_args"),
)

pull_requests = sa.Table(
    "pull_requests",
    metadata,
    sa.Column("pull_request_id", sa.Integer, primary_key=True),
    sa.Column("title", Name, nullable=False),
    sa.Column("description", LongText, nullable=False, default=""),
    sa.Column("status", Name, nullable=False, default="new"),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.Column("updated_on", sa.DateTime, nullable=False),
    _user_fk(),
    # Raw ids joined with ":".
    sa.Column("revisions", LongText, nullable=False),
    sa.Column("org_repo_id", sa.ForeignKey("repositories.repo_id"), nullable=False),
    sa.Column("org_ref", Name, nullable=False),
    sa.Column("other_repo_id", sa.ForeignKey("repositories.repo_id"), nullable=False),
    sa.Column("other_ref", Name, nullable=False),
    sa.Index(None, "org_repo_id"),
    sa.Index(None, "other_repo_id"),
)

pull_request_reviewers = sa.Table(
    "pull_request_reviewers",
    metadata,
    sa.Column("pull_requests_reviewers_id", sa.Integer, primary_key=True),
    sa.Column(
        "pull_request_id",
        sa.ForeignKey("pull_requests.pull_request_id"),
        nullable=False,
    ),
    _user_fk(),
    sa.UniqueConstraint("pull_request_id", "user_id"),
)

changeset_comments = sa.Table(
    "changeset_comments",
    metadata,
    sa.Column("comment_id", sa.Integer, primary_key=True),
    sa.Column("repo_id", sa.ForeignKey("repositories.repo_id"), nullable=False),
    sa.Column("revision", sa.String(40), nullable=True),
    sa.Column(
        "pull_request_id",
        sa.ForeignKey("pull_requests.pull_request_id"),
        nullable=True,
    ),
    sa.Column("line_no", sa.String(10), nullable=True),
    sa.Column("f_path", sa.String(1000), nullable=True),
    _user_fk(),
    sa.Column("text", LongText, nullable=False),
    sa.Column("created_on", sa.DateTime, nullable=False),
    sa.Column("modified_at", sa.DateTime, nullable=False),
    sa.Index(None, "repo_id", "revision"),
    sa.Index(None, "pull_request_id"),
)

changeset_statuses = sa.Table(
    "changeset_statuses",
    metadata,
    sa.Column("changeset_status_id", sa.Integer, primary_key=True),
    sa.Column("repo_id", sa.ForeignKey("repositories.repo_id"), nullable=False),
    _user_fk(),
    sa.Column("revision", sa.String(40), nullable=True),
    sa.Column("status", sa.String(128), nullable=False),
    sa.Column(
        "changeset_comment_id",
        sa.ForeignKey("changeset_comments.comment_id"),
        nullable=True,
    ),
    sa.Column("modified_at", sa.DateTime, nullable=False),
    # 0 is the current vote; older votes are bumped to 1, 2, ...
    sa.Column("version", sa.Integer, nullable=False, default=0),
    sa.Column(
        "pull_request_id",
        sa.ForeignKey("pull_requests.pull_request_id"),
        nullable=True,
    ),
    sa.Index(None, "repo_id", "revision"),
    sa.Index(None, "pull_request_id"),
)

# Usernames are unique regardless of letter case (API-SPEC.md 3.12). MySQL and
# MariaDB cannot index an expression: there the check made in the same
# transaction as the insert or update stands alone.
sa.Index(
    "ix_users_username_lower",
    sa.func.lower(users.c.username),
    unique=True,
).ddl_if(dialect=("sqlite", "postgresql"))
