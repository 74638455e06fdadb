//! OpenAPI schemas of customers' and projects' fields that the derives cannot spell: the
//! patterns of the text rules in `domain::{customer, project}`, and nullable formats. The fuzzer
//! holds the document to them both ways (what they allow is accepted, what they forbid refused),
//! so each says exactly what its rule does.

use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, OneOfBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::Schema;

/// Unicode White_Space, which `str::trim` strips, spelled out: `\s` differs between regex
/// engines (ECMAScript counts U+FEFF, Python U+001C–U+001F).
macro_rules! space {
    () => {
        r"\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}
/// Control characters (`char::is_control`, category Cc).
macro_rules! control {
    () => {
        r"\u0000-\u001f\u007f-\u009f"
    };
}

/// No control character and something besides white space: `domain::customer::name`,
/// `external_id` and `domain::project::title` (1–200 characters).
pub const LINE_PATTERN: &str = concat!("^[^", control!(), "]*[^", control!(), space!(), "][^", control!(), "]*$");

/// `domain::customer::email`: one `@`, a dot in the domain (not at its ends), no space.
pub const EMAIL_PATTERN: &str = concat!(
    "^[^@",
    control!(),
    space!(),
    "]+@[^@.",
    control!(),
    space!(),
    "][^@",
    control!(),
    space!(),
    "]*\\.[^@",
    control!(),
    space!(),
    "]*[^@.",
    control!(),
    space!(),
    "]$"
);

fn string(nullable: bool) -> ObjectBuilder {
    let t = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::Type(Type::String) };
    ObjectBuilder::new().schema_type(t)
}

fn line(nullable: bool) -> Object {
    string(nullable).min_length(Some(1)).max_length(Some(200)).pattern(Some(LINE_PATTERN)).build()
}

/// A one-line text of 1–200 characters, not blank.
pub fn line_text() -> Object {
    line(false)
}

pub fn nullable_line_text() -> Object {
    line(true)
}

pub fn nullable_email() -> Object {
    string(true).max_length(Some(254)).pattern(Some(EMAIL_PATTERN)).build()
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

pub fn nullable_uuid() -> Schema {
    nullable_format(KnownFormat::Uuid)
}

pub fn nullable_date() -> Schema {
    nullable_format(KnownFormat::Date)
}
