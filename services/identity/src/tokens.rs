//! Credentials: high-entropy random strings with a recognizable prefix, stored only as SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const ACCESS_PREFIX: &str = "sbat_";
pub const REFRESH_PREFIX: &str = "sbrt_";
pub const API_KEY_PREFIX: &str = "sbk_";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Random base62 characters of an API key (~178 bits).
const API_KEY_RANDOM_LEN: usize = 30;
/// Characters of an API key shown in listings.
pub const API_KEY_DISPLAY_LEN: usize = 12;

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A token with 256 bits of entropy and the given prefix.
pub fn new_token(prefix: &str) -> String {
    format!("{prefix}{}", random_b64(32))
}

/// The stored form of any credential.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn base62(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A new API key: `sbk_` + 30 random base62 characters + a 6-character CRC32 checksum, so a
/// mistyped key is refused without a database lookup and secret scanners can recognise it.
pub fn new_api_key() -> String {
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..API_KEY_RANDOM_LEN).map(|_| BASE62[(rng.next_u32() % 62) as usize] as char).collect();
    let checksum = base62(u64::from(crc32fast::hash(body.as_bytes())), 6);
    format!("{API_KEY_PREFIX}{body}{checksum}")
}

/// Whether `key` has the shape and checksum of one of our API keys.
pub fn is_well_formed_api_key(key: &str) -> bool {
    let Some(rest) = key.strip_prefix(API_KEY_PREFIX) else {
        return false;
    };
    if rest.len() != API_KEY_RANDOM_LEN + 6 || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (body, checksum) = rest.split_at(API_KEY_RANDOM_LEN);
    base62(u64::from(crc32fast::hash(body.as_bytes())), 6) == checksum
}

/// The part of an API key shown in listings.
pub fn api_key_display_prefix(key: &str) -> String {
    key.chars().take(API_KEY_DISPLAY_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_carry_a_checksum() {
        let key = new_api_key();
        assert!(key.starts_with("sbk_"));
        assert!(is_well_formed_api_key(&key));
        let mut tampered = key.clone().into_bytes();
        let i = 10;
        tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
        assert!(!is_well_formed_api_key(&String::from_utf8(tampered).unwrap()));
        assert_ne!(new_api_key(), key);
    }

    #[test]
    fn tokens_are_long_and_prefixed() {
        let t = new_token(ACCESS_PREFIX);
        assert!(t.starts_with(ACCESS_PREFIX) && t.len() == ACCESS_PREFIX.len() + 43);
        assert_eq!(hash(&t).len(), 32);
    }
}
