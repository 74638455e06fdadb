//! Identity's gRPC server: `Authenticate` (uncached: callers cache) and directory lookups, for
//! our own services only: every call must carry the service token.

use platform::auth::{AuthFailure, Authenticator};
use platform::grpc::ServiceToken;
use proto::identity as pb;
use proto::identity::identity_server::{Identity, IdentityServer};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::store::directory::{self, Unit};
use crate::store::members;
use crate::AppState;

pub const SERVICE_NAME: &str = "switchboard.identity.v1.Identity";

/// The identity service behind the service-token check (health and reflection stay open).
pub fn routes(state: AppState, token: &ServiceToken) -> tonic::service::Routes {
    tonic::service::Routes::new(IdentityServer::with_interceptor(IdentityGrpc { state }, token.interceptor()))
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

fn user(m: members::Member) -> pb::User {
    pb::User { id: m.user_id.to_string(), email: m.email, name: m.name, email_verified: m.email_verified, role: m.role }
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
        let id = uuid("user_id", &r.user_id)?;
        let mut conn = self.state.pool.acquire().await.map_err(internal)?;
        let member = members::find(&mut conn, org, id).await.map_err(internal)?;
        Ok(Response::new(user(member.ok_or_else(|| Status::not_found("user not found"))?)))
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
        let page = members::page(&mut conn, org, &r.roles, limit, cursor).await.map_err(internal)?;
        Ok(Response::new(pb::ListMembersResponse {
            members: page.data.into_iter().map(user).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    async fn get_team(&self, request: Request<pb::GetTeamRequest>) -> Result<Response<pb::Team>, Status> {
        let r = request.into_inner();
        let org = uuid("organization_id", &r.organization_id)?;
        let team = uuid("team_id", &r.team_id)?;
        let mut conn = self.state.pool.acquire().await.map_err(internal)?;
        let view = directory::find(&mut conn, org, Unit::Team, team, false)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found("team not found"))?;
        Ok(Response::new(pb::Team {
            id: view.id.to_string(),
            name: view.name,
            description: view.description.unwrap_or_default(),
            member_user_ids: view.members.unwrap_or_default().into_iter().map(|m| m.user_id.to_string()).collect(),
        }))
    }
}
