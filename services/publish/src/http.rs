//! The HTTP API (described in `openapi.json`, served at `/openapi.json`).
//!
//! - Current data (`/v1/situations.csv`, `/v1/situations`, `/v1/situations/{id}`) carries a
//!   strong `ETag` (the SHA-256 of the body) and `Cache-Control: public, no-cache`: caches keep
//!   it but ask again each time, and an unchanged dataset costs a `304`.
//! - Stored versions never change, so they are cacheable for a year.
//! - Every error is JSON `{"error": code, "message": text}`; unknown or malformed query
//!   parameters are `400`, never silently ignored, so a typo in `?contry=` does not return
//!   every country.
//! - Data endpoints answer `503` until the state is rebuilt: partial data would look complete.

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use tandem_runtime::Shutdown;
use tokio::io::AsyncReadExt as _;

use crate::{OPENAPI, Shared, dataset};

/// Every route, as written in `openapi.json` (a test checks that each is described there).
pub const ROUTES: [&str; 7] = [
    "/healthz",
    "/openapi.json",
    "/v1/situations.csv",
    "/v1/situations",
    "/v1/situations/{id}",
    "/v1/datasets",
    "/v1/datasets/{version}.csv",
];

const CSV: &str = "text/csv; charset=utf-8";
const JSON: &str = "application/json";
const LIVE_CACHE: &str = "public, no-cache";
const IMMUTABLE_CACHE: &str = "public, max-age=31536000, immutable";

/// Serves the API on `listener` until `shutdown`, finishing requests in flight (within
/// [`tandem_runtime::http::DRAIN`]).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    Ok(tandem_runtime::http::serve(listener, router(shared), shutdown).await?)
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(ROUTES[0], get(healthz))
        .route(ROUTES[1], get(openapi))
        .route(ROUTES[2], get(situations_csv))
        .route(ROUTES[3], get(situations_json))
        .route(ROUTES[4], get(situation))
        .route(ROUTES[5], get(datasets))
        // The router cannot match a parameter followed by `.csv`; the handler parses it.
        .route("/v1/datasets/{file}", get(dataset_file))
        .fallback(|| async { ApiError::not_found("no such resource; see /openapi.json") })
        .with_state(shared)
}

/// A client or server error as JSON.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "starting",
            message: "the dataset is being rebuilt from the event stream; try again shortly".into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "message": self.message }).to_string();
        let mut response = (self.status, [(header::CONTENT_TYPE, JSON)], body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

/// The query parameters `allowed` of a request: each at most once, nothing else.
fn parameters(query: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let mut found: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            return Err(ApiError::bad_request(if allowed.is_empty() {
                format!("unknown query parameter '{name}': this resource takes none")
            } else {
                format!(
                    "unknown query parameter '{name}'; allowed: {}",
                    allowed.join(", ")
                )
            }));
        }
        if found.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::bad_request(format!(
                "query parameter '{name}' given more than once"
            )));
        }
        found.push((name.into_owned(), value.into_owned()));
    }
    Ok(found)
}

/// `?country=` as an assigned ISO 3166-1 alpha-3 code (case-insensitive), if given.
fn country_filter(query: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some((_, value)) = parameters(query, &["country"])?.into_iter().next() else {
        return Ok(None);
    };
    let code = value.to_ascii_uppercase();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::bad_request(format!(
            "country '{value}' is not an ISO 3166-1 alpha-3 code (three letters, e.g. COL)"
        )));
    }
    if rust_iso3166::from_alpha3(&code).is_none() {
        return Err(ApiError::bad_request(format!(
            "country '{value}' is not an assigned ISO 3166-1 alpha-3 code"
        )));
    }
    Ok(Some(code))
}

/// `body` with its ETag, or `304 Not Modified` when the client holds it already.
fn with_etag(
    request: &HeaderMap,
    etag_hash: &str,
    content_type: &'static str,
    cache_control: &'static str,
    body: impl Into<Body>,
) -> Response {
    let etag = format!("\"{etag_hash}\"");
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim())
        // If-None-Match compares weakly (RFC 9110 13.1.2).
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    let headers = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, cache_control.to_string()),
    ];
    if matches {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        let mut response = (StatusCode::OK, headers, body.into()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }
}

fn live(request: &HeaderMap, content_type: &'static str, body: String) -> Response {
    let hash = dataset::sha256_hex(body.as_bytes());
    with_etag(request, &hash, content_type, LIVE_CACHE, body)
}

fn require_ready(shared: &Shared) -> Result<(), ApiError> {
    if shared.is_ready() {
        Ok(())
    } else {
        Err(ApiError::unavailable())
    }
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let (version, rows) = shared.read(|s| (s.version(), s.row_count()));
    let (status, body) = if shared.is_ready() {
        (
            StatusCode::OK,
            json!({ "status": "ok", "version": version, "situations": rows }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "starting" }),
        )
    };
    (
        status,
        [
            (header::CONTENT_TYPE, JSON),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn openapi(headers: HeaderMap) -> Response {
    live(&headers, JSON, OPENAPI.to_string())
}

async fn situations_csv(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let country = country_filter(query.as_deref())?;
    require_ready(&shared)?;
    let rows = shared.read(|s| s.rows(country.as_deref()));
    Ok(live(&headers, CSV, dataset::to_csv(&rows)))
}

async fn situations_json(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let country = country_filter(query.as_deref())?;
    require_ready(&shared)?;
    let (rows, version) = shared.read(|s| (s.rows(country.as_deref()), s.version()));
    Ok(live(
        &headers,
        JSON,
        dataset::to_json(&rows, version).to_string(),
    ))
}

async fn situation(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    parameters(query.as_deref(), &[])?;
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if !valid {
        return Err(ApiError::bad_request(
            "a situation id is 1 to 64 of A-Z a-z 0-9 . _ : -",
        ));
    }
    require_ready(&shared)?;
    let row = shared
        .read(|s| s.row(&id))
        .ok_or_else(|| ApiError::not_found(format!("no published situation '{id}'")))?;
    Ok(live(&headers, JSON, row.to_json().to_string()))
}

async fn datasets(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    parameters(query.as_deref(), &[])?;
    require_ready(&shared)?;
    let versions: Vec<_> = shared.read(|s| {
        s.datasets()
            .map(|d| {
                json!({
                    "version": d.version,
                    "rows": d.rows,
                    "sha256": d.sha256,
                    "object_key": d.object_key,
                    "published_at": d.published_at.as_ref().map(|t| {
                        tandem_proto::json::to_string(t).trim_matches('"').to_string()
                    }),
                    "url": format!("/v1/datasets/{}.csv", d.version),
                })
            })
            .collect()
    });
    let body = json!({ "dataset": dataset::DATASET, "versions": versions });
    Ok(live(&headers, JSON, body.to_string()))
}

async fn dataset_file(
    State(shared): State<Arc<Shared>>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    parameters(query.as_deref(), &[])?;
    let version: u64 = file
        .strip_suffix(".csv")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "'{file}' is not a dataset version: use /v1/datasets/<version>.csv, e.g. /v1/datasets/42.csv"
            ))
        })?;
    require_ready(&shared)?;
    let published = shared
        .read(|s| s.dataset(version).cloned())
        .ok_or_else(|| {
            ApiError::not_found(format!("no published version {version}; see /v1/datasets"))
        })?;
    let store = shared.store.get().ok_or_else(ApiError::unavailable)?;
    let mut object = store
        .get(&published.object_key)
        .await
        .map_err(|e| ApiError::internal(format!("version {version} is not readable: {e}")))?;
    let mut bytes = Vec::new();
    object
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| ApiError::internal(format!("version {version} is not readable: {e}")))?;
    // Serve only what was announced: a replaced or damaged object must not pass for it.
    if dataset::sha256_hex(&bytes) != published.sha256 {
        return Err(ApiError::internal(format!(
            "version {version} in the object store does not match its announced SHA-256"
        )));
    }
    Ok(with_etag(
        &headers,
        &published.sha256,
        CSV,
        IMMUTABLE_CACHE,
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described_in_the_openapi_document() {
        let document: serde_json::Value =
            serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert!(
            document["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3."))
        );
        let paths = document["paths"].as_object().expect("paths");
        for route in ROUTES {
            assert!(
                paths.get(route).and_then(|p| p.get("get")).is_some(),
                "{route} is not described"
            );
        }
        assert_eq!(paths.len(), ROUTES.len(), "every described path exists");
    }

    #[test]
    fn query_parameters_are_checked() {
        assert_eq!(country_filter(None).ok(), Some(None));
        assert_eq!(
            country_filter(Some("country=col")).ok(),
            Some(Some("COL".into()))
        );
        for bad in [
            "country=zz",
            "country=XYZ",
            "country=C0L",
            "contry=COL",
            "country=COL&country=PER",
        ] {
            let error = country_filter(Some(bad)).expect_err(bad);
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert!(!error.message.is_empty());
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists() {
        let mut request = HeaderMap::new();
        request.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"other\", W/\"abc\""),
        );
        let response = with_etag(&request, "abc", JSON, LIVE_CACHE, "{}");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let response = with_etag(&HeaderMap::new(), "abc", JSON, LIVE_CACHE, "{}");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get(header::ETAG).map(|v| v.as_bytes()),
            Some(&b"\"abc\""[..])
        );
    }
}
