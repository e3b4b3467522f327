//! The emulator's error responses, shaped like Workiva's `ErrorResponse` and `IamError`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The API version every error body names.
pub const API_VERSION: &str = "2026-01-01";
const DOCS_URL: &str = "https://developers.workiva.com";

/// One entry of an error's or an operation's `details`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Detail {
    pub code: String,
    pub message: String,
    pub target: String,
}

impl Detail {
    pub fn new(code: &str, target: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            target: target.into(),
        }
    }
}

/// An error answer of the API: status, Workiva code, message, target and details.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub target: Option<String>,
    pub details: Vec<Detail>,
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    code: String,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "<[Detail]>::is_empty")]
    details: &'a [Detail],
    documentation_url: &'static str,
    version: &'static str,
}

/// Workiva's code for a status: `400BadRequest`, `404NotFound`, ...
pub fn status_code_name(status: StatusCode) -> String {
    let reason = status
        .canonical_reason()
        .unwrap_or("Error")
        .replace([' ', '-'], "");
    format!("{}{}", status.as_u16(), reason)
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            target: None,
            details: Vec::new(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// A 400 whose `target` names the offending field.
    pub fn invalid(target: impl Into<String>, message: impl Into<String>) -> Self {
        Self::bad_request(message).with_target(target)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn too_many_requests(retry_after: u64, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, message);
        e.retry_after = Some(retry_after);
        e
    }
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The request body is larger than {limit} bytes; split it into smaller requests"
            ),
        )
    }
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    pub fn with_details(mut self, details: Vec<Detail>) -> Self {
        self.details = details;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: status_code_name(self.status),
            message: &self.message,
            target: self.target.as_deref(),
            details: &self.details,
            documentation_url: DOCS_URL,
            version: API_VERSION,
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// An OAuth token endpoint error (`IamError`): `{error, error_description, error_uri}`.
#[derive(Debug, Clone)]
pub struct IamError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl IamError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for IamError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
            "error_uri": "https://developers.workiva.com/authentication",
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_follow_workiva() {
        assert_eq!(status_code_name(StatusCode::BAD_REQUEST), "400BadRequest");
        assert_eq!(status_code_name(StatusCode::NOT_FOUND), "404NotFound");
        assert_eq!(
            status_code_name(StatusCode::TOO_MANY_REQUESTS),
            "429TooManyRequests"
        );
        assert_eq!(
            status_code_name(StatusCode::INTERNAL_SERVER_ERROR),
            "500InternalServerError"
        );
        assert_eq!(
            status_code_name(StatusCode::PAYLOAD_TOO_LARGE),
            "413PayloadTooLarge"
        );
    }
}
