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

/// Walks a service's own OpenAPI document (served at `base` + `/openapi.json`) rather than a
/// list kept by hand, so a route added later is covered: every operation is documented as
/// public exactly when `public(METHOD, template)` says so, and every other one documents its
/// 401 and answers it — with `WWW-Authenticate: Bearer` and problem+json — to no credential, a
/// bogus access token and a bogus API key. Path parameters get their enum's first value, `1`
/// for an integer, `plain` for a string without format when given, else a fresh UUID. Fails
/// unless more than `at_least` operations were walked.
pub async fn assert_every_secured_operation_needs_a_credential(
    http: &reqwest::Client,
    base: &str,
    public: impl Fn(&str, &str) -> bool,
    plain: Option<&str>,
    at_least: usize,
) {
    use reqwest::{Method, StatusCode};
    let r = http.get(format!("{base}/openapi.json")).send().await.expect("the document");
    assert_eq!(r.status(), StatusCode::OK);
    let doc: serde_json::Value = r.json().await.expect("a JSON document");
    let mut walked = 0;
    for (template, item) in doc["paths"].as_object().expect("the document lists paths") {
        for method in ["get", "put", "post", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let security = op.get("security").unwrap_or(&doc["security"]);
            // Missing, empty, or offering the empty requirement `{}`: no credential needed.
            let authenticated = security.as_array().is_some_and(|alternatives| {
                !alternatives.is_empty() && alternatives.iter().all(|a| a.as_object().is_some_and(|o| !o.is_empty()))
            });
            assert_eq!(
                !authenticated,
                public(method.as_str(), template),
                "{method} {template}: documented as public exactly when listed as public"
            );
            if !authenticated {
                continue;
            }
            assert!(op["responses"].get("401").is_some(), "{method} {template} documents its 401");
            let path = fill_path(template, |name| path_stand_in(&doc, item, op, name, plain));
            for token in [None, Some("sbat_not-a-real-token"), Some("sbk_not-a-real-key")] {
                let mut req = http.request(method.clone(), format!("{base}{path}"));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                if [Method::POST, Method::PUT, Method::PATCH].contains(&method) {
                    req = req.json(&serde_json::json!({}));
                }
                let r = req.send().await.expect("an answer");
                let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path} with {token:?}");
                assert_eq!(header("www-authenticate").as_deref(), Some("Bearer"), "{method} {path} with {token:?}");
                assert_eq!(header("content-type").as_deref(), Some("application/problem+json"), "{method} {path}");
                let problem: serde_json::Value = r.json().await.expect("a problem");
                assert_eq!(problem["status"], 401, "{method} {path}: {problem}");
            }
            walked += 1;
        }
    }
    assert!(walked > at_least, "only {walked} operations walked: is the document served whole?");
}

/// A value for path parameter `name` of operation `op` (see the walk above).
fn path_stand_in(
    doc: &serde_json::Value,
    item: &serde_json::Value,
    op: &serde_json::Value,
    name: &str,
    plain: Option<&str>,
) -> String {
    let declared = op["parameters"]
        .as_array()
        .into_iter()
        .chain(item["parameters"].as_array())
        .flatten()
        .find(|p| p["in"] == "path" && p["name"] == name);
    // The schema, or what its `$ref` names.
    let schema = declared.map(|p| {
        let s = &p["schema"];
        s["$ref"].as_str().and_then(|r| r.strip_prefix('#')).and_then(|at| doc.pointer(at)).unwrap_or(s)
    });
    if let Some(first) = schema.and_then(|s| s["enum"].as_array()).and_then(|e| e.first()).and_then(|v| v.as_str()) {
        return first.to_owned();
    }
    match (schema.and_then(|s| s["type"].as_str()), schema.and_then(|s| s["format"].as_str()), plain) {
        (Some("integer"), _, _) => "1".to_owned(),
        (Some("string"), None, Some(plain)) => plain.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// `template` with each `{name}` replaced by `value(name)`.
fn fill_path(template: &str, mut value: impl FnMut(&str) -> String) -> String {
    let (mut out, mut rest) = (String::new(), template);
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}').expect("a closed path parameter");
        out.push_str(&rest[..open]);
        out.push_str(&value(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}
