//! Sending mail over SMTP: `smtp://[user:password@]host[:port]` (plain, port 25 by default) or
//! `smtps://…` (implicit TLS, port 465 by default), with `AUTH PLAIN` when credentials are given.
//! Just enough of RFC 5321 for a relay; a failure is an error, so the command is retried and
//! finally parked, never lost.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proto::events::MailSend;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The longest one mail's SMTP conversation may take before it counts as failed (the sender's
/// lease on the mail must be longer).
pub const SEND_LIMIT: Duration = Duration::from_secs(60);

/// Where and as whom mail is sent.
#[derive(Debug, Clone)]
pub struct Smtp {
    host: String,
    port: u16,
    tls: bool,
    credentials: Option<(String, SecretString)>,
    from: String,
}

impl Smtp {
    pub fn parse(url: &str, from: &str) -> anyhow::Result<Self> {
        let u = url::Url::parse(url).context("SMTP_URL is not a URL")?;
        let tls = match u.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => bail!("SMTP_URL scheme {other:?}: use smtp:// or smtps://"),
        };
        let host = u.host_str().context("SMTP_URL has no host")?.to_owned();
        let port = u.port().unwrap_or(if tls { 465 } else { 25 });
        let credentials = (!u.username().is_empty()).then(|| {
            let decode =
                |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
            (
                decode(u.username()).unwrap_or_default(),
                SecretString::from(decode(u.password().unwrap_or_default()).unwrap_or_default()),
            )
        });
        Ok(Self { host, port, tls, credentials, from: from.to_owned() })
    }

    /// Sends one mail within [`SEND_LIMIT`]; `Ok` once the server accepted it.
    pub async fn send(&self, mail: &MailSend) -> anyhow::Result<()> {
        tokio::time::timeout(SEND_LIMIT, self.send_unbounded(mail))
            .await
            .map_err(|_| anyhow::anyhow!("the SMTP conversation took longer than {} s", SEND_LIMIT.as_secs()))?
    }

    async fn send_unbounded(&self, mail: &MailSend) -> anyhow::Result<()> {
        for field in [&mail.to, &mail.subject] {
            if field.contains(['\r', '\n']) {
                bail!("a mail header may not contain a line break");
            }
        }
        let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect((self.host.as_str(), self.port)))
            .await
            .context("connecting to the SMTP server timed out")??;
        if self.tls {
            let mut roots = tokio_rustls::rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
                tokio_rustls::rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(self.host.clone())?;
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await?;
            self.dialogue(stream, mail).await
        } else {
            self.dialogue(tcp, mail).await
        }
    }

    async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(&self, stream: S, mail: &MailSend) -> anyhow::Result<()> {
        let mut s = BufReader::new(stream);
        expect(&mut s, 220).await?;
        command(&mut s, "EHLO switchboard\r\n", 250).await?;
        if let Some((user, password)) = &self.credentials {
            let token = STANDARD.encode(format!("\0{user}\0{}", password.expose_secret()));
            command(&mut s, &format!("AUTH PLAIN {token}\r\n"), 235).await?;
        }
        command(&mut s, &format!("MAIL FROM:<{}>\r\n", address(&self.from)), 250).await?;
        command(&mut s, &format!("RCPT TO:<{}>\r\n", mail.to), 250).await?;
        command(&mut s, "DATA\r\n", 354).await?;
        let message = render(&self.from, mail);
        s.get_mut().write_all(message.as_bytes()).await?;
        command(&mut s, "\r\n.\r\n", 250).await?;
        let _ = command(&mut s, "QUIT\r\n", 221).await;
        Ok(())
    }
}

/// The address part of `Name <address>`.
fn address(from: &str) -> &str {
    from.rsplit_once('<').map(|(_, a)| a.trim_end_matches('>')).unwrap_or(from).trim()
}

/// A plain-text message: headers, the template's words, the link; lines dot-stuffed.
pub fn render(from: &str, mail: &MailSend) -> String {
    let intro = match mail.template.as_str() {
        "email_verification" => "Please confirm your email address by opening this link:",
        "password_reset" => "Someone asked to reset your password. If it was you, open this link (it works once):",
        "invitation" => "You have been invited to join an organization on Switchboard. Accept here:",
        _ => "",
    };
    let body = format!("{intro}\r\n\r\n{}\r\n", mail.link.as_deref().unwrap_or(""));
    let stuffed: String = body
        .split("\r\n")
        .map(|l| if l.starts_with('.') { format!(".{l}") } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\r\n");
    format!(
        "From: {from}\r\nTo: <{}>\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}@switchboard>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{stuffed}",
        mail.to,
        mail.subject,
        chrono::Utc::now().to_rfc2822(),
        uuid::Uuid::now_v7()
    )
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(s: &mut BufReader<S>, line: &str, code: u16) -> anyhow::Result<()> {
    s.get_mut().write_all(line.as_bytes()).await?;
    s.get_mut().flush().await?;
    expect(s, code).await
}

/// Reads a (possibly multi-line) reply and checks its code.
async fn expect<S: AsyncRead + Unpin>(s: &mut BufReader<S>, code: u16) -> anyhow::Result<()> {
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(30), s.read_line(&mut line))
            .await
            .context("SMTP server silent")??;
        if n == 0 {
            bail!("SMTP server closed the connection");
        }
        let got: u16 = line.get(..3).and_then(|c| c.parse().ok()).context("malformed SMTP reply")?;
        if line.as_bytes().get(3) == Some(&b'-') {
            continue;
        }
        if got != code {
            bail!("SMTP server answered {}", line.trim_end());
        }
        return Ok(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_messages() {
        let s = Smtp::parse("smtps://me%40x.io:p%40ss@mail.example.com", "Switchboard <no-reply@example.com>").unwrap();
        assert_eq!((s.port, s.tls), (465, true));
        let (user, password) = s.credentials.clone().unwrap();
        assert_eq!((user.as_str(), password.expose_secret()), ("me@x.io", "p@ss"));
        assert!(!format!("{s:?}").contains("p@ss"), "the password never prints");
        assert!(Smtp::parse("http://x", "a@b").is_err());
        let m = MailSend {
            to: "ada@example.com".into(),
            template: "password_reset".into(),
            subject: "Reset".into(),
            link: Some("http://x/reset?token=abc".into()),
            link_expires_at: None,
            variables: Default::default(),
        };
        let text = render("a@b", &m);
        assert!(text.contains("Subject: Reset\r\n") && text.contains("token=abc"));
        assert_eq!(address("Switchboard <no-reply@example.com>"), "no-reply@example.com");
    }
}
