//! The OpenAPI document of a service, generated from its code (utoipa) and completed here with
//! what every route shares: the bearer scheme, the problem+json schema, the `Idempotency-Key`
//! header of `POST`s and the error answers the platform itself gives (authentication, body and
//! query rejections, idempotency misuse, an unavailable database, a bare 500). Handlers document
//! their own successes and domain errors; nothing here can drift from the code, because the
//! same layers that add these answers are the ones that produce them.

use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(components(schemas(Problem, FieldError)))]
struct Shared;

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// Name, status and description of the shared error responses.
const RESPONSES: [(&str, &str, &str); 10] = [
    ("BadRequest", "400", "Malformed request: the body is not JSON of the right shape, or a header is invalid"),
    ("Unauthorized", "401", "Missing, invalid or expired credentials (`WWW-Authenticate: Bearer`)"),
    ("Forbidden", "403", "The caller's role or API key scopes do not allow this"),
    ("NotFound", "404", "No such resource in the caller's organization"),
    (
        "Conflict",
        "409",
        "A request with this Idempotency-Key is still in progress, or conflicts with the current state",
    ),
    ("PayloadTooLarge", "413", "The body exceeds the size limit"),
    ("UnsupportedMediaType", "415", "The body is not `application/json`"),
    ("Invalid", "422", "One or more fields or parameters are invalid; `errors` names each"),
    ("Internal", "500", "Unexpected error; the body reveals nothing"),
    ("Unavailable", "503", "A dependency (database, authentication) is unavailable; retry after `Retry-After`"),
];

/// The finished document as JSON.
pub fn document(api: utoipa::openapi::OpenApi) -> String {
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({}));
    complete(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn complete(doc: &mut Value) {
    nullable_formats(doc);
    let shared = serde_json::to_value(Shared::openapi()).unwrap_or_default();
    if !doc.is_object() {
        *doc = json!({});
    }
    let components = object(doc.as_object_mut().expect("an object"), "components");
    let schemas = object(components, "schemas");
    if let Some(extra) = shared.pointer("/components/schemas").and_then(Value::as_object) {
        for (k, v) in extra {
            schemas.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    object(components, "securitySchemes").insert(
        "bearer".into(),
        json!({"type": "http", "scheme": "bearer", "description": "An access token (`sbat_…`) or an API key (`sbk_…`)"}),
    );
    let responses = object(components, "responses");
    for (name, _, description) in RESPONSES {
        responses.insert(
            name.into(),
            json!({
                "description": description,
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            }),
        );
    }
    if let Some(root) = doc.as_object_mut() {
        root.entry("security").or_insert_with(|| json!([{"bearer": []}]));
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let path_has_params = path.contains('{');
        for method in METHODS {
            if let Some(op) = item.get_mut(method) {
                complete_operation(op, method, path_has_params);
            }
        }
    }
}

fn complete_operation(op: &mut Value, method: &str, path_has_params: bool) {
    let public = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|reqs| reqs.iter().any(|r| r.as_object().is_some_and(Map::is_empty)));
    let has_body = op.get("requestBody").is_some();
    let multipart = op.pointer("/requestBody/content/multipart~1form-data").is_some();
    let params = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    let has_query = params.iter().any(|p| p.get("in").and_then(Value::as_str) == Some("query"));
    let has_path = path_has_params || params.iter().any(|p| p.get("in").and_then(Value::as_str) == Some("path"));

    let mut statuses = vec!["500", "503"];
    if !public {
        statuses.extend(["401", "403"]);
    }
    if has_body {
        statuses.extend(["400", "413", "415", "422"]);
    }
    if has_path {
        statuses.push("404");
    }
    if has_query {
        statuses.push("422");
    }
    if method == "post" && !multipart {
        statuses.extend(["400", "409", "422"]);
        let parameters = op.as_object_mut().map(|o| o.entry("parameters").or_insert_with(|| json!([])));
        if let Some(Value::Array(list)) = parameters {
            if !list.iter().any(|p| p.get("name").and_then(Value::as_str) == Some("Idempotency-Key")) {
                list.push(json!({
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": false,
                    "description": "Same key and body within 24 h answer the first response again (`Idempotent-Replayed: true`)",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255}
                }));
            }
        }
    }
    let Some(op) = op.as_object_mut() else {
        return;
    };
    let responses = object(op, "responses");
    for status in statuses {
        if let Some((name, _, _)) = RESPONSES.iter().find(|(_, s, _)| *s == status) {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
        }
    }
}

/// `{"type": ["string", "null"], "format": "uuid"}` as `oneOf` a formatted string or null.
/// Generators read the first form as "a string of any shape, or null" (schemathesis sends `""`
/// as valid), while the server refuses a string that is not of the format.
fn nullable_formats(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(nullable_formats),
        Value::Object(map) => {
            map.values_mut().for_each(nullable_formats);
            let nullable_type = map.get("type").and_then(Value::as_array).and_then(|types| {
                let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
                (names.len() == 2 && names.contains(&"null"))
                    .then(|| names.into_iter().find(|n| *n != "null").unwrap_or("string").to_owned())
            });
            let Some(kind) = nullable_type else { return };
            if !map.contains_key("format") {
                return;
            }
            let mut typed = Map::new();
            typed.insert("type".into(), Value::String(kind));
            for key in ["format", "pattern", "minLength", "maxLength", "minimum", "maximum", "enum", "example"] {
                if let Some(v) = map.remove(key) {
                    typed.insert(key.into(), v);
                }
            }
            map.remove("type");
            map.insert("oneOf".into(), json!([Value::Object(typed), {"type": "null"}]));
        }
        _ => {}
    }
}

/// The object at `key` of `map`, created when missing.
fn object<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("an object")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_formatted_strings_become_one_of() {
        let mut doc = json!({"components": {"schemas": {"A": {"properties": {
            "at": {"type": ["string", "null"], "format": "date-time", "description": "when"},
            "name": {"type": ["string", "null"], "maxLength": 3}
        }}}}});
        nullable_formats(&mut doc);
        let at = &doc["components"]["schemas"]["A"]["properties"]["at"];
        assert_eq!(at["oneOf"][0], json!({"type": "string", "format": "date-time"}));
        assert_eq!(at["oneOf"][1], json!({"type": "null"}));
        assert_eq!(at["description"], "when");
        let name = &doc["components"]["schemas"]["A"]["properties"]["name"];
        assert_eq!(name["type"], json!(["string", "null"]));
    }

    #[test]
    fn operations_get_the_platform_answers() {
        let mut doc = json!({
            "openapi": "3.1.0",
            "paths": {
                "/v1/things/{id}": {"patch": {"requestBody": {"content": {"application/json": {}}}, "responses": {"200": {"description": "ok"}}}},
                "/v1/public": {"post": {"security": [{}], "responses": {"201": {"description": "ok"}}}}
            }
        });
        complete(&mut doc);
        let patch = &doc["paths"]["/v1/things/{id}"]["patch"]["responses"];
        for s in ["200", "400", "401", "403", "404", "413", "415", "422", "500", "503"] {
            assert!(patch.get(s).is_some(), "patch lacks {s}");
        }
        let post = &doc["paths"]["/v1/public"]["post"];
        assert!(post["responses"].get("401").is_none());
        assert!(post["responses"].get("409").is_some());
        assert_eq!(post["parameters"][0]["name"], "Idempotency-Key");
        assert!(doc["components"]["schemas"].get("Problem").is_some());
    }
}
