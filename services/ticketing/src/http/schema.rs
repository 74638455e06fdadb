//! OpenAPI schemas the derives cannot spell: the patterns of `domain::fields`, nullable ids and
//! times. Each says exactly what the rule it names does (the fuzzer holds the document to them).

use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::RefOr;

/// Unicode White_Space (what `str::trim` strips), spelled out for every regex engine.
macro_rules! space {
    () => {
        r"\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}
/// Control characters (`char::is_control`).
macro_rules! control {
    () => {
        r"\u0000-\u001f\u007f-\u009f"
    };
}

/// `fields::subject`: no control character and one that is not white space.
pub const SUBJECT_PATTERN: &str = concat!("^[^", control!(), "]*[^", control!(), space!(), "][^", control!(), "]*$");
/// Something besides white space (`fields::not_blank`), anywhere.
pub const NOT_BLANK_PATTERN: &str = concat!("[^", space!(), "]");
/// `fields::email`: no white space or control character, one `@` with something before it and
/// a dot inside what follows it.
pub const EMAIL_PATTERN: &str =
    concat!("^[^@", space!(), control!(), "]+@[^@", space!(), control!(), "]+[.][^@", space!(), control!(), "]+$");
/// One tag of `fields::tags`.
pub const TAG_PATTERN: &str = "^[A-Za-z0-9_-]{1,40}$";

fn string(nullable: bool) -> ObjectBuilder {
    let t = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::Type(Type::String) };
    ObjectBuilder::new().schema_type(t)
}

pub fn subject() -> Object {
    string(false).min_length(Some(1)).max_length(Some(200)).pattern(Some(SUBJECT_PATTERN)).build()
}

pub fn nullable_subject() -> Object {
    string(true).min_length(Some(1)).max_length(Some(200)).pattern(Some(SUBJECT_PATTERN)).build()
}

/// A comment's body.
pub fn body() -> Object {
    string(false).min_length(Some(1)).max_length(Some(20_000)).pattern(Some(NOT_BLANK_PATTERN)).build()
}

fn tags_schema(nullable: bool) -> utoipa::openapi::schema::Array {
    let item = ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).pattern(Some(TAG_PATTERN));
    let builder = ArrayBuilder::new().items(item).max_items(Some(20));
    if nullable {
        builder.schema_type(SchemaType::from_iter([Type::Array, Type::Null])).build()
    } else {
        builder.build()
    }
}

pub fn tags() -> utoipa::openapi::schema::Array {
    tags_schema(false)
}

pub fn nullable_tags() -> utoipa::openapi::schema::Array {
    tags_schema(true)
}

/// `{string, format}` or `null` as `oneOf` (schemathesis generates `""` for `type: [string,
/// null]` whatever its format).
fn nullable_format(format: KnownFormat) -> RefOr<Schema> {
    let one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .format(Some(SchemaFormat::KnownFormat(format))),
        )
        .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)))
        .build();
    RefOr::T(Schema::OneOf(one_of))
}

pub fn nullable_uuid() -> RefOr<Schema> {
    nullable_format(KnownFormat::Uuid)
}

pub fn nullable_datetime() -> RefOr<Schema> {
    nullable_format(KnownFormat::DateTime)
}

/// Estimated hours, 0 to 100,000, or `null`.
pub fn nullable_hours() -> RefOr<Schema> {
    let one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Number))
                .minimum(Some(0.0))
                .maximum(Some(100_000.0)),
        )
        .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)))
        .build();
    RefOr::T(Schema::OneOf(one_of))
}

/// An email address of `fields::email`.
pub fn nullable_email() -> Object {
    string(true).max_length(Some(254)).pattern(Some(EMAIL_PATTERN)).build()
}
