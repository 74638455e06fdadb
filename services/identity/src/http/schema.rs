//! OpenAPI schemas of values kept as text (roles, statuses), so the document lists exactly what
//! the validation accepts and the database holds.

use utoipa::openapi::schema::{
    Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};

/// A display name: 1–200 characters, not blank, no control characters (see `domain::parse_name`).
pub const NAME_PATTERN: &str =
    r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";
/// An organization slug (see `domain::Slug`).
pub const SLUG_PATTERN: &str = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$";
/// An API key scope: `resource:read|write|*` or `*`.
pub const SCOPE_PATTERN: &str = r"^(\*|[a-z_-]{1,40}:(read|write|\*))$";
/// A logo or website link.
pub const URL_PATTERN: &str = r"^https?://";

fn text_enum(values: &[&str]) -> Object {
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).enum_values(Some(values.iter().copied())).build()
}

fn nullable_text_enum(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values.iter().map(|v| serde_json::Value::from(*v)).chain([serde_json::Value::Null])))
        .build()
}

pub const ROLES: &[&str] = &["owner", "admin", "manager", "agent", "customer"];
pub const INVITABLE_ROLES: &[&str] = &["admin", "manager", "agent", "customer"];

pub fn role() -> Object {
    text_enum(ROLES)
}

/// Roles an invitation or an API key can carry (never owner).
pub fn invitable_role() -> Object {
    text_enum(INVITABLE_ROLES)
}

pub fn key_role() -> Object {
    text_enum(INVITABLE_ROLES)
}

pub fn nullable_key_role() -> Object {
    nullable_text_enum(INVITABLE_ROLES)
}

pub fn team_role() -> Object {
    text_enum(&["member", "lead"])
}

pub fn nullable_team_role() -> Object {
    nullable_text_enum(&["member", "lead"])
}

pub fn invitation_status() -> Object {
    text_enum(&["pending", "accepted", "cancelled"])
}

/// A plan of billing-metrics' catalog (`free`, `starter`, `pro`, `business`, `enterprise`, or an
/// operator's own).
pub fn plan() -> Object {
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).pattern(Some("^[a-z][a-z0-9_-]{0,39}$")).build()
}

/// The subscription's status as billing-metrics last said (`null` until it has).
pub fn subscription_status() -> Object {
    nullable_text_enum(&["trialing", "active", "past_due", "canceled", "unpaid"])
}

pub fn org_status() -> Object {
    text_enum(&["active", "trial", "suspended", "cancelled"])
}

pub fn credential_kind() -> Object {
    text_enum(&["session", "api_key"])
}

/// An API key's scopes: one to 50.
pub fn scopes() -> Array {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).pattern(Some(SCOPE_PATTERN)))
        .min_items(Some(1))
        .max_items(Some(50))
        .build()
}

fn text(nullable: bool) -> ObjectBuilder {
    let t = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::Type(Type::String) };
    ObjectBuilder::new().schema_type(t)
}

/// A display name (see [`NAME_PATTERN`]).
pub fn name() -> Object {
    text(false).max_length(Some(200)).pattern(Some(NAME_PATTERN)).build()
}

pub fn nullable_name() -> Object {
    text(true).max_length(Some(200)).pattern(Some(NAME_PATTERN)).build()
}

/// An organization slug, when one is chosen.
pub fn nullable_slug() -> Object {
    text(true).min_length(Some(3)).max_length(Some(63)).pattern(Some(SLUG_PATTERN)).build()
}

/// A logo or website link; null clears it.
pub fn nullable_url() -> Object {
    text(true).max_length(Some(500)).pattern(Some(URL_PATTERN)).build()
}

/// `{string, format}` or `null` as `oneOf`, not as `type: [string, null]`: schemathesis (4.32)
/// generates `""` as a valid value of the latter whatever its format.
fn nullable_format(format: KnownFormat) -> Schema {
    let text = ObjectBuilder::new().schema_type(SchemaType::Type(Type::String));
    Schema::OneOf(
        OneOfBuilder::new()
            .item(text.format(Some(SchemaFormat::KnownFormat(format))))
            .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)))
            .build(),
    )
}

/// An id, or `null` (for none, or to clear it).
pub fn nullable_uuid() -> Schema {
    nullable_format(KnownFormat::Uuid)
}

/// An RFC 3339 time, or `null`.
pub fn nullable_date_time() -> Schema {
    nullable_format(KnownFormat::DateTime)
}
