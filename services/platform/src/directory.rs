//! What services ask identity about people, over gRPC with the service token: a member's role
//! (an assignee must be an agent or above), who is staff now (private notifications) and whether
//! a team exists (with its members). Ask before the transaction that uses the answer, never
//! inside it.

use std::collections::HashSet;
use std::time::Duration;

use proto::identity::identity_client::IdentityClient;
use proto::identity::{GetTeamRequest, GetUserRequest, ListMembersRequest};
use uuid::Uuid;

use crate::auth::Role;
use crate::grpc::ServiceToken;
use crate::{FieldError, Problem};

/// The roles that see private posts and internal notes.
const STAFF_ROLES: [Role; 4] = [Role::Agent, Role::Manager, Role::Admin, Role::Owner];
/// Pages of staff read at most: 50 × 500 members; past that, fail closed.
const MAX_PAGES: usize = 50;

#[derive(Clone)]
pub struct Directory {
    client: IdentityClient<tonic::transport::Channel>,
    token: ServiceToken,
}

/// Why a lookup did not answer.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("not found in this organization")]
    NotFound,
    #[error("identity did not answer: {0}")]
    Unavailable(String),
}

/// A team as identity has it.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    pub members: Vec<Uuid>,
}

impl Directory {
    /// Connects lazily: a service starts while identity is down.
    pub fn new(url: &str, token: ServiceToken) -> anyhow::Result<Self> {
        let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .connect_lazy();
        Ok(Self { client: IdentityClient::new(channel), token })
    }

    fn request<T>(&self, body: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(body);
        self.token.attach(&mut request);
        crate::grpc::inject_trace(&mut request);
        request
    }

    /// `user`'s current role in `org`.
    pub async fn role(&self, org: Uuid, user: Uuid) -> Result<Role, LookupError> {
        let request = self.request(GetUserRequest { organization_id: org.to_string(), user_id: user.to_string() });
        match self.client.clone().get_user(request).await {
            Ok(u) => u.into_inner().role.parse().map_err(LookupError::Unavailable),
            Err(s) if s.code() == tonic::Code::NotFound => Err(LookupError::NotFound),
            Err(s) => Err(LookupError::Unavailable(s.code().to_string())),
        }
    }

    /// The team `team` of `org`, with its members.
    pub async fn team(&self, org: Uuid, team: Uuid) -> Result<Team, LookupError> {
        let request = self.request(GetTeamRequest { organization_id: org.to_string(), team_id: team.to_string() });
        match self.client.clone().get_team(request).await {
            Ok(t) => {
                let t = t.into_inner();
                Ok(Team {
                    id: team,
                    name: t.name,
                    members: t.member_user_ids.iter().filter_map(|m| m.parse().ok()).collect(),
                })
            }
            Err(s) if s.code() == tonic::Code::NotFound || s.code() == tonic::Code::InvalidArgument => {
                Err(LookupError::NotFound)
            }
            Err(s) => Err(LookupError::Unavailable(s.code().to_string())),
        }
    }

    /// The members of `org` who are agents or above now.
    pub async fn staff(&self, org: Uuid) -> Result<HashSet<Uuid>, LookupError> {
        let mut staff = HashSet::new();
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let request = self.request(ListMembersRequest {
                organization_id: org.to_string(),
                limit: 500,
                cursor: cursor.clone(),
                roles: STAFF_ROLES.iter().map(|r| r.as_str().to_owned()).collect(),
            });
            let page = self
                .client
                .clone()
                .list_members(request)
                .await
                .map_err(|s| LookupError::Unavailable(s.code().to_string()))?
                .into_inner();
            for m in page.members {
                // Trust the answer only as far as it goes: a role we cannot read is not staff.
                let staff_role = m.role.parse::<Role>().is_ok_and(|r| r >= Role::Agent);
                if let (true, Ok(id)) = (staff_role, m.id.parse()) {
                    staff.insert(id);
                }
            }
            if page.next_cursor.is_empty() {
                return Ok(staff);
            }
            cursor = page.next_cursor;
        }
        Err(LookupError::Unavailable("too many staff members to list".into()))
    }

    /// `Ok` when `user` is a member of `org` with role `min` or higher; otherwise the 422 naming
    /// `field` that a request with that user in it answers, or a 503 when identity cannot tell.
    pub async fn require_member(&self, org: Uuid, user: Uuid, min: Role, field: &str) -> Result<(), Problem> {
        match self.role(org, user).await {
            Ok(role) if role >= min => Ok(()),
            Ok(_) => Err(Problem::validation(vec![FieldError::new(
                field,
                format!("must have the {} role or higher", min.as_str()),
            )])),
            Err(LookupError::NotFound) => {
                Err(Problem::validation(vec![FieldError::new(field, "is not a member of this organization")]))
            }
            Err(LookupError::Unavailable(why)) => {
                tracing::warn!(%org, %why, "cannot check a member");
                Err(Problem::unavailable("could not check the member, try again shortly").retry_after(1))
            }
        }
    }
}
