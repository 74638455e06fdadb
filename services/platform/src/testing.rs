//! Test support: a fresh database per test and a unique NATS prefix per test.

use secrecy::SecretString;
use sqlx::{Connection, Executor, PgConnection};

/// The server tests create their databases on (`TEST_DATABASE_URL`, default local trust auth).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The NATS server tests use (`TEST_NATS_URL`, default local).
pub fn nats_url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// Creates an empty database named after `label` and returns its URL.
pub async fn fresh_database(label: &str) -> anyhow::Result<SecretString> {
    let admin = admin_url();
    let name = format!("test_{}_{}", label.replace('-', "_"), uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await?;
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await?;
    conn.close().await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
    Ok(SecretString::from(format!("{base}/{name}")))
}

/// A NATS prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// A NATS server (JetStream, a temporary store) of one test's own, which the test can kill and
/// start again on the same port and store to play an outage.
pub struct PrivateNats {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<tokio::process::Child>,
}

impl PrivateNats {
    /// Starts it on a free port and waits until it accepts connections.
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("nats-{}", uuid::Uuid::new_v4().simple()));
        let mut nats = Self { port, dir, child: None };
        nats.resume().await?;
        Ok(nats)
    }

    /// Starts it again (same port and store) after [`PrivateNats::kill`].
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = tokio::process::Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "the private nats-server did not start");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// SIGKILL: no goodbye to the clients.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
            child.wait().await?;
        }
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
