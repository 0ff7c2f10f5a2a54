"""Create every table of the data model, and the permission catalogue.

Written by alembic autogenerate from kallithead/db/schema.py, then completed
by hand with what autogenerate cannot express (the expression index and the
catalogue rows).

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


# The catalogue as this revision created it (ids fixed; see
# kallithead/auth/permissions.py). Later revisions add rows of their own.
CATALOGUE = (
    (1, "hg.admin"),
    (2, "repository.none"),
    (3, "repository.read"),
    (4, "repository.write"),
    (5, "repository.admin"),
    (6, "group.none"),
    (7, "group.read"),
    (8, "group.write"),
    (9, "group.admin"),
    (10, "usergroup.none"),
    (11, "usergroup.read"),
    (12, "usergroup.write"),
    (13, "usergroup.admin"),
    (14, "hg.usergroup.create.false"),
    (15, "hg.usergroup.create.true"),
    (16, "hg.create.none"),
    (17, "hg.create.repository"),
    (18, "hg.fork.none"),
    (19, "hg.fork.repository"),
    (20, "hg.register.none"),
    (21, "hg.register.manual_activate"),
    (22, "hg.register.auto_activate"),
    (23, "hg.extern_activate.manual"),
    (24, "hg.extern_activate.auto"),
    (25, "hg.repogroup.create.false"),
    (26, "hg.repogroup.create.true"),
    (27, "hg.create.write_on_repogroup.false"),
    (28, "hg.create.write_on_repogroup.true"),
)

# Exactly compared names and keys: case-sensitive on MySQL/MariaDB too.
EXACT_NAME = sa.String(length=255).with_variant(
    mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb"
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cache_invalidation",
        sa.Column("cache_id", sa.Integer(), nullable=False),
        sa.Column("cache_key", sa.String(length=255), nullable=False),
        sa.Column("cache_args", sa.String(length=255), nullable=False),
        sa.Column("cache_active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("cache_id", name=op.f("pk_cache_invalidation")),
        sa.UniqueConstraint("cache_key", name=op.f("uq_cache_invalidation_cache_key")),
    )
    with op.batch_alter_table("cache_invalidation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cache_invalidation_cache_args"), ["cache_args"], unique=False
        )

    op.create_table(
        "permissions",
        sa.Column("permission_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("permission_name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("permission_id", name=op.f("pk_permissions")),
        sa.UniqueConstraint(
            "permission_name", name=op.f("uq_permissions_permission_name")
        ),
    )
    op.create_table(
        "settings",
        sa.Column("app_settings_id", sa.Integer(), nullable=False),
        sa.Column("app_settings_name", sa.String(length=255), nullable=False),
        sa.Column("app_settings_value", sa.String(length=4096), nullable=False),
        sa.Column("app_settings_type", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("app_settings_id", name=op.f("pk_settings")),
        sa.UniqueConstraint(
            "app_settings_name", name=op.f("uq_settings_app_settings_name")
        ),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", EXACT_NAME, nullable=False),
        sa.Column("password", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("firstname", sa.String(length=255), nullable=False),
        sa.Column("lastname", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("last_login", sa.DateTime(), nullable=True),
        sa.Column("extern_type", sa.String(length=255), nullable=True),
        sa.Column("extern_name", sa.String(length=255), nullable=True),
        sa.Column("api_key", EXACT_NAME, nullable=False),
        sa.Column("inherit_default_permissions", sa.Boolean(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("user_data", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("api_key", name=op.f("uq_users_api_key")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "gists",
        sa.Column("gist_id", sa.Integer(), nullable=False),
        sa.Column("gist_access_id", EXACT_NAME, nullable=False),
        sa.Column("gist_description", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("gist_expires", sa.Double(), nullable=False),
        sa.Column("gist_type", sa.String(length=128), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_gists_user_id")
        ),
        sa.PrimaryKeyConstraint("gist_id", name=op.f("pk_gists")),
        sa.UniqueConstraint("gist_access_id", name=op.f("uq_gists_gist_access_id")),
    )
    with op.batch_alter_table("gists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gists_user_id"), ["user_id"], unique=False)

    op.create_table(
        "groups",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("group_name", EXACT_NAME, nullable=False),
        sa.Column("group_parent_id", sa.Integer(), nullable=True),
        sa.Column("group_description", sa.String(length=10000), nullable=False),
        sa.Column("enable_locking", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_parent_id"],
            ["groups.group_id"],
            name=op.f("fk_groups_group_parent_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_groups_user_id")
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_groups")),
        sa.UniqueConstraint("group_name", name=op.f("uq_groups_group_name")),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_groups_group_parent_id"), ["group_parent_id"], unique=False
        )

    op.create_table(
        "user_api_keys",
        sa.Column("user_api_key_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("api_key", EXACT_NAME, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("expires", sa.Double(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_user_api_keys_user_id")
        ),
        sa.PrimaryKeyConstraint("user_api_key_id", name=op.f("pk_user_api_keys")),
        sa.UniqueConstraint("api_key", name=op.f("uq_user_api_keys_api_key")),
    )
    with op.batch_alter_table("user_api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_api_keys_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "user_email_map",
        sa.Column("email_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_user_email_map_user_id")
        ),
        sa.PrimaryKeyConstraint("email_id", name=op.f("pk_user_email_map")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email_map_email")),
    )
    with op.batch_alter_table("user_email_map", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_email_map_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "user_ip_map",
        sa.Column("ip_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ip_addr", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_user_ip_map_user_id")
        ),
        sa.PrimaryKeyConstraint("ip_id", name=op.f("pk_user_ip_map")),
        sa.UniqueConstraint(
            "user_id", "ip_addr", name=op.f("uq_user_ip_map_user_id_ip_addr")
        ),
    )
    op.create_table(
        "user_to_perm",
        sa.Column("user_to_perm_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.permission_id"],
            name=op.f("fk_user_to_perm_permission_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_user_to_perm_user_id")
        ),
        sa.PrimaryKeyConstraint("user_to_perm_id", name=op.f("pk_user_to_perm")),
        sa.UniqueConstraint(
            "user_id",
            "permission_id",
            name=op.f("uq_user_to_perm_user_id_permission_id"),
        ),
    )
    op.create_table(
        "users_groups",
        sa.Column("users_group_id", sa.Integer(), nullable=False),
        sa.Column("users_group_name", EXACT_NAME, nullable=False),
        sa.Column("user_group_description", sa.String(length=10000), nullable=False),
        sa.Column("users_group_active", sa.Boolean(), nullable=False),
        sa.Column("inherit_default_permissions", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("group_data", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_users_groups_user_id")
        ),
        sa.PrimaryKeyConstraint("users_group_id", name=op.f("pk_users_groups")),
        sa.UniqueConstraint(
            "users_group_name", name=op.f("uq_users_groups_users_group_name")
        ),
    )
    op.create_table(
        "repositories",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("repo_name", EXACT_NAME, nullable=False),
        sa.Column("repo_state", sa.String(length=255), nullable=False),
        sa.Column("clone_uri", sa.String(length=1024), nullable=True),
        sa.Column("repo_type", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("statistics", sa.Boolean(), nullable=False),
        sa.Column("downloads", sa.Boolean(), nullable=False),
        sa.Column("enable_locking", sa.Boolean(), nullable=False),
        sa.Column("locked_by", sa.Integer(), nullable=True),
        sa.Column("locked_since", sa.Double(), nullable=True),
        sa.Column("description", sa.String(length=10000), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("updated_on", sa.DateTime(), nullable=False),
        sa.Column("landing_revision", sa.String(length=255), nullable=False),
        sa.Column("changeset_cache", sa.Text(), nullable=True),
        sa.Column("fork_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["fork_id"], ["repositories.repo_id"], name=op.f("fk_repositories_fork_id")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.group_id"], name=op.f("fk_repositories_group_id")
        ),
        sa.ForeignKeyConstraint(
            ["locked_by"], ["users.user_id"], name=op.f("fk_repositories_locked_by")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_repositories_user_id")
        ),
        sa.PrimaryKeyConstraint("repo_id", name=op.f("pk_repositories")),
        sa.UniqueConstraint("repo_name", name=op.f("uq_repositories_repo_name")),
    )
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repositories_fork_id"), ["fork_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repositories_group_id"), ["group_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repositories_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "user_group_user_group_to_perm",
        sa.Column("user_group_user_group_to_perm_id", sa.Integer(), nullable=False),
        sa.Column("target_user_group_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.Column("user_group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.permission_id"],
            name=op.f("fk_user_group_user_group_to_perm_permission_id"),
        ),
        sa.ForeignKeyConstraint(
            ["target_user_group_id"],
            ["users_groups.users_group_id"],
            name=op.f("fk_user_group_user_group_to_perm_target_user_group_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_group_id"],
            ["users_groups.users_group_id"],
            name=op.f("fk_user_group_user_group_to_perm_user_group_id"),
        ),
        sa.PrimaryKeyConstraint(
            "user_group_user_group_to_perm_id",
            name=op.f("pk_user_group_user_group_to_perm"),
        ),
        sa.UniqueConstraint(
            "target_user_group_id",
            "user_group_id",
            name=op.f(
                "uq_user_group_user_group_to_perm_target_user_group_id_user_group_id"
            ),
        ),
    )
    with op.batch_alter_table("user_group_user_group_to_perm", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_group_user_group_to_perm_user_group_id"),
            ["user_group_id"],
            unique=False,
        )

    op.create_table(
        "user_repo_group_to_perm",
        sa.Column("group_to_perm_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.group_id"],
            name=op.f("fk_user_repo_group_to_perm_group_id"),
        ),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.permission_id"],
            name=op.f("fk_user_repo_group_to_perm_permission_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_user_repo_group_to_perm_user_id"),
        ),
        sa.PrimaryKeyConstraint(
            "group_to_perm_id", name=op.f("pk_user_repo_group_to_perm")
        ),
        sa.UniqueConstraint(
            "user_id",
            "group_id",
            name=op.f("uq_user_repo_group_to_perm_user_id_group_id"),
        ),
    )
    with op.batch_alter_table("user_repo_group_to_perm", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_repo_group_to_perm_group_id"),
            ["group_id"],
            unique=False,
        )

    op.create_table(
        "user_user_group_to_perm",
        sa.Column("user_user_group_to_perm_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.Column("user_group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.permission_id"],
            name=op.f("fk_user_user_group_to_perm_permission_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_group_id"],
            ["users_groups.users_group_id"],
            name=op.f("fk_user_user_group_to_perm_user_group_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_user_user_group_to_perm_user_id"),
        ),
        sa.PrimaryKeyConstraint(
            "user_user_group_to_perm_id", name=op.f("pk_user_user_group_to_perm")
        ),
        sa.UniqueConstraint(
            "user_id",
            "user_group_id",
            name=op.f("uq_user_user_group_to_perm_user_id_user_group_id"),
        ),
    )
    with op.batch_alter_table("user_user_group_to_perm", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_user_group_to_perm_user_group_id"),
            ["user_group_id"],
            unique=False,
        )

    op.create_table(
        "users_group_repo_group_to_perm",
        sa.Column("users_group_repo_group_to_perm_id", sa.Integer(), nullable=False),
        sa.Column("users_group_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.group_id"],
            name=op.f("fk_users_group_repo_group_to_perm_group_id"),
        ),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.permission_id"],
            name=op.f("fk_users_group_repo_group_to_perm_permission_id"),
        ),
        sa.ForeignKeyConstraint(
            ["users_group_id"],
            ["users_groups.users_group_id"],
            name=op.f("fk_users_group_repo_group_to_perm_users_group_id"),
        ),
        sa.PrimaryKeyConstraint(
            "users_group_repo_group_to_perm_id",
            name=op.f("pk_users_group_repo_group_to_perm"),
        ),
        sa.UniqueConstraint(
            "users_group_id",
            "group_id",
            name=op.f("uq_users_group_repo_group_to_perm_users_group_id_group_id"),
        ),
    )
    with op.batch_alter_table(
        "users_group_repo_group_to_perm", schema=None
    ) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_group_repo_group_to_perm_group_id"),
            ["group_id"],
            unique=False,
        )

    op.create_table(
        "users_group_to_perm",
        sa.Column("users_group_to_perm_id", sa.Integer(), nullable=False),
        sa.Column("users_group_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.permission_id"],
            name=op.f("fk_users_group_to_perm_permission_id"),
        ),
        sa.ForeignKeyConstraint(
            ["users_group_id"],
            ["users_groups.users_group_id"],
            name=op.f("fk_users_group_to_perm_users_group_id"),
        ),
        sa.PrimaryKeyConstraint(
            "users_group_to_perm_id", name=op.f("pk_users_group_to_perm")
        ),
        sa.UniqueConstraint(
            "users_group_id",
            "permission_id",
            name=op.f("uq_users_group_to_perm_users_group_id_permission_id"),
        ),
    )
    op.create_table(
        "users_groups_members",
        sa.Column("users_group_member_id", sa.Integer(), nullable=False),
        sa.Column("users_group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_users_groups_members_user_id")
        ),
        sa.ForeignKeyConstraint(
            ["users_group_id"],
            ["users_groups.users_group_id"],
            name=op.f("fk_users_groups_members_users_group_id"),
        ),
        sa.PrimaryKeyConstraint(
            "users_group_member_id", name=op.f("pk_users_groups_members")
        ),
        sa.UniqueConstraint(
            "users_group_id",
            "user_id",
            name=op.f("uq_users_groups_members_users_group_id_user_id"),
        ),
    )
    with op.batch_alter_table("users_groups_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_groups_members_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "pull_requests",
        sa.Column("pull_request_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=255), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("updated_on", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("revisions", sa.Text(), nullable=False),
        sa.Column("org_repo_id", sa.Integer(), nullable=False),
        sa.Column("org_ref", sa.String(length=255), nullable=False),
        sa.Column("other_repo_id", sa.Integer(), nullable=False),
        sa.Column("other_ref", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_repo_id"],
            ["repositories.repo_id"],
            name=op.f("fk_pull_requests_org_repo_id"),
        ),
        sa.ForeignKeyConstraint(
            ["other_repo_id"],
            ["repositories.repo_id"],
            name=op.f("fk_pull_requests_other_repo_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_pull_requests_user_id")
        ),
        sa.PrimaryKeyConstraint("pull_request_id", name=op.f("pk_pull_requests")),
    )
    with op.batch_alter_table("pull_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pull_requests_org_repo_id"), ["org_repo_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pull_requests_other_repo_id"),
            ["other_repo_id"],
            unique=False,
        )

    op.create_table(
        "repo_to_perm",
        sa.Column("repo_to_perm_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.permission_id"],
            name=op.f("fk_repo_to_perm_permission_id"),
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.repo_id"],
            name=op.f("fk_repo_to_perm_repository_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_repo_to_perm_user_id")
        ),
        sa.PrimaryKeyConstraint("repo_to_perm_id", name=op.f("pk_repo_to_perm")),
        sa.UniqueConstraint(
            "user_id",
            "repository_id",
            name=op.f("uq_repo_to_perm_user_id_repository_id"),
        ),
    )
    with op.batch_alter_table("repo_to_perm", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repo_to_perm_repository_id"), ["repository_id"], unique=False
        )

    op.create_table(
        "repositories_fields",
        sa.Column("repo_field_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("field_key", sa.String(length=250), nullable=False),
        sa.Column("field_label", sa.String(length=1024), nullable=False),
        sa.Column("field_value", sa.String(length=10000), nullable=False),
        sa.Column("field_desc", sa.String(length=1024), nullable=False),
        sa.Column("field_type", sa.String(length=255), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.repo_id"],
            name=op.f("fk_repositories_fields_repository_id"),
        ),
        sa.PrimaryKeyConstraint("repo_field_id", name=op.f("pk_repositories_fields")),
        sa.UniqueConstraint(
            "repository_id",
            "field_key",
            name=op.f("uq_repositories_fields_repository_id_field_key"),
        ),
    )
    op.create_table(
        "statistics",
        sa.Column("stat_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("stat_on_revision", sa.Integer(), nullable=False),
        sa.Column("commit_activity", sa.Text(), nullable=False),
        sa.Column("commit_activity_combined", sa.Text(), nullable=False),
        sa.Column("languages", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.repo_id"],
            name=op.f("fk_statistics_repository_id"),
        ),
        sa.PrimaryKeyConstraint("stat_id", name=op.f("pk_statistics")),
        sa.UniqueConstraint("repository_id", name=op.f("uq_statistics_repository_id")),
    )
    op.create_table(
        "user_followings",
        sa.Column("user_following_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("follows_repository_id", sa.Integer(), nullable=True),
        sa.Column("follows_user_id", sa.Integer(), nullable=True),
        sa.Column("follows_from", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["follows_repository_id"],
            ["repositories.repo_id"],
            name=op.f("fk_user_followings_follows_repository_id"),
        ),
        sa.ForeignKeyConstraint(
            ["follows_user_id"],
            ["users.user_id"],
            name=op.f("fk_user_followings_follows_user_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_user_followings_user_id")
        ),
        sa.PrimaryKeyConstraint("user_following_id", name=op.f("pk_user_followings")),
        sa.UniqueConstraint(
            "user_id",
            "follows_repository_id",
            name=op.f("uq_user_followings_user_id_follows_repository_id"),
        ),
        sa.UniqueConstraint(
            "user_id",
            "follows_user_id",
            name=op.f("uq_user_followings_user_id_follows_user_id"),
        ),
    )
    with op.batch_alter_table("user_followings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_followings_follows_repository_id"),
            ["follows_repository_id"],
            unique=False,
        )

    op.create_table(
        "user_logs",
        sa.Column("user_log_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=True),
        sa.Column("repository_name", sa.String(length=255), nullable=False),
        sa.Column("user_ip", sa.String(length=255), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("action_date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.repo_id"],
            name=op.f("fk_user_logs_repository_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_user_logs_user_id")
        ),
        sa.PrimaryKeyConstraint("user_log_id", name=op.f("pk_user_logs")),
    )
    with op.batch_alter_table("user_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_logs_action_date"), ["action_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_user_logs_repository_id"), ["repository_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_user_logs_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "users_group_repo_to_perm",
        sa.Column("users_group_to_perm_id", sa.Integer(), nullable=False),
        sa.Column("users_group_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.permission_id"],
            name=op.f("fk_users_group_repo_to_perm_permission_id"),
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.repo_id"],
            name=op.f("fk_users_group_repo_to_perm_repository_id"),
        ),
        sa.ForeignKeyConstraint(
            ["users_group_id"],
            ["users_groups.users_group_id"],
            name=op.f("fk_users_group_repo_to_perm_users_group_id"),
        ),
        sa.PrimaryKeyConstraint(
            "users_group_to_perm_id", name=op.f("pk_users_group_repo_to_perm")
        ),
        sa.UniqueConstraint(
            "users_group_id",
            "repository_id",
            name=op.f("uq_users_group_repo_to_perm_users_group_id_repository_id"),
        ),
    )
    with op.batch_alter_table("users_group_repo_to_perm", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_group_repo_to_perm_repository_id"),
            ["repository_id"],
            unique=False,
        )

    op.create_table(
        "changeset_comments",
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=40), nullable=True),
        sa.Column("pull_request_id", sa.Integer(), nullable=True),
        sa.Column("line_no", sa.String(length=10), nullable=True),
        sa.Column("f_path", sa.String(length=1000), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pull_request_id"],
            ["pull_requests.pull_request_id"],
            name=op.f("fk_changeset_comments_pull_request_id"),
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repositories.repo_id"],
            name=op.f("fk_changeset_comments_repo_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_changeset_comments_user_id")
        ),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_changeset_comments")),
    )
    with op.batch_alter_table("changeset_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_changeset_comments_pull_request_id"),
            ["pull_request_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_changeset_comments_repo_id_revision"),
            ["repo_id", "revision"],
            unique=False,
        )

    op.create_table(
        "pull_request_reviewers",
        sa.Column("pull_requests_reviewers_id", sa.Integer(), nullable=False),
        sa.Column("pull_request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pull_request_id"],
            ["pull_requests.pull_request_id"],
            name=op.f("fk_pull_request_reviewers_pull_request_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_pull_request_reviewers_user_id"),
        ),
        sa.PrimaryKeyConstraint(
            "pull_requests_reviewers_id", name=op.f("pk_pull_request_reviewers")
        ),
        sa.UniqueConstraint(
            "pull_request_id",
            "user_id",
            name=op.f("uq_pull_request_reviewers_pull_request_id_user_id"),
        ),
    )
    op.create_table(
        "changeset_statuses",
        sa.Column("changeset_status_id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=128), nullable=False),
        sa.Column("changeset_comment_id", sa.Integer(), nullable=True),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pull_request_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["changeset_comment_id"],
            ["changeset_comments.comment_id"],
            name=op.f("fk_changeset_statuses_changeset_comment_id"),
        ),
        sa.ForeignKeyConstraint(
            ["pull_request_id"],
            ["pull_requests.pull_request_id"],
            name=op.f("fk_changeset_statuses_pull_request_id"),
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repositories.repo_id"],
            name=op.f("fk_changeset_statuses_repo_id"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_changeset_statuses_user_id")
        ),
        sa.PrimaryKeyConstraint(
            "changeset_status_id", name=op.f("pk_changeset_statuses")
        ),
    )
    with op.batch_alter_table("changeset_statuses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_changeset_statuses_pull_request_id"),
            ["pull_request_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_changeset_statuses_repo_id_revision"),
            ["repo_id", "revision"],
            unique=False,
        )

    # Usernames are unique regardless of case. MySQL/MariaDB cannot index an
    # expression; there the check in create_user/update_user stands alone.
    if op.get_bind().dialect.name != "mysql":
        op.create_index(
            "ix_users_username_lower",
            "users",
            [sa.text("lower(username)")],
            unique=True,
        )

    permissions = sa.table(
        "permissions",
        sa.column("permission_id", sa.Integer),
        sa.column("permission_name", sa.String),
    )
    op.bulk_insert(
        permissions,
        [{"permission_id": pid, "permission_name": name} for pid, name in CATALOGUE],
    )


def downgrade() -> None:
    with op.batch_alter_table("changeset_statuses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_changeset_statuses_repo_id_revision"))
        batch_op.drop_index(batch_op.f("ix_changeset_statuses_pull_request_id"))

    op.drop_table("changeset_statuses")
    op.drop_table("pull_request_reviewers")
    with op.batch_alter_table("changeset_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_changeset_comments_repo_id_revision"))
        batch_op.drop_index(batch_op.f("ix_changeset_comments_pull_request_id"))

    op.drop_table("changeset_comments")
    with op.batch_alter_table("users_group_repo_to_perm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_group_repo_to_perm_repository_id"))

    op.drop_table("users_group_repo_to_perm")
    with op.batch_alter_table("user_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_logs_user_id"))
        batch_op.drop_index(batch_op.f("ix_user_logs_repository_id"))
        batch_op.drop_index(batch_op.f("ix_user_logs_action_date"))

    op.drop_table("user_logs")
    with op.batch_alter_table("user_followings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_followings_follows_repository_id"))

    op.drop_table("user_followings")
    op.drop_table("statistics")
    op.drop_table("repositories_fields")
    with op.batch_alter_table("repo_to_perm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repo_to_perm_repository_id"))

    op.drop_table("repo_to_perm")
    with op.batch_alter_table("pull_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pull_requests_other_repo_id"))
        batch_op.drop_index(batch_op.f("ix_pull_requests_org_repo_id"))

    op.drop_table("pull_requests")
    with op.batch_alter_table("users_groups_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_groups_members_user_id"))

    op.drop_table("users_groups_members")
    op.drop_table("users_group_to_perm")
    with op.batch_alter_table(
        "users_group_repo_group_to_perm", schema=None
    ) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_group_repo_group_to_perm_group_id"))

    op.drop_table("users_group_repo_group_to_perm")
    with op.batch_alter_table("user_user_group_to_perm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_user_group_to_perm_user_group_id"))

    op.drop_table("user_user_group_to_perm")
    with op.batch_alter_table("user_repo_group_to_perm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_repo_group_to_perm_group_id"))

    op.drop_table("user_repo_group_to_perm")
    with op.batch_alter_table("user_group_user_group_to_perm", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_user_group_user_group_to_perm_user_group_id")
        )

    op.drop_table("user_group_user_group_to_perm")
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repositories_user_id"))
        batch_op.drop_index(batch_op.f("ix_repositories_group_id"))
        batch_op.drop_index(batch_op.f("ix_repositories_fork_id"))

    op.drop_table("repositories")
    op.drop_table("users_groups")
    op.drop_table("user_to_perm")
    op.drop_table("user_ip_map")
    with op.batch_alter_table("user_email_map", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_email_map_user_id"))

    op.drop_table("user_email_map")
    with op.batch_alter_table("user_api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_api_keys_user_id"))

    op.drop_table("user_api_keys")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_groups_group_parent_id"))

    op.drop_table("groups")
    with op.batch_alter_table("gists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gists_user_id"))

    op.drop_table("gists")
    op.drop_table("users")
    op.drop_table("settings")
    op.drop_table("permissions")
    with op.batch_alter_table("cache_invalidation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cache_invalidation_cache_args"))

    op.drop_table("cache_invalidation")
