//! Secrets at rest: AES-256-GCM with a key ring. Ciphertexts name their key (`v1:<key id>:`), so
//! keys rotate without downtime: new values use the first key, old ones still decrypt with
//! theirs. Each value is bound to its row by associated data, so a ciphertext copied to another
//! row does not decrypt. Nonces are random 96-bit.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

/// Development only: a well-known key ring, so a fresh checkout runs without configuration.
/// Production refuses to start without `SECRETS_KEYS` (`Env::production_secret`).
pub const DEVELOPMENT_KEYS: &str = "dev:c3dpdGNoYm9hcmQtZGV2ZWxvcG1lbnQta2V5LTMyYmI=";

/// The keys: the first encrypts, all decrypt.
pub struct KeyRing {
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("key_ids", &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>()).finish()
    }
}

impl KeyRing {
    /// Parses `id:base64key,id2:base64key2` (32-byte keys).
    pub fn parse(spec: &SecretString) -> Result<Self, String> {
        let mut keys = Vec::new();
        for part in spec.expose_secret().split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, b64) = part.split_once(':').ok_or("each key is id:base64")?;
            if id.is_empty() || id.contains(':') || id.len() > 32 {
                return Err("key ids are 1 to 32 characters without ':'".into());
            }
            let bytes = STANDARD.decode(b64).map_err(|_| format!("key {id} is not base64"))?;
            if bytes.len() != 32 {
                return Err(format!("key {id} must be 32 bytes"));
            }
            keys.push((id.to_owned(), Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes))));
        }
        if keys.is_empty() {
            return Err("at least one key is needed".into());
        }
        Ok(Self { keys })
    }

    /// `v1:<key id>:<base64(nonce ‖ ciphertext)>`, bound to `row`.
    pub fn encrypt(&self, plaintext: &str, row: &[u8]) -> anyhow::Result<String> {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: row })
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("v1:{id}:{}", STANDARD.encode(out)))
    }

    /// Whether `stored` was sealed with an older key than the one encrypting now (a rotation
    /// job re-encrypts such values).
    pub fn is_stale(&self, stored: &str) -> bool {
        let mut parts = stored.splitn(3, ':');
        !matches!((parts.next(), parts.next()), (Some("v1"), Some(id)) if id == self.keys[0].0)
    }

    /// The plaintext of a value `encrypt` made for `row`.
    pub fn decrypt(&self, stored: &str, row: &[u8]) -> anyhow::Result<String> {
        let mut parts = stored.splitn(3, ':');
        let (Some("v1"), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            anyhow::bail!("not an encrypted value");
        };
        let (_, cipher) = self.keys.iter().find(|(k, _)| k == id).ok_or_else(|| anyhow::anyhow!("unknown key {id}"))?;
        let bytes = STANDARD.decode(b64)?;
        anyhow::ensure!(bytes.len() > 12, "truncated value");
        let (nonce, sealed) = bytes.split_at(12);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: row })
            .map_err(|_| anyhow::anyhow!("the value does not decrypt with key {id}"))?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(spec: &str) -> KeyRing {
        KeyRing::parse(&SecretString::from(spec.to_owned())).unwrap()
    }

    #[test]
    fn values_round_trip_rotate_and_stay_bound_to_their_row() {
        let k1 = STANDARD.encode([1u8; 32]);
        let k2 = STANDARD.encode([2u8; 32]);
        let old = ring(&format!("a:{k1}"));
        let sealed = old.encrypt("whsec_secret", b"row-1").unwrap();
        assert!(sealed.starts_with("v1:a:") && !sealed.contains("whsec_secret"));
        assert_eq!(old.decrypt(&sealed, b"row-1").unwrap(), "whsec_secret");
        assert!(old.decrypt(&sealed, b"row-2").is_err(), "bound to its row");
        assert_ne!(old.encrypt("whsec_secret", b"row-1").unwrap(), sealed, "random nonces");
        // After rotation, new values use b and old ones still decrypt.
        let rotated = ring(&format!("b:{k2},a:{k1}"));
        assert_eq!(rotated.decrypt(&sealed, b"row-1").unwrap(), "whsec_secret");
        assert!(rotated.encrypt("x", b"r").unwrap().starts_with("v1:b:"));
        assert!(KeyRing::parse(&SecretString::from("a:short".to_owned())).is_err());
        assert!(format!("{rotated:?}").contains("\"b\"") && !format!("{rotated:?}").contains(&k2));
    }
}
