//! The command stream's consumers: `notify.send` into per-user notifications, `mail.send` into
//! the outgoing mail queue (sent by [`crate::mailer`]) or, in development, the mailbox. Neither
//! does network I/O inside the consumer's transaction. A command that cannot be carried out is
//! retried and then parked in the dead-letter table, never dropped.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use platform::bus::CloudEvent;
use platform::consumer::{Delivery, Handler};
use proto::events::{MailSend, NotifySend};
use sqlx::PgConnection;

use crate::store;

pub struct Notifications;

impl Handler for Notifications {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let command: CloudEvent<NotifySend> = serde_json::from_slice(&d.payload)?;
            // When it happened, not when this replica got to it: commands are handled concurrently.
            store::notifications::insert_many(tx, &command.data, command.time).await?;
            Ok(())
        })
    }
}

pub struct Mail {
    pub dev_mailbox: bool,
    /// Whether SMTP is configured; the mail itself is sent by the mailer, after this commits.
    pub smtp: bool,
}

impl Handler for Mail {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let command: CloudEvent<MailSend> = serde_json::from_slice(&d.payload)?;
            if self.dev_mailbox {
                store::notifications::keep_mail(tx, command.orgid, &command.data).await?;
                return Ok(());
            }
            if !self.smtp {
                anyhow::bail!("no SMTP_URL and no development mailbox: the mail cannot be sent");
            }
            let raw: serde_json::Value = serde_json::from_slice(&d.payload)?;
            store::mail::enqueue(tx, d.event_id, command.orgid, &raw, command.data.link_expires_at).await?;
            Ok(())
        })
    }

    /// A parked mail with a one-time link is useless, and a secret at rest, once the link expires.
    fn dead_letter_expires_at(&self, d: &Delivery) -> Option<DateTime<Utc>> {
        serde_json::from_slice::<CloudEvent<MailSend>>(&d.payload).ok()?.data.link_expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_mail_expires_with_its_link() {
        let expires = Utc::now() + chrono::Duration::minutes(30);
        let mail = MailSend {
            to: "ada@example.com".into(),
            template: "password_reset".into(),
            subject: "Reset".into(),
            link: Some("http://x/reset?token=t".into()),
            link_expires_at: Some(expires),
            variables: Default::default(),
        };
        let event = CloudEvent::new("switchboard/test", "mail.send", None, None, mail);
        let delivery = |payload: Vec<u8>| Delivery {
            subject: "mail.send".into(),
            event_id: event.id,
            payload: payload.into(),
            attempt: 1,
        };
        let handler = Mail { dev_mailbox: false, smtp: true };
        let d = delivery(serde_json::to_vec(&event).unwrap());
        assert_eq!(handler.dead_letter_expires_at(&d), Some(expires));
        assert_eq!(handler.dead_letter_expires_at(&delivery(b"not json".to_vec())), None);
    }
}
