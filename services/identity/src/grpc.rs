//! Identity's gRPC server: `Authenticate` (uncached: callers cache) and directory lookups.

use platform::auth::{AuthFailure, Authenticator};
use proto::identity as pb;
use proto::identity::identity_server::{Identity, IdentityServer};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::AppState;

pub const SERVICE_NAME: &str = "switchboard.identity.v1.Identity";

pub fn server(state: AppState) -> IdentityServer<IdentityGrpc> {
    IdentityServer::new(IdentityGrpc { state })
}

pub struct IdentityGrpc {
    state: AppState,
}

fn uuid(field: &str, raw: &str) -> Result<Uuid, Status> {
    raw.parse().map_err(|_| Status::invalid_argument(format!("{field} is not a UUID")))
}

fn internal(err: impl std::fmt::Display) -> Status {
    tracing::error!(error = %err, "gRPC handler failed");
    Status::internal("internal error")
}

#[tonic::async_trait]
impl Identity for IdentityGrpc {
    async fn authenticate(&self, request: Request<pb::AuthenticateRequest>) -> Result<Response<pb::Principal>, Status> {
        let credential = request.into_inner().credential;
        match self.state.authn.authenticate(&credential).await {
            Ok(p) => Ok(Response::new(platform::auth::principal_to_proto(&p))),
            Err(AuthFailure::Invalid) => Err(Status::unauthenticated("invalid credential")),
            Err(AuthFailure::Unavailable(err)) => Err(internal(err)),
        }
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Result<Response<pb::User>, Status> {
        let r = request.into_inner();
        let org = uuid("organization_id", &r.organization_id)?;
        let user = uuid("user_id", &r.user_id)?;
        let row: Option<(Uuid, String, String, bool, String)> = sqlx::query_as(
            "SELECT u.id, u.email, u.name, u.email_verified, m.role FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.organization_id = $1 AND m.user_id = $2",
        )
        .bind(org)
        .bind(user)
        .fetch_optional(&self.state.pool)
        .await
        .map_err(internal)?;
        let (id, email, name, email_verified, role) = row.ok_or_else(|| Status::not_found("user not found"))?;
        Ok(Response::new(pb::User { id: id.to_string(), email, name, email_verified, role }))
    }

    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::ListMembersResponse>, Status> {
        let r = request.into_inner();
        let org = uuid("organization_id", &r.organization_id)?;
        let limit = i64::from(if r.limit == 0 { 100 } else { r.limit.min(500) });
        let cursor = if r.cursor.is_empty() {
            None
        } else {
            Some(platform::pagination::Cursor::decode(&r.cursor).map_err(|_| Status::invalid_argument("bad cursor"))?)
        };
        let mut conn = self.state.pool.acquire().await.map_err(internal)?;
        let page = crate::http::members_page(&mut conn, org, &r.roles, limit, cursor).await.map_err(internal)?;
        Ok(Response::new(pb::ListMembersResponse {
            members: page
                .data
                .into_iter()
                .map(|m| pb::User {
                    id: m.user_id.to_string(),
                    email: m.email,
                    name: m.name,
                    email_verified: false,
                    role: m.role,
                })
                .collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    async fn get_team(&self, request: Request<pb::GetTeamRequest>) -> Result<Response<pb::Team>, Status> {
        let r = request.into_inner();
        let org = uuid("organization_id", &r.organization_id)?;
        let team = uuid("team_id", &r.team_id)?;
        let row: Option<(Uuid, String, Option<String>)> =
            sqlx::query_as("SELECT id, name, description FROM teams WHERE id = $1 AND organization_id = $2")
                .bind(team)
                .bind(org)
                .fetch_optional(&self.state.pool)
                .await
                .map_err(internal)?;
        let (id, name, description) = row.ok_or_else(|| Status::not_found("team not found"))?;
        let members: Vec<Uuid> =
            sqlx::query_scalar("SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY joined_at")
                .bind(id)
                .fetch_all(&self.state.pool)
                .await
                .map_err(internal)?;
        Ok(Response::new(pb::Team {
            id: id.to_string(),
            name,
            description: description.unwrap_or_default(),
            member_user_ids: members.into_iter().map(|m| m.to_string()).collect(),
        }))
    }
}
