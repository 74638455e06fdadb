//! OpenAPI schemas the derives cannot spell: the patterns of `domain`'s text rules, nullable ids
//! and times, and metadata's numbers. The fuzzer holds the document to them in both directions
//! (what they allow must be accepted, what they forbid refused), so each says exactly what the
//! rule it names does.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AnyOfBuilder, Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder, OneOfBuilder, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr, Schema};

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

/// Something besides white space (`domain::not_blank`). Patterns are unanchored: this one only
/// asks for one such character anywhere.
pub const NOT_BLANK_PATTERN: &str = concat!("[^", space!(), "]");

/// `domain::title`: no control character, and at least three characters from the first to the
/// last that is not white space.
pub const TITLE_PATTERN: &str = concat!(
    "^[^",
    control!(),
    "]*[^",
    control!(),
    space!(),
    "][^",
    control!(),
    "]+[^",
    control!(),
    space!(),
    "][^",
    control!(),
    "]*$"
);

/// `domain::tags`, one tag.
pub const TAG_PATTERN: &str = "^[A-Za-z0-9_-]{1,40}$";

fn string(nullable: bool) -> ObjectBuilder {
    let t = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::Type(Type::String) };
    ObjectBuilder::new().schema_type(t)
}

fn title_schema(nullable: bool) -> Object {
    string(nullable).min_length(Some(3)).max_length(Some(200)).pattern(Some(TITLE_PATTERN)).build()
}

pub fn title() -> Object {
    title_schema(false)
}

pub fn nullable_title() -> Object {
    title_schema(true)
}

fn tags_schema(nullable: bool) -> Array {
    let item = ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).pattern(Some(TAG_PATTERN));
    let builder = ArrayBuilder::new().items(item).max_items(Some(20));
    if nullable {
        builder.schema_type(SchemaType::from_iter([Type::Array, Type::Null])).build()
    } else {
        builder.build()
    }
}

pub fn tags() -> Array {
    tags_schema(false)
}

pub fn nullable_tags() -> Array {
    tags_schema(true)
}

/// A text of at most `max` characters that is not blank (`domain::not_blank`).
pub fn not_blank(max: usize) -> Object {
    string(false).min_length(Some(1)).max_length(Some(max)).pattern(Some(NOT_BLANK_PATTERN)).build()
}

pub fn comment_content() -> Object {
    not_blank(10_000)
}

pub fn category_name() -> Object {
    not_blank(100)
}

pub fn nullable_category_name() -> Object {
    string(true).min_length(Some(1)).max_length(Some(100)).pattern(Some(NOT_BLANK_PATTERN)).build()
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

/// Any JSON value whose numbers fit a 64-bit float (`domain::metadata`): what a post's metadata
/// holds.
pub struct MetadataValue;

impl utoipa::PartialSchema for MetadataValue {
    fn schema() -> RefOr<Schema> {
        let this = || Ref::from_schema_name("MetadataValue");
        let of = |t: Type| ObjectBuilder::new().schema_type(SchemaType::Type(t));
        AnyOfBuilder::new()
            .description(Some("Any JSON value; numbers within ±1.7976931348623157e308 (a 64-bit float)."))
            .item(of(Type::Null))
            .item(of(Type::Boolean))
            .item(of(Type::String))
            .item(of(Type::Number).minimum(Some(f64::MIN)).maximum(Some(f64::MAX)))
            .item(ArrayBuilder::new().items(this()))
            .item(of(Type::Object).additional_properties(Some(this())))
            .into()
    }
}

impl utoipa::ToSchema for MetadataValue {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("MetadataValue")
    }
}
