//! The migrations: one set, run on SQLite and PostgreSQL alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, blob, boolean, integer, string, string_null, text,
    text_null,
};

/// All migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001Foundation),
            Box::new(M0002Directory),
            Box::new(M0003Rbac),
            Box::new(M0004SigningKeys),
            Box::new(M0005DirectoryCounter),
            Box::new(M0006ExternalLinks),
            Box::new(M0007TokenServerKeys),
            Box::new(M0008AdminPasswords),
            Box::new(M0009ScopeMaps),
            Box::new(M0010SessionsValidAfter),
            Box::new(M0011TrustedCollections),
            Box::new(M0012TrustWipe),
            Box::new(M0013TufStore),
            Box::new(M0014TufKeysPerRole),
            Box::new(super::directory_roles::MDirectoryRoles),
            Box::new(M0015AuthorizationCodes),
            Box::new(M0016PortalSessions),
            Box::new(M0017ActivityLog),
            Box::new(M0018ActivityAppend),
            Box::new(M0019ActivityChains),
            Box::new(M0020ActivityHeadSeal),
        ]
    }
}

/// Subscriptions, resource groups, registries, operations.
struct M0001Foundation;

impl MigrationName for M0001Foundation {
    fn name(&self) -> &str {
        "m0001_foundation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Foundation {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("subscriptions")
                .col(string("id").primary_key())
                .col(string("display_name"))
                .col(string("tenant_id"))
                .col(string("state"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("resource_groups")
                .col(string("key").primary_key())
                .col(string("subscription_id"))
                .col(string("name"))
                .col(string("location"))
                .col(text("tags"))
                .col(text_null("managed_by"))
                .col(string("provisioning_state"))
                .col(string("etag"))
                .col(big_integer("created_at"))
                .col(big_integer("changed_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_resource_groups_subscription")
                .table("resource_groups")
                .col("subscription_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("registries")
                .col(string("key").primary_key())
                .col(string("name_key").unique_key())
                .col(string("subscription_id"))
                .col(string("group_key"))
                .col(string("group_name"))
                .col(string("name"))
                .col(string("location"))
                .col(string("sku"))
                .col(text("tags"))
                .col(text_null("identity"))
                .col(text("settings"))
                .col(string("login_server"))
                .col(string("provisioning_state"))
                .col(string("etag"))
                .col(big_integer("created_at"))
                .col(string("created_by"))
                .col(string("created_by_type"))
                .col(big_integer("last_modified_at"))
                .col(string("last_modified_by"))
                .col(string("last_modified_by_type"))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("ix_registries_group", "group_key"),
            ("ix_registries_subscription", "subscription_id"),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table("registries")
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table("operations")
                .col(string("id").primary_key())
                .col(string("subscription_id"))
                .col(string("kind"))
                .col(string("target_key"))
                .col(string("group_name"))
                .col(string_null("registry_name"))
                .col(string("status"))
                .col(string_null("error_code"))
                .col(text_null("error_message"))
                .col(big_integer("started_at"))
                .col(big_integer_null("ended_at"))
                .col(integer("attempts"))
                .col(big_integer("due_at"))
                .col(string_null("lease_owner"))
                .col(big_integer_null("lease_until"))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_operations_target", &["target_key", "status"][..]),
            ("ix_operations_due", &["status", "due_at"][..]),
        ] {
            let mut index = Index::create().name(name).table("operations").to_owned();
            for col in cols {
                index.col(*col);
            }
            m.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "operations",
            "registries",
            "resource_groups",
            "subscriptions",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// The directory: users, service principals with names and passwords, groups, members.
struct M0002Directory;

impl MigrationName for M0002Directory {
    fn name(&self) -> &str {
        "m0002_directory"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002Directory {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("directory_users")
                .col(string("object_id").primary_key())
                .col(string("upn"))
                .col(string("upn_key").unique_key())
                .col(string("display_name"))
                .col(string("mail_nickname"))
                .col(boolean("account_enabled"))
                .col(text_null("password_hash"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("directory_service_principals")
                .col(string("object_id").primary_key())
                .col(string("application_object_id").unique_key())
                .col(string("app_id").unique_key())
                .col(string("display_name"))
                .col(boolean("account_enabled"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("directory_sp_names")
                .col(string("name_key").primary_key())
                .col(string("name"))
                .col(string("sp_object_id"))
                .col(integer("position"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("directory_credentials")
                .col(string("key_id").primary_key())
                .col(string("sp_object_id"))
                .col(string_null("display_name"))
                .col(string("hint"))
                .col(text("hash"))
                .col(big_integer("start_at"))
                .col(big_integer("end_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("directory_groups")
                .col(string("object_id").primary_key())
                .col(string("display_name"))
                .col(string("mail_nickname"))
                .col(text_null("description"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("directory_members")
                .col(string("group_id"))
                .col(string("member_id"))
                .primary_key(Index::create().col("group_id").col("member_id"))
                .to_owned(),
        )
        .await?;
        for (name, table, col) in [
            (
                "ix_directory_sp_names_sp",
                "directory_sp_names",
                "sp_object_id",
            ),
            (
                "ix_directory_credentials_sp",
                "directory_credentials",
                "sp_object_id",
            ),
            (
                "ix_directory_members_member",
                "directory_members",
                "member_id",
            ),
        ] {
            m.create_index(Index::create().name(name).table(table).col(col).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "directory_members",
            "directory_groups",
            "directory_credentials",
            "directory_sp_names",
            "directory_service_principals",
            "directory_users",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Custom role definitions, role assignments and the change counter.
struct M0003Rbac;

impl MigrationName for M0003Rbac {
    fn name(&self) -> &str {
        "m0003_rbac"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003Rbac {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("role_definitions")
                .col(string("id").primary_key())
                .col(string("role_name"))
                .col(string("role_name_key").unique_key())
                .col(text("description"))
                .col(text("permissions"))
                .col(text("assignable_scopes"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("role_assignments")
                .col(string("name").primary_key())
                .col(text("scope"))
                .col(text("scope_key"))
                .col(string("role_definition_id"))
                .col(text("role_definition_ref"))
                .col(string("principal_id"))
                .col(string("principal_type"))
                .col(text_null("description"))
                .col(text_null("condition"))
                .col(string_null("condition_version"))
                .col(string_null("created_by"))
                .col(big_integer("created_on"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_role_assignments_triple")
                .table("role_assignments")
                .col("scope_key")
                .col("role_definition_id")
                .col("principal_id")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_role_assignments_principal")
                .table("role_assignments")
                .col("principal_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("change_counters")
                .col(string("name").primary_key())
                .col(big_integer("value"))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table("change_counters")
                .columns(["name", "value"])
                .values_panic(["rbac".into(), 0.into()])
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["change_counters", "role_assignments", "role_definitions"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// The built-in issuer's signing keys.
struct M0004SigningKeys;

impl MigrationName for M0004SigningKeys {
    fn name(&self) -> &str {
        "m0004_signing_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0004SigningKeys {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("signing_keys")
                .col(string("kid").primary_key())
                .col(text("private_pem"))
                .col(big_integer("created_at"))
                .col(big_integer_null("retired_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("signing_keys").to_owned())
            .await
    }
}

/// The directory's change counter (principals are cached in memory by every replica).
struct M0005DirectoryCounter;

impl MigrationName for M0005DirectoryCounter {
    fn name(&self) -> &str {
        "m0005_directory_counter"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0005DirectoryCounter {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.exec_stmt(
            Query::insert()
                .into_table("change_counters")
                .columns(["name", "value"])
                .values_panic(["directory".into(), 0.into()])
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.exec_stmt(
            Query::delete()
                .from_table("change_counters")
                .and_where(Expr::col("name").eq("directory"))
                .to_owned(),
        )
        .await
    }
}

/// Links from a trusted external provider's (issuer, subject) to a directory object.
struct M0006ExternalLinks;

impl MigrationName for M0006ExternalLinks {
    fn name(&self) -> &str {
        "m0006_external_links"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0006ExternalLinks {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("directory_external_links")
                .col(string("issuer"))
                .col(string("subject"))
                .col(string("object_id"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("issuer").col("subject"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_directory_external_links_object")
                .table("directory_external_links")
                .col("object_id")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("directory_external_links").to_owned())
            .await
    }
}

/// The registry token server's keys.
struct M0007TokenServerKeys;

impl MigrationName for M0007TokenServerKeys {
    fn name(&self) -> &str {
        "m0007_token_server_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0007TokenServerKeys {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("token_server_keys")
                .col(string("kid").primary_key())
                .col(string("purpose"))
                .col(text("material"))
                .col(text_null("certificate_pem"))
                .col(big_integer("created_at"))
                .col(big_integer_null("retired_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("token_server_keys").to_owned())
            .await
    }
}

/// The registries' admin passwords, sealed.
struct M0008AdminPasswords;

impl MigrationName for M0008AdminPasswords {
    fn name(&self) -> &str {
        "m0008_admin_passwords"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0008AdminPasswords {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("registry_admin_passwords")
                .col(string("registry_key"))
                .col(string("name"))
                .col(text("sealed"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("registry_key").col("name"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("registry_admin_passwords").to_owned())
            .await
    }
}

/// Scope maps and repository-scoped tokens.
struct M0009ScopeMaps;

impl MigrationName for M0009ScopeMaps {
    fn name(&self) -> &str {
        "m0009_scope_maps"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0009ScopeMaps {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("registry_scope_maps")
                .col(string("registry_key"))
                .col(string("name_key"))
                .col(string("name"))
                .col(text_null("description"))
                .col(text("actions"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("registry_key").col("name_key"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("registry_tokens")
                .col(string("registry_key"))
                .col(string("name_key"))
                .col(string("name"))
                .col(string("scope_map"))
                .col(boolean("enabled"))
                .col(text("passwords"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("registry_key").col("name_key"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("registry_tokens").to_owned())
            .await?;
        m.drop_table(Table::drop().table("registry_scope_maps").to_owned())
            .await
    }
}

/// When a service principal's credential is removed, the registry refresh tokens issued
/// before are revoked.
struct M0010SessionsValidAfter;

impl MigrationName for M0010SessionsValidAfter {
    fn name(&self) -> &str {
        "m0010_sessions_valid_after"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0010SessionsValidAfter {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("directory_service_principals")
                .add_column(big_integer_null("sessions_valid_after"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("directory_service_principals")
                .drop_column("sessions_valid_after")
                .to_owned(),
        )
        .await
    }
}

/// The catalog of trusted collections per registry.
struct M0011TrustedCollections;

impl MigrationName for M0011TrustedCollections {
    fn name(&self) -> &str {
        "m0011_trusted_collections"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0011TrustedCollections {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("registry_trusted_collections")
                .col(string("registry_key"))
                .col(string("gun"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("registry_key").col("gun"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table("registry_trusted_collections")
                .to_owned(),
        )
        .await
    }
}

/// The content-trust wipe: the registry's running wipe, and the expiry of the last
/// trust-data push token issued for each collection (the final sweep waits for it).
struct M0012TrustWipe;

impl MigrationName for M0012TrustWipe {
    fn name(&self) -> &str {
        "m0012_trust_wipe"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0012TrustWipe {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        m.alter_table(
            Table::alter()
                .table("registries")
                .add_column(string_null("trust_wipe"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("registry_trusted_collections")
                .add_column(big_integer_null("push_until"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("registry_trusted_collections")
                .drop_column("push_until")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("registries")
                .drop_column("trust_wipe")
                .to_owned(),
        )
        .await
    }
}

/// The embedded trust server's store: every version of every TUF file, the changefeed, and
/// the server's sealed keys.
struct M0013TufStore;

impl MigrationName for M0013TufStore {
    fn name(&self) -> &str {
        "m0013_tuf_store"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0013TufStore {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("tuf_files")
                .col(big_pk_auto("id"))
                .col(string("gun"))
                .col(string("role"))
                .col(big_integer("version"))
                .col(string("sha256"))
                .col(blob("data"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        // Two writers of one version: the second fails here (notary's ErrOldVersion).
        m.create_index(
            Index::create()
                .name("ux_tuf_files_version")
                .table("tuf_files")
                .col("gun")
                .col("role")
                .col("version")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_tuf_files_checksum")
                .table("tuf_files")
                .col("gun")
                .col("role")
                .col("sha256")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("tuf_changes")
                .col(big_pk_auto("id"))
                .col(string("gun"))
                .col(big_integer("version"))
                .col(string("sha256"))
                .col(string("category"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_tuf_changes_gun")
                .table("tuf_changes")
                .col("gun")
                .col("id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("tuf_server_keys")
                .col(string("gun"))
                .col(string("role"))
                .col(string("keytype"))
                .col(text("private_sealed"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("gun").col("role"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("tuf_server_keys").to_owned())
            .await?;
        m.drop_table(Table::drop().table("tuf_changes").to_owned())
            .await?;
        m.drop_table(Table::drop().table("tuf_files").to_owned())
            .await
    }
}

/// The trust server may hold several keys of a role (a rotation hands out a new one while
/// the root still names the old): `tuf_keys` numbers them per GUN and role (`generation`,
/// the primary key, so that concurrent creators of the same generation agree on one key).
/// It replaces
/// `tuf_server_keys`, which no released `berthd` wrote (the embedded trust server was not
/// served before this migration), so nothing is carried over.
struct M0014TufKeysPerRole;

impl MigrationName for M0014TufKeysPerRole {
    fn name(&self) -> &str {
        "m0014_tuf_keys_per_role"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0014TufKeysPerRole {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("tuf_server_keys").to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table("tuf_keys")
                .col(string("gun"))
                .col(string("role"))
                .col(big_integer("generation"))
                .col(string("key_id"))
                .col(string("keytype"))
                .col(text("private_sealed"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("gun").col("role").col("generation"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("tuf_keys").to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table("tuf_server_keys")
                .col(string("gun"))
                .col(string("role"))
                .col(string("keytype"))
                .col(text("private_sealed"))
                .col(big_integer("created_at"))
                .primary_key(Index::create().col("gun").col("role"))
                .to_owned(),
        )
        .await
    }
}

/// The issuer's authorization codes (the authorization-code grant with PKCE): one row per
/// code not yet redeemed, by the SHA-256 of the code.
struct M0015AuthorizationCodes;

impl MigrationName for M0015AuthorizationCodes {
    fn name(&self) -> &str {
        "m0015_authorization_codes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0015AuthorizationCodes {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("authorization_codes")
                .col(string("code_hash").primary_key())
                .col(string("client_id"))
                .col(text("redirect_uri"))
                .col(string("resource"))
                .col(string("object_id"))
                .col(string("code_challenge"))
                .col(text_null("nonce"))
                .col(big_integer("expires_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("authorization_codes").to_owned())
            .await
    }
}

/// The portal's server-side sessions, by the SHA-256 of the browser's token.
struct M0016PortalSessions;

impl MigrationName for M0016PortalSessions {
    fn name(&self) -> &str {
        "m0016_portal_sessions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0016PortalSessions {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("portal_sessions")
                .col(string("key").primary_key())
                .col(string("object_id"))
                .col(string("csrf"))
                .col(big_integer("created_at"))
                .col(big_integer("last_seen"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("portal_sessions").to_owned())
            .await
    }
}

/// The activity log: its events, chained in order of commit, and the chain's head; and the
/// request that started each long-running operation, for the records of its steps.
struct M0017ActivityLog;

impl MigrationName for M0017ActivityLog {
    fn name(&self) -> &str {
        "m0017_activity_log"
    }
}

/// The hash before the first record: 32 zero bytes, hex.
pub(super) const CHAIN_ORIGIN: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for M0017ActivityLog {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut events = activity_events_table("activity_events");
        // Unique until M0018.
        m.create_table(events.col(string("event_id").unique_key()).to_owned())
            .await?;
        activity_indexes(m).await?;
        m.create_table(
            Table::create()
                .table("activity_chain")
                .col(integer("id").primary_key())
                .col(big_integer("seq"))
                .col(string("hash"))
                .col(big_integer("base_seq"))
                .col(string("base_hash"))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table("activity_chain")
                .columns(["id", "seq", "hash", "base_seq", "base_hash"])
                .values_panic([
                    1.into(),
                    0.into(),
                    CHAIN_ORIGIN.into(),
                    0.into(),
                    CHAIN_ORIGIN.into(),
                ])
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("operations")
                .add_column(text_null("activity"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("operations")
                .drop_column("activity")
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table("activity_chain").to_owned())
            .await?;
        m.drop_table(Table::drop().table("activity_events").to_owned())
            .await
    }
}

/// The activity log's events table, but for its `event_id` column.
fn activity_events_table(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(name)
        .col(big_integer("seq").primary_key())
        .col(big_integer("event_time"))
        .col(string_null("subscription"))
        .col(string_null("resource_group"))
        .col(text("resource_key"))
        .col(string("provider"))
        .col(string("correlation_id"))
        .col(string("caller"))
        .col(string("status"))
        .col(text("data"))
        .col(string("hash"))
        .to_owned()
}

/// The activity log's list indexes.
async fn activity_indexes(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    // Every list is one subscription's events in a time range, newest first, narrowed by
    // at most one field: each narrowing field leads an index with the time after it.
    for (name, cols) in [
        (
            "ix_activity_time",
            &["subscription", "event_time", "seq"][..],
        ),
        (
            "ix_activity_group",
            &["subscription", "resource_group", "event_time", "seq"][..],
        ),
        (
            "ix_activity_resource",
            &["resource_key", "event_time", "seq"][..],
        ),
        (
            "ix_activity_provider",
            &["subscription", "provider", "event_time", "seq"][..],
        ),
        (
            "ix_activity_correlation",
            &["correlation_id", "event_time"][..],
        ),
        (
            "ix_activity_caller",
            &["subscription", "caller", "event_time", "seq"][..],
        ),
    ] {
        let mut index = Index::create();
        index.name(name).table("activity_events");
        for col in cols {
            index.col(*col);
        }
        m.create_index(index.to_owned()).await?;
    }
    Ok(())
}

/// Appending in one statement, and pruning. The event id's unique index goes (ids are random GUIDs, so each
/// insert touched a random page of it, and nothing looks an event up by id), and on SQLite
/// two triggers keep the chain's head: an insert that does not follow the head is refused
/// (the writer then reads the head and chains again), and each insert advances it.
/// PostgreSQL advances the head in the insert's own statement (`activity_log.rs`). It
/// landed like this; the seal of the chain's start (`base_mac`), which it once also added,
/// is M0019's, so that databases made by either version of it are upgraded alike.
struct M0018ActivityAppend;

impl MigrationName for M0018ActivityAppend {
    fn name(&self) -> &str {
        "m0018_activity_append"
    }
}

/// What an insert that does not follow the chain's head is refused with (SQLite).
pub(super) const CHAIN_MOVED: &str = "the head of the activity chain moved";

#[async_trait::async_trait]
impl MigrationTrait for M0018ActivityAppend {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE activity_events DROP CONSTRAINT IF EXISTS activity_events_event_id_key",
            )
            .await?;
            return Ok(());
        }
        // SQLite cannot drop a column's UNIQUE: the table is made again without it.
        m.create_table(
            activity_events_table("activity_events_new")
                .col(string("event_id"))
                .to_owned(),
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO activity_events_new (seq, event_time, subscription, resource_group, \
             resource_key, provider, correlation_id, caller, status, data, hash, event_id) \
             SELECT seq, event_time, subscription, resource_group, resource_key, provider, \
             correlation_id, caller, status, data, hash, event_id FROM activity_events",
        )
        .await?;
        m.drop_table(Table::drop().table("activity_events").to_owned())
            .await?;
        m.rename_table(
            Table::rename()
                .table("activity_events_new", "activity_events")
                .to_owned(),
        )
        .await?;
        activity_indexes(m).await?;
        chain_triggers(db, false).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE activity_events ADD CONSTRAINT activity_events_event_id_key UNIQUE (event_id)",
            )
            .await?;
            return Ok(());
        }
        db.execute_unprepared("DROP TRIGGER IF EXISTS activity_chain_follows")
            .await?;
        db.execute_unprepared("DROP TRIGGER IF EXISTS activity_chain_advances")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX activity_events_event_id ON activity_events (event_id)",
        )
        .await?;
        Ok(())
    }
}

/// Several chains on PostgreSQL, so that writers stop waiting for one another: each record
/// belongs to a chain and has a position in it (`chain`, `position`; the records so far are
/// chain 1's, at their `seq`), and `activity_chain` holds a head per chain. `seq` is only the
/// row's order from now on: PostgreSQL assigns it from a sequence. SQLite has one writer and
/// keeps one chain; its triggers now follow the record's own chain. Each chain's start gets a
/// seal (`base_mac`), so that only a prune can move it (unless a development build of M0018
/// already added it).
struct M0019ActivityChains;

impl MigrationName for M0019ActivityChains {
    fn name(&self) -> &str {
        "m0019_activity_chains"
    }
}

/// How many chains the activity log has on PostgreSQL (one on SQLite). A replica's pool has
/// 16 connections, so its concurrent writers each find a chain of their own.
pub(super) const POSTGRES_CHAINS: i32 = 16;

#[async_trait::async_trait]
impl MigrationTrait for M0019ActivityChains {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The chain's start, sealed: only the key's holder (a prune) can move it.
        if !m.has_column("activity_chain", "base_mac").await? {
            m.alter_table(
                Table::alter()
                    .table("activity_chain")
                    .add_column(string("base_mac").default(""))
                    .to_owned(),
            )
            .await?;
        }
        for column in [
            integer("chain").default(1),
            big_integer("position").default(0),
        ] {
            m.alter_table(
                Table::alter()
                    .table("activity_events")
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        let db = m.get_connection();
        db.execute_unprepared("UPDATE activity_events SET position = seq")
            .await?;
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared(
                "CREATE SEQUENCE activity_events_seq OWNED BY activity_events.seq",
            )
            .await?;
            db.execute_unprepared(
                "SELECT setval('activity_events_seq', (SELECT COALESCE(MAX(seq), 0) + 1 FROM \
                 activity_events), false)",
            )
            .await?;
            db.execute_unprepared(
                "ALTER TABLE activity_events ALTER COLUMN seq SET DEFAULT \
                 nextval('activity_events_seq')",
            )
            .await?;
            for id in 2..=POSTGRES_CHAINS {
                m.exec_stmt(
                    Query::insert()
                        .into_table("activity_chain")
                        .columns(["id", "seq", "hash", "base_seq", "base_hash", "base_mac"])
                        .values_panic([
                            id.into(),
                            0.into(),
                            CHAIN_ORIGIN.into(),
                            0.into(),
                            CHAIN_ORIGIN.into(),
                            "".into(),
                        ])
                        .to_owned(),
                )
                .await?;
            }
            return Ok(());
        }
        chain_triggers(db, true).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if m.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared("DELETE FROM activity_chain WHERE id > 1")
                .await?;
            db.execute_unprepared("ALTER TABLE activity_events ALTER COLUMN seq DROP DEFAULT")
                .await?;
            db.execute_unprepared("DROP SEQUENCE IF EXISTS activity_events_seq")
                .await?;
        } else {
            chain_triggers(db, false).await?;
        }
        for column in ["position", "chain"] {
            m.alter_table(
                Table::alter()
                    .table("activity_events")
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table("activity_chain")
                .drop_column("base_mac")
                .to_owned(),
        )
        .await
    }
}

/// A seal on each chain's head (`head_mac`), as on its start: the head cannot be moved back
/// over deleted records but by the key's holder. Each append seals the head it moves; the
/// heads there are when it runs are sealed by the process that ran it, once it has the key
/// ([`super::Database::seal_migrated_chain_heads`]).
struct M0020ActivityHeadSeal;

/// M0020's name: the process that applies it seals the heads there are.
pub(super) const MIGRATION_TO_SEAL_HEADS: &str = "m0020_activity_head_seal";

impl MigrationName for M0020ActivityHeadSeal {
    fn name(&self) -> &str {
        MIGRATION_TO_SEAL_HEADS
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0020ActivityHeadSeal {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("activity_chain")
                .add_column(string("head_mac").default(""))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("activity_chain")
                .drop_column("head_mac")
                .to_owned(),
        )
        .await
    }
}

/// SQLite's triggers that keep the activity chain's head (replacing any): an insert that does
/// not follow the head is refused with [`CHAIN_MOVED`], and each insert becomes the head. With
/// `by_chain` (M0019) they follow the record's own chain and position; without (M0018),
/// chain 1 and `seq`.
async fn chain_triggers(db: &impl ConnectionTrait, by_chain: bool) -> Result<(), DbErr> {
    let (position, chain) = if by_chain {
        ("NEW.position", "NEW.chain")
    } else {
        ("NEW.seq", "1")
    };
    db.execute_unprepared("DROP TRIGGER IF EXISTS activity_chain_follows")
        .await?;
    db.execute_unprepared("DROP TRIGGER IF EXISTS activity_chain_advances")
        .await?;
    db.execute_unprepared(&format!(
        "CREATE TRIGGER activity_chain_follows BEFORE INSERT ON activity_events \
         WHEN {position} <> (SELECT seq FROM activity_chain WHERE id = {chain}) + 1 \
         BEGIN SELECT RAISE(ABORT, '{CHAIN_MOVED}'); END"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "CREATE TRIGGER activity_chain_advances AFTER INSERT ON activity_events BEGIN \
         UPDATE activity_chain SET seq = {position}, hash = NEW.hash WHERE id = {chain}; END"
    ))
    .await?;
    Ok(())
}
