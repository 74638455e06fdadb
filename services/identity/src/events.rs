//! Identity's events and mail commands, written to the outbox in the caller's transaction.

use platform::bus::{CloudEvent, MAIL_SEND};
use proto::events::MailSend;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

const SOURCE: &str = "switchboard/identity";

/// Emits `event_type` with `data` about organization `org`.
pub async fn emit<T: Serialize>(
    conn: &mut PgConnection,
    event_type: &str,
    org: Option<Uuid>,
    subject: Uuid,
    data: T,
) -> anyhow::Result<()> {
    let event = CloudEvent::new(SOURCE, event_type, org, Some(subject.to_string()), data);
    platform::outbox::emit(conn, &event).await?;
    Ok(())
}

/// Queues an email on `mail.send` (the command stream, never `events.>`).
pub async fn send_mail(conn: &mut PgConnection, org: Option<Uuid>, mail: MailSend) -> anyhow::Result<()> {
    let command = CloudEvent::new(SOURCE, proto::events::MAIL_SEND, org, None, mail);
    platform::outbox::enqueue(conn, MAIL_SEND, &command).await?;
    Ok(())
}

/// `identity.user.created` for a new account.
pub async fn user_created(conn: &mut PgConnection, user: &crate::store::User) -> anyhow::Result<()> {
    let data = proto::events::UserCreated { user_id: user.id, email: user.email.clone(), name: user.name.clone() };
    emit(conn, proto::events::USER_CREATED, None, user.id, data).await
}

/// `identity.member.added` for `user` joining `org` as `role`.
pub async fn member_added(
    conn: &mut PgConnection,
    org: Uuid,
    user: Uuid,
    role: platform::auth::Role,
) -> anyhow::Result<()> {
    let data = proto::events::MemberAdded { organization_id: org, user_id: user, role: role.as_str().to_owned() };
    emit(conn, proto::events::MEMBER_ADDED, Some(org), user, data).await
}

/// `identity.team.member_removed`.
pub async fn team_member_removed(
    conn: &mut PgConnection,
    org: Uuid,
    team: Uuid,
    user: Uuid,
    actor: Option<Uuid>,
) -> anyhow::Result<()> {
    let data = proto::events::TeamMemberRemoved { team_id: team, organization_id: org, user_id: user, actor_id: actor };
    emit(conn, proto::events::TEAM_MEMBER_REMOVED, Some(org), team, data).await
}

/// `identity.invitation.cancelled` (`reason`: `cancelled` or `replaced`).
pub async fn invitation_cancelled(
    conn: &mut PgConnection,
    org: Uuid,
    invitation: &crate::store::invitations::Invitation,
    reason: &str,
    actor: Option<Uuid>,
) -> anyhow::Result<()> {
    let data = proto::events::InvitationCancelled {
        invitation_id: invitation.id,
        organization_id: org,
        email: invitation.email.clone(),
        role: invitation.role.clone(),
        reason: reason.to_owned(),
        actor_id: actor,
    };
    emit(conn, proto::events::INVITATION_CANCELLED, Some(org), invitation.id, data).await
}
