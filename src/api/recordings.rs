//! `GET /api/v1/inquiries/{id}/recording`: the stereo WAV of a bridged call
//! (left the caller, right the agent). Recordings are the most sensitive
//! client data the department holds, so only the head, the admin and the
//! agent who took the call may fetch one, and every attempt — allowed or
//! refused — is written to the audit log first.
//!
//! The file is served while the call still runs: the recorder rewrites the
//! WAV header every second, so a partial download is a valid WAV.

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::now_ms;
use crate::role::AccessLevel;
use crate::store::AuditEntry;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::path::{Component, Path as FsPath, PathBuf};

/// The recording's bytes as `audio/wav`.
#[utoipa::path(
    get,
    path = "/api/v1/inquiries/{id}/recording",
    tag = "inquiries",
    params(("id" = String, Path, description = "Inquiry id")),
    responses(
        (status = 200, description = "Stereo WAV, 8 kHz 16-bit: left the caller, right the agent", content_type = "audio/wav", body = Vec<u8>),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Neither head/admin nor the agent who took the call", body = super::error::ErrorBody),
        (status = 404, description = "No such inquiry, or it has no recording", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let inquiry = state
        .store
        .get_inquiry(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no inquiry {id:?}")))?;
    let allowed = user.access() >= AccessLevel::Head
        || inquiry.agent.as_deref() == Some(user.0.login.as_str());
    audit(&state, &user, &id, allowed).await?;
    if !allowed {
        tracing::info!(login = %user.0.login, inquiry = %id, "refused: another agent's recording");
        return Err(ApiError::forbidden());
    }
    let relative = inquiry
        .recording
        .ok_or_else(|| ApiError::not_found(format!("inquiry {id:?} has no recording")))?;
    let path = resolve(&state.recordings_dir, &relative).ok_or_else(|| {
        tracing::error!(inquiry = %id, "recording path leaves the recordings directory");
        ApiError::internal()
    })?;
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(format!(
                "the recording of inquiry {id:?} is missing on disk"
            )));
        }
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "cannot read a recording");
            return Err(ApiError::internal());
        }
    };
    let disposition = format!("attachment; filename=\"{id}.wav\"");
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// `recordings_dir` joined with a stored relative path, refusing anything
/// that could step outside it (absolute paths, `..`).
fn resolve(dir: &FsPath, relative: &str) -> Option<PathBuf> {
    let rel = FsPath::new(relative);
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(rel))
}

async fn audit(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    allowed: bool,
) -> Result<(), ApiError> {
    state
        .store
        .audit(
            &AuditEntry {
                actor: &user.0.login,
                action: if allowed { "read" } else { "denied" },
                object_kind: "recording",
                object_id: Some(id),
                detail: None,
            },
            now_ms(),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use std::path::Path;

    #[test]
    fn stored_paths_stay_inside_the_recordings_directory() {
        let dir = Path::new("/var/rec");
        assert_eq!(
            resolve(dir, "2026/11/26/X.wav"),
            Some(Path::new("/var/rec/2026/11/26/X.wav").to_path_buf())
        );
        assert_eq!(resolve(dir, "../etc/passwd"), None);
        assert_eq!(resolve(dir, "/etc/passwd"), None);
        assert_eq!(resolve(dir, "2026/../../x"), None);
    }
}
