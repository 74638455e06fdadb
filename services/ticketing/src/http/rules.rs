//! Decision rules (managers): ordered by priority, conditions joined by all/any, actions, the
//! triggers they run on. Conditions and actions are parsed here into `domain::rules` values;
//! every error names its path (`conditions[1].operator`). Users, teams and articles an action
//! names must exist in the organization.

use axum::extract::State;
use axum::http::StatusCode;
use platform::auth::{Principal, Role};
use platform::extract::{Json, Path};
use platform::{ApiError, ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType,
    Type,
};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{can_read, can_write};
use crate::directory::LookupError;
use crate::domain::fields;
use crate::domain::rules::{self, Action, ActionSpec, Match, StatusTarget, Trigger, ValueShape};
use crate::domain::ticket::Priority;
use crate::store::articles;
use crate::store::rules::{self as store, Fields, Rule};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update, delete))
}

/// `conditions` as the document states them: one `oneOf` entry per field and operator group,
/// with the value that group takes (`domain::rules::shapes`), so every condition the document
/// allows is accepted and none other.
fn conditions_schema() -> RefOr<Schema> {
    let string = || ObjectBuilder::new().schema_type(SchemaType::Type(Type::String));
    let null = || Schema::Object(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)).build());
    let or_null = |schema: Schema, nullable: bool| -> Schema {
        if nullable {
            Schema::OneOf(OneOfBuilder::new().item(schema).item(null()).build())
        } else {
            schema
        }
    };
    let list = |item: Schema| {
        Schema::Array(ArrayBuilder::new().items(RefOr::T(item)).min_items(Some(1)).max_items(Some(100)).build())
    };
    let tag = || Schema::Object(string().pattern(Some(super::schema::TAG_PATTERN)).build());
    let uuid = || Schema::Object(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))).build());
    let mut one_of = OneOfBuilder::new();
    for (field, operators, shape) in rules::shapes() {
        let value = match shape {
            ValueShape::Choice { values, nullable } => {
                or_null(Schema::Object(string().enum_values(Some(values)).build()), nullable)
            }
            ValueShape::Choices(values) => list(Schema::Object(string().enum_values(Some(values)).build())),
            ValueShape::Tag => tag(),
            ValueShape::Tags => list(tag()),
            ValueShape::Text => Schema::Object(string().min_length(Some(1)).max_length(Some(500)).build()),
            ValueShape::Number { min, max, nullable } => {
                let n = ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Number))
                    .minimum(Some(min))
                    .maximum(Some(max));
                or_null(Schema::Object(n.build()), nullable)
            }
            ValueShape::Id { nullable } => or_null(uuid(), nullable),
            ValueShape::Ids => list(uuid()),
        };
        let ops: Vec<&str> = operators.iter().map(|o| o.as_str()).collect();
        let condition = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .property("field", string().enum_values(Some([field.as_str()])))
            .property("operator", string().enum_values(Some(ops)))
            .property("value", value)
            .required("field")
            .required("operator")
            .required("value")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        one_of = one_of.item(condition);
    }
    let array = ArrayBuilder::new().items(one_of).max_items(Some(rules::MAX_CONDITIONS));
    let array = Schema::Array(array.build());
    RefOr::T(Schema::OneOf(OneOfBuilder::new().item(array).item(null()).build()))
}

/// `actions` as the document states them: one object per action type, nothing else in it.
fn action_items() -> Schema {
    let string = || ObjectBuilder::new().schema_type(SchemaType::Type(Type::String));
    let uuid = || string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))).build();
    let among = |values: Vec<&'static str>| string().enum_values(Some(values)).build();
    let variants: Vec<(&str, Vec<(&str, utoipa::openapi::schema::Object)>)> = vec![
        ("assign_user", vec![("user_id", uuid())]),
        ("assign_team", vec![("team_id", uuid())]),
        ("round_robin", vec![("team_id", uuid())]),
        ("set_priority", vec![("priority", among(Priority::ALL.iter().map(|p| p.as_str()).collect()))]),
        ("set_status", vec![("status", among(StatusTarget::ALL.iter().map(|s| s.as_str()).collect()))]),
        ("add_tag", vec![("tag", string().pattern(Some(super::schema::TAG_PATTERN)).build())]),
        (
            "escalate",
            vec![
                ("reason", among(rules::ESCALATION_REASONS.to_vec())),
                ("priority", among(rules::ESCALATION_PRIORITIES.to_vec())),
            ],
        ),
        ("reply_with_article", vec![("article_id", uuid())]),
    ];
    let mut one_of = OneOfBuilder::new();
    for (kind, props) in variants {
        let mut o = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .property("type", string().enum_values(Some([kind])))
            .required("type")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for (name, schema) in props {
            o = o.property(name, schema).required(name);
        }
        one_of = one_of.item(o);
    }
    let array = ArrayBuilder::new().items(one_of).min_items(Some(1)).max_items(Some(rules::MAX_ACTIONS));
    Schema::Array(array.build())
}

fn actions_schema() -> RefOr<Schema> {
    RefOr::T(action_items())
}

fn nullable_actions_schema() -> RefOr<Schema> {
    let null = Schema::Object(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)).build());
    RefOr::T(Schema::OneOf(OneOfBuilder::new().item(action_items()).item(null).build()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    #[schema(schema_with = super::schema::subject)]
    name: String,
    /// Lower runs first; default 100.
    #[schema(minimum = 0, maximum = 1000000)]
    priority: Option<i32>,
    /// Default true.
    enabled: Option<bool>,
    /// How conditions combine; default `all`.
    #[serde(rename = "match")]
    match_how: Option<Match>,
    /// When the rule runs; default `["created"]`.
    #[schema(min_items = 1, max_items = 3)]
    triggers: Option<Vec<Trigger>>,
    /// Default none: the rule matches every ticket.
    #[schema(schema_with = conditions_schema)]
    conditions: Option<Vec<Value>>,
    #[schema(schema_with = actions_schema)]
    actions: Vec<Value>,
}

/// Every field is optional; what is given replaces the rule's (conditions and actions whole).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulePatch {
    #[schema(schema_with = super::schema::nullable_subject)]
    name: Option<String>,
    #[schema(minimum = 0, maximum = 1000000)]
    priority: Option<i32>,
    enabled: Option<bool>,
    #[serde(rename = "match")]
    match_how: Option<Match>,
    #[schema(min_items = 1, max_items = 3)]
    triggers: Option<Vec<Trigger>>,
    #[schema(schema_with = conditions_schema)]
    conditions: Option<Vec<Value>>,
    #[schema(schema_with = nullable_actions_schema)]
    actions: Option<Vec<Value>>,
}

impl From<NewRule> for RulePatch {
    fn from(r: NewRule) -> Self {
        let NewRule { name, priority, enabled, match_how, triggers, conditions, actions } = r;
        Self { name: Some(name), priority, enabled, match_how, triggers, conditions, actions: Some(actions) }
    }
}

/// The body, checked, with the actions as parsed (for the reference checks).
fn parse(body: RulePatch) -> Result<(Fields, Vec<Action>), Problem> {
    let mut errors = Vec::new();
    let name = body.name.as_deref().and_then(|n| fields::subject("name", n).map_err(|e| errors.push(e)).ok());
    if body.priority.is_some_and(|p| !(0..=1_000_000).contains(&p)) {
        errors.push(FieldError::new("priority", "must be from 0 to 1000000"));
    }
    let triggers = body.triggers.map(|t| {
        let names: Vec<String> = t.iter().map(|t| t.as_str().to_owned()).collect();
        rules::parse_triggers(&names, &mut errors)
    });
    let conditions = body.conditions.map(|c| rules::parse_conditions(&c, &mut errors));
    let actions = body.actions.map(|a| rules::parse_actions(&a, &mut errors));
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let parsed = actions.clone().unwrap_or_default();
    let fields = Fields {
        name,
        priority: body.priority,
        enabled: body.enabled,
        match_how: body.match_how,
        triggers,
        conditions,
        actions: actions.map(|a| a.iter().map(ActionSpec::from).collect()),
    };
    Ok((fields, parsed))
}

/// Every user, team and article the actions name exists in the organization (users as agents
/// or above); asked before the transaction.
async fn check_references(state: &AppState, org: Uuid, actions: &[Action]) -> ApiResult<()> {
    let mut errors = Vec::new();
    let unavailable = |e: String| -> ApiError {
        tracing::warn!(error = %e, "identity lookup failed");
        Problem::unavailable("identity is unavailable, try again shortly").retry_after(2).into()
    };
    for (i, action) in actions.iter().enumerate() {
        match action {
            Action::AssignUser(user) => match state.directory.role(org, *user).await {
                Ok(role) if role >= Role::Agent => {}
                Ok(_) | Err(LookupError::NotFound) => errors
                    .push(FieldError::new(format!("actions[{i}].user_id"), "is not an agent of this organization")),
                Err(LookupError::Unavailable(e)) => return Err(unavailable(e)),
            },
            Action::AssignTeam(team) | Action::RoundRobin(team) => match state.directory.team(org, *team).await {
                Ok(_) => {}
                Err(LookupError::NotFound) => {
                    errors.push(FieldError::new(format!("actions[{i}].team_id"), "is not a team of this organization"))
                }
                Err(LookupError::Unavailable(e)) => return Err(unavailable(e)),
            },
            Action::ReplyWithArticle(article) => {
                let mut conn = state.pool.acquire().await?;
                if !articles::exists(&mut conn, org, *article).await? {
                    errors.push(FieldError::new(
                        format!("actions[{i}].article_id"),
                        "is not an article of this organization",
                    ));
                }
            }
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors).into())
    }
}

fn manager(p: &Principal) -> Result<(), Problem> {
    p.require_role(Role::Manager)
}

/// Create a rule (managers).
#[utoipa::path(
    post,
    operation_id = "create_rule",
    path = "/v1/rules",
    tag = "rules",
    request_body = NewRule,
    responses(
        (status = 201, description = "The rule", body = Rule),
        (status = 409, description = "The organization has the most rules it may have", body = platform::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<NewRule>,
) -> ApiResult<(StatusCode, Json<Rule>)> {
    can_write(&p)?;
    manager(&p)?;
    let (fields, actions) = parse(body.into())?;
    check_references(&state, p.org_id, &actions).await?;
    let mut tx = state.pool.begin().await?;
    if store::count_locked(&mut tx, p.org_id).await? >= store::MAX_RULES {
        return Err(Problem::conflict(format!("an organization has at most {} rules", store::MAX_RULES)).into());
    }
    let rule = store::insert(&mut tx, p.org_id, fields, p.user_id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

#[derive(Serialize, ToSchema)]
pub struct RuleList {
    /// Every rule, in evaluation order (priority, then age).
    data: Vec<Rule>,
}

/// The organization's rules (managers).
#[utoipa::path(
    get,
    operation_id = "list_rules",
    path = "/v1/rules",
    tag = "rules",
    responses((status = 200, description = "The rules", body = RuleList))
)]
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<RuleList>> {
    can_read(&p)?;
    manager(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(RuleList { data: store::list(&mut conn, p.org_id).await? }))
}

/// A rule (managers).
#[utoipa::path(
    get,
    operation_id = "get_rule",
    path = "/v1/rules/{id}",
    tag = "rules",
    params(("id" = Uuid, Path, description = "The rule's id")),
    responses((status = 200, description = "The rule", body = Rule))
)]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Rule>> {
    can_read(&p)?;
    manager(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(store::get(&mut conn, p.org_id, id).await?.ok_or_else(|| Problem::not_found("rule"))?))
}

/// Change a rule (managers).
#[utoipa::path(
    patch,
    operation_id = "update_rule",
    path = "/v1/rules/{id}",
    tag = "rules",
    params(("id" = Uuid, Path, description = "The rule's id")),
    request_body = RulePatch,
    responses((status = 200, description = "The rule after the change", body = Rule))
)]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<RulePatch>,
) -> ApiResult<Json<Rule>> {
    can_write(&p)?;
    manager(&p)?;
    let (fields, actions) = parse(body)?;
    check_references(&state, p.org_id, &actions).await?;
    let mut tx = state.pool.begin().await?;
    let rule = store::update(&mut tx, p.org_id, id, fields).await?.ok_or_else(|| Problem::not_found("rule"))?;
    tx.commit().await?;
    Ok(Json(rule))
}

/// Delete a rule (managers).
#[utoipa::path(
    delete,
    operation_id = "delete_rule",
    path = "/v1/rules/{id}",
    tag = "rules",
    params(("id" = Uuid, Path, description = "The rule's id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    can_write(&p)?;
    manager(&p)?;
    let mut conn = state.pool.acquire().await?;
    if !store::delete(&mut conn, p.org_id, id).await? {
        return Err(Problem::not_found("rule").into());
    }
    Ok(StatusCode::NO_CONTENT)
}
