//! The command stream's consumers: `notify.send` into per-user notifications, `mail.send` to
//! SMTP or, in development, to the mailbox. A command that cannot be carried out is retried and
//! then parked in the dead-letter table, never dropped.

use futures::future::BoxFuture;
use platform::bus::CloudEvent;
use platform::consumer::{Delivery, Handler};
use proto::events::{MailSend, NotifySend};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct Notifications;

impl Handler for Notifications {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let command: CloudEvent<NotifySend> = serde_json::from_slice(&d.payload)?;
            let n = command.data;
            let ids: Vec<Uuid> = n.recipients.iter().map(|_| Uuid::now_v7()).collect();
            sqlx::query(
                "INSERT INTO notifications (id, organization_id, user_id, title, body, link, reason, created_at) \
                 SELECT id, $3, user_id, $4, $5, $6, $7, $8 FROM unnest($1::uuid[], $2::uuid[]) AS r(id, user_id)",
            )
            .bind(&ids)
            .bind(&n.recipients)
            .bind(n.organization_id)
            .bind(&n.title)
            .bind(&n.body)
            .bind(&n.link)
            .bind(&n.reason)
            // When it happened, not when this replica got to it: commands are handled concurrently.
            .bind(command.time)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }
}

pub struct Mail {
    pub dev_mailbox: bool,
    pub smtp: Option<crate::smtp::Smtp>,
}

impl Handler for Mail {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let command: CloudEvent<MailSend> = serde_json::from_slice(&d.payload)?;
            let m = command.data;
            if self.dev_mailbox {
                sqlx::query(
                    "INSERT INTO mailbox (id, organization_id, recipient, template, subject, link, variables) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(Uuid::now_v7())
                .bind(command.orgid)
                .bind(&m.to)
                .bind(&m.template)
                .bind(&m.subject)
                .bind(&m.link)
                .bind(serde_json::Value::Object(m.variables))
                .execute(&mut *tx)
                .await?;
                return Ok(());
            }
            match &self.smtp {
                Some(smtp) => smtp.send(&m).await,
                None => anyhow::bail!("no SMTP_URL and no development mailbox: the mail cannot be sent"),
            }
        })
    }
}
