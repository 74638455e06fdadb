//! Inbound signatures, checked over the raw bytes of the body (never re-serialized JSON) in
//! constant time.
//!
//! - Meta (WhatsApp, Messenger, Instagram): `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app
//!   secret, body)>`.
//! - TikTok: `TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256(client secret, "t.body")>`,
//!   refused outside a replay window around now.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How far a TikTok signature's timestamp may be from now, either way.
pub const TIKTOK_TOLERANCE_SECS: i64 = 300;

fn mac(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn same(expected: &[u8; 32], given_hex: &str) -> bool {
    let Ok(given) = hex::decode(given_hex.trim()) else { return false };
    given.len() == 32 && bool::from(expected.ct_eq(&given[..]))
}

/// Whether `header` (`sha256=…`) signs `body` with one of `secrets`.
pub fn meta_valid(secrets: &[&[u8]], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else { return false };
    secrets.iter().any(|s| !s.is_empty() && same(&mac(s, &[body]), hex))
}

/// The header Meta would send for `body` (tests and the load generator sign with it).
pub fn meta_sign(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, &[body])))
}

/// Why a TikTok signature was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TiktokRefusal {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

/// Checks `TikTok-Signature` over `t.body` with `secret`, within the replay window of `now`.
pub fn tiktok_check(secret: &[u8], body: &[u8], header: Option<&str>, now: DateTime<Utc>) -> Result<(), TiktokRefusal> {
    let header = header.ok_or(TiktokRefusal::Missing)?;
    let (mut t, mut s) = (None, None);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.trim()),
            Some(("s", v)) => s = Some(v.trim()),
            _ => {}
        }
    }
    let (Some(t), Some(s)) = (t, s) else { return Err(TiktokRefusal::Malformed) };
    let at: i64 = t.parse().map_err(|_| TiktokRefusal::Malformed)?;
    if (now.timestamp() - at).abs() > TIKTOK_TOLERANCE_SECS {
        return Err(TiktokRefusal::Stale);
    }
    if secret.is_empty() || !same(&mac(secret, &[t.as_bytes(), b".", body]), s) {
        return Err(TiktokRefusal::Mismatch);
    }
    Ok(())
}

/// The header TikTok would send for `body` at `t`.
pub fn tiktok_sign(secret: &[u8], body: &[u8], t: i64) -> String {
    let t = t.to_string();
    format!("t={t},s={}", hex::encode(mac(secret, &[t.as_bytes(), b".", body])))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/platforms");
    const META_SECRET: &[u8] = b"test_meta_app_secret_0123456789ab";
    const TIKTOK_SECRET: &[u8] = b"test_tiktok_client_secret_abcdef";

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
    }

    fn manifest_header(file: &str, header: &str) -> String {
        let m: serde_json::Value = serde_json::from_slice(&fixture("manifest.json")).unwrap();
        let f = m["files"].as_array().unwrap().iter().find(|f| f["file"] == file).unwrap();
        f["headers"][header].as_str().unwrap().to_owned()
    }

    #[test]
    fn metas_own_signatures_verify_and_anything_else_does_not() {
        for file in [
            "whatsapp/inbound_text.json",
            "whatsapp/inbound_image.json",
            "whatsapp/status_sent.json",
            "whatsapp/status_delivered.json",
            "messenger/inbound_text.json",
        ] {
            let body = fixture(file);
            let header = manifest_header(file, "X-Hub-Signature-256");
            assert!(meta_valid(&[META_SECRET], &body, Some(&header)), "{file}");
            assert_eq!(meta_sign(META_SECRET, &body), header);
            // Another secret among several still finds the right one.
            assert!(meta_valid(&[b"old", META_SECRET], &body, Some(&header)));
            assert!(!meta_valid(&[b"wrong"], &body, Some(&header)));
            assert!(!meta_valid(&[META_SECRET], &body, None));
            assert!(!meta_valid(&[META_SECRET], &body, Some(header.trim_start_matches("sha256="))));
            // Re-serialized JSON is other bytes: refused.
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let again = serde_json::to_vec(&v).unwrap();
            assert_ne!(again, body, "{file} re-serializes differently");
            assert!(!meta_valid(&[META_SECRET], &again, Some(&header)));
        }
        assert!(!meta_valid(&[b""], b"{}", Some(&meta_sign(b"", b"{}"))), "an empty secret never verifies");
    }

    #[test]
    fn tiktoks_signature_verifies_inside_its_window_only() {
        let body = fixture("tiktok/im_receive_msg.json");
        let header = manifest_header("tiktok/im_receive_msg.json", "TikTok-Signature");
        let at = DateTime::from_timestamp(1_749_416_900, 0).unwrap();
        assert_eq!(tiktok_check(TIKTOK_SECRET, &body, Some(&header), at), Ok(()));
        assert_eq!(tiktok_sign(TIKTOK_SECRET, &body, 1_749_416_900), header);
        let late = at + chrono::Duration::seconds(TIKTOK_TOLERANCE_SECS + 1);
        assert_eq!(tiktok_check(TIKTOK_SECRET, &body, Some(&header), late), Err(TiktokRefusal::Stale));
        assert_eq!(tiktok_check(b"wrong", &body, Some(&header), at), Err(TiktokRefusal::Mismatch));
        assert_eq!(tiktok_check(TIKTOK_SECRET, &body, None, at), Err(TiktokRefusal::Missing));
        assert_eq!(tiktok_check(TIKTOK_SECRET, &body, Some("s=abc"), at), Err(TiktokRefusal::Malformed));
        let mut changed = body.clone();
        changed.push(b' ');
        assert_eq!(tiktok_check(TIKTOK_SECRET, &changed, Some(&header), at), Err(TiktokRefusal::Mismatch));
    }
}
