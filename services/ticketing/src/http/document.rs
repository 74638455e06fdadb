//! What the generated OpenAPI document cannot say from the annotations alone: the allowed
//! upload types (configuration), the links from a created resource to the operations on it
//! (so that clients, and the fuzzer, can follow an id they were just given), and the one rule of
//! `NewArticle` and of `WeeklySchedule` that span fields.

use utoipa::openapi::encoding::Encoding;
use utoipa::openapi::link::Link;
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

pub fn refine(api: &mut OpenApi, upload_types: &[String]) {
    upload_encoding(api, upload_types);
    link_created(api, "create_ticket", "/v1/tickets/{id}");
    link_created(api, "create_customer", "/v1/customers/{id}");
    article_needs_title_or_source(api);
    schedule_opens(api);
}

/// `encoding.file.contentType` of the upload: the types `ATTACHMENT_TYPES` allows.
fn upload_encoding(api: &mut OpenApi, types: &[String]) {
    let body = api
        .paths
        .paths
        .get_mut("/v1/tickets/{id}/attachments")
        .and_then(|item| item.post.as_mut())
        .and_then(|op| op.request_body.as_mut());
    let Some(RefOr::T(body)) = body else { return };
    if let Some(RefOr::T(content)) = body.content.get_mut("multipart/form-data") {
        content.encoding.insert("file".to_owned(), Encoding::builder().content_type(Some(types.join(", "))).build());
    }
}

/// Links the 201 of operation `creator` to every operation under `prefix` (whose `{id}` is the
/// created resource's `id`).
fn link_created(api: &mut OpenApi, creator: &str, prefix: &str) {
    let mut targets = Vec::new();
    for (path, item) in &api.paths.paths {
        if path != prefix && !path.starts_with(&format!("{prefix}/")) {
            continue;
        }
        let ops = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
        targets.extend(ops.into_iter().flatten().filter_map(|op| op.operation_id.clone()));
    }
    let created = api.paths.paths.values_mut().flat_map(|item| [item.post.as_mut()]).flatten();
    for op in created {
        if op.operation_id.as_deref() != Some(creator) {
            continue;
        }
        let Some(RefOr::T(response)) = op.responses.responses.get_mut("201") else { continue };
        for target in &targets {
            let link = Link::builder().operation_id(target.clone()).parameter("id", "$response.body#/id").build();
            response.links.insert(target.clone(), RefOr::T(link));
        }
    }
}

/// `NewArticle`: `title` and `content`, or a `source_ticket_id` to take them from.
fn article_needs_title_or_source(api: &mut OpenApi) {
    let given = |fields: &[&str]| {
        fields.iter().fold(ObjectBuilder::new().schema_type(Type::Object), |o, f| {
            o.property(*f, ObjectBuilder::new().schema_type(Type::String)).required(*f)
        })
    };
    one_of_these(api, "NewArticle", vec![given(&["title", "content"]), given(&["source_ticket_id"])]);
}

/// `WeeklySchedule`: open on at least one day (`domain::sla::Calendar::parse`).
fn schedule_opens(api: &mut OpenApi) {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let open = |day: &&str| {
        let ranges =
            ArrayBuilder::new().items(ObjectBuilder::new().schema_type(SchemaType::AnyValue)).min_items(Some(1));
        ObjectBuilder::new().schema_type(Type::Object).property(*day, ranges).required(*day)
    };
    one_of_these(api, "WeeklySchedule", days.iter().map(open).collect());
}

/// Component `name` must also match one of `branches` (a rule across its fields).
fn one_of_these(api: &mut OpenApi, name: &str, branches: Vec<ObjectBuilder>) {
    let Some(schema) = api.components.as_mut().and_then(|c| c.schemas.get_mut(name)) else { return };
    let either = branches.into_iter().fold(AnyOfBuilder::new(), |any, b| any.item(b));
    let original = std::mem::replace(schema, RefOr::T(Schema::Object(Default::default())));
    *schema = RefOr::T(Schema::AllOf(AllOfBuilder::new().item(original).item(either).build()));
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder};
    use utoipa::openapi::OpenApiBuilder;

    use serde_json::json;

    use super::*;

    #[test]
    fn a_schedule_must_open_on_some_day() {
        let components = ComponentsBuilder::new().schema("WeeklySchedule", ObjectBuilder::new()).build();
        let mut api = OpenApiBuilder::new().components(Some(components)).build();
        schedule_opens(&mut api);
        let doc = serde_json::to_value(&api).unwrap();
        let any = &doc["components"]["schemas"]["WeeklySchedule"]["allOf"][1]["anyOf"];
        assert_eq!(any.as_array().map(Vec::len), Some(7), "{doc}");
        assert_eq!(
            any[0],
            json!({ "type": "object", "required": ["mon"], "properties": { "mon": { "type": "array", "items": {}, "minItems": 1 } } })
        );
    }
}
