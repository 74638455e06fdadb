//! Reading an upload (as feedback reads them): multipart fields, the file streamed to disk with its SHA-256, checked
//! against the allowed types and their signatures. A refused upload leaves no file behind.

use std::path::PathBuf;

use axum::extract::Multipart;
use axum::http::StatusCode;
use platform::{ApiResult, FieldError, Problem};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::AppState;

/// A file on disk, not yet recorded.
pub struct Stored {
    pub stored_name: String,
    pub path: PathBuf,
    pub original: String,
    pub mime: String,
    pub size: i64,
    pub sha256: String,
}

/// What the form carried.
#[derive(Default)]
pub struct Form {
    pub comment_id: Option<Uuid>,
    pub file: Option<Stored>,
}

impl Form {
    /// Removes the file, for an upload refused after it was written.
    pub async fn discard(&self) {
        if let Some(f) = &self.file {
            let _ = tokio::fs::remove_file(&f.path).await;
        }
    }
}

/// Whether the first bytes agree with the declared type, for the types that have a signature.
fn matches_signature(mime: &str, head: &[u8]) -> bool {
    match mime {
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
        "image/webp" => head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP",
        "application/pdf" => head.starts_with(b"%PDF-"),
        // Valid UTF-8, but for a character cut by the 512-byte window.
        "text/plain" => {
            std::str::from_utf8(head).is_ok() || std::str::from_utf8(head).is_err_and(|e| e.error_len().is_none())
        }
        _ => true,
    }
}

/// A file name safe to echo in a header: no path, no quotes or control characters.
fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("file");
    let cleaned: String = base.chars().filter(|c| !c.is_control() && *c != '"').take(200).collect();
    if cleaned.trim().is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

fn multipart_problem(e: &axum::extract::multipart::MultipartError, max: usize) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::payload_too_large(max)
    } else {
        Problem::bad_request("the multipart body could not be read")
    }
}

/// Reads the form, streaming `file` to disk under `org`'s directory. On error nothing stays.
pub async fn read(state: &AppState, org: Uuid, multipart: &mut Multipart) -> ApiResult<Form> {
    let mut form = Form::default();
    let result = read_fields(state, org, multipart, &mut form).await;
    if result.is_err() {
        form.discard().await;
    }
    result.map(|()| form)
}

async fn read_fields(state: &AppState, org: Uuid, multipart: &mut Multipart, form: &mut Form) -> ApiResult<()> {
    let max = state.config.attachment_max_bytes;
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_problem(&e, max))? {
        let twice = |name: &str| Problem::validation(vec![FieldError::new(name, "is given more than once")]);
        match field.name() {
            Some("comment_id") if form.comment_id.is_some() => return Err(twice("comment_id").into()),
            Some("file") if form.file.is_some() => return Err(twice("file").into()),
            Some("comment_id") => {
                let text = field.text().await.map_err(|e| multipart_problem(&e, max))?;
                // Multipart text bypasses the JSON extractor's checks: refuse NUL here too.
                platform::extract::reject_nul("comment_id", &text)?;
                let id = text
                    .trim()
                    .parse()
                    .map_err(|_| Problem::validation(vec![FieldError::new("comment_id", "is not a comment id")]))?;
                form.comment_id = Some(id);
            }
            Some("file") => form.file = Some(write_file(state, org, field, max).await?),
            // The document says `additionalProperties: false`: an unknown part is a mistake the
            // client should hear of, not something to drop silently.
            name => {
                let name = name.unwrap_or_default();
                platform::extract::reject_nul("form", name)?;
                return Err(Problem::validation(vec![FieldError::new(name, "is not a part of this form")]).into());
            }
        }
    }
    Ok(())
}

async fn write_file(
    state: &AppState,
    org: Uuid,
    mut field: axum::extract::multipart::Field<'_>,
    max: usize,
) -> ApiResult<Stored> {
    let mime = field.content_type().unwrap_or("application/octet-stream").to_ascii_lowercase();
    let mime = mime.split(';').next().unwrap_or("").trim().to_owned();
    if !state.config.attachment_types.contains(&mime) {
        return Err(Problem::unsupported_media_type(&state.config.attachment_types.join(", ")).into());
    }
    let raw_name = field.file_name().unwrap_or("file").to_owned();
    platform::extract::reject_nul("filename", &raw_name)?;
    let original = clean_name(&raw_name);
    let stored_name = format!("{org}/{}", Uuid::now_v7());
    let path = state.config.attachments_dir.join(&stored_name);
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(anyhow::Error::new)?;
    }
    let mut file = tokio::fs::File::create(&path).await.map_err(anyhow::Error::new)?;
    let mut hasher = Sha256::new();
    let mut size = 0usize;
    let mut head: Vec<u8> = Vec::new();
    let outcome: Result<(), Problem> = async {
        while let Some(chunk) = field.chunk().await.map_err(|e| multipart_problem(&e, max))? {
            size += chunk.len();
            if size > max {
                return Err(Problem::payload_too_large(max));
            }
            if head.len() < 512 {
                head.extend_from_slice(&chunk[..chunk.len().min(512 - head.len())]);
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(|_| Problem::internal())?;
        }
        if !matches_signature(&mime, &head) {
            return Err(Problem::unsupported_media_type(&mime).detail(format!("the file is not a {mime}")));
        }
        file.flush().await.map_err(|_| Problem::internal())?;
        Ok(())
    }
    .await;
    if let Err(problem) = outcome {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(problem.into());
    }
    Ok(Stored {
        stored_name,
        path,
        original,
        mime,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        sha256: hex::encode(hasher.finalize()),
    })
}
