//! The HTTP API (described in `openapi.json`, served at `/openapi.json`).
//!
//! - Current data (`/v1/situations.csv`, `/v1/situations`, `/v1/situations/{id}`, the analyst
//!   tables and `/v1/datapackage.json`, docs/design.md "Data publication") carries a
//!   strong `ETag` (the SHA-256 of the body) and `Cache-Control: public, no-cache`: caches keep
//!   it but ask again each time, and an unchanged dataset costs a `304`.
//! - Stored versions never change, so they are cacheable for a year. Their ETag is their
//!   announced SHA-256, known in memory, so a `304` costs no NATS I/O; their bytes (the
//!   chunks their manifest lists, [`crate::chunks`]) are read from the object store once,
//!   checked against that SHA-256 and kept in a bounded LRU cache ([`VersionCache`]).
//! - Every error is JSON `{"error": code, "message": text}`; unknown or malformed query
//!   parameters are `400`, never silently ignored, so a typo in `?contry=` does not return
//!   every country. A `500` says only that something failed: the detail (object keys, NATS
//!   errors) is logged, not shown to strangers.
//! - Data endpoints answer `503` until the state is rebuilt: partial data would look complete.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{FromRef, Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use lru::LruCache;
use serde_json::json;
use tandem_runtime::Shutdown;

use crate::{
    OPENAPI, Shared, board,
    config::DataPackageConfig,
    datapackage, dataset,
    tables::{self, Table},
};

/// Every route, as written in `openapi.json` (a test checks that each is described there).
pub const ROUTES: [&str; 13] = [
    "/healthz",
    "/openapi.json",
    "/v1/situations.csv",
    "/v1/situations",
    "/v1/situations/{id}",
    "/v1/situations/{id}/history",
    "/v1/datasets",
    "/v1/datasets/{version}.csv",
    "/v1/operations.csv",
    "/v1/figures.csv",
    "/v1/solutions.csv",
    "/v1/situations/{id}/series.csv",
    "/v1/datapackage.json",
];

const CSV: &str = "text/csv; charset=utf-8";
const JSON: &str = "application/json";
const LIVE_CACHE: &str = "public, no-cache";
const IMMUTABLE_CACHE: &str = "public, max-age=31536000, immutable";

/// What the handlers share: the service's state and the stored versions already read.
#[derive(Clone)]
pub(crate) struct Api {
    shared: Arc<Shared>,
    versions: Arc<Mutex<VersionCache>>,
    data_package: Arc<DataPackageConfig>,
}

impl Api {
    /// The API over `shared`, keeping at most `cache_bytes` of stored versions in memory.
    pub(crate) fn new(
        shared: Arc<Shared>,
        cache_bytes: u64,
        data_package: DataPackageConfig,
    ) -> Self {
        Self {
            shared,
            versions: Arc::new(Mutex::new(VersionCache::new(cache_bytes))),
            data_package: Arc::new(data_package),
        }
    }
}

impl FromRef<Api> for Arc<Shared> {
    fn from_ref(api: &Api) -> Self {
        api.shared.clone()
    }
}

/// Stored versions' bytes by version number, at most `capacity` bytes in all, the least
/// recently served dropped first. A version larger than the whole cache is not kept.
struct VersionCache {
    entries: LruCache<u64, Bytes>,
    bytes: u64,
    capacity: u64,
}

impl VersionCache {
    fn new(capacity: u64) -> Self {
        Self {
            // Bounded by bytes below, not by count.
            entries: LruCache::unbounded(),
            bytes: 0,
            capacity,
        }
    }

    fn get(&mut self, version: u64) -> Option<Bytes> {
        self.entries.get(&version).cloned()
    }

    fn insert(&mut self, version: u64, body: Bytes) {
        let size = body.len() as u64;
        if size > self.capacity {
            return;
        }
        if let Some(replaced) = self.entries.put(version, body) {
            self.bytes -= replaced.len() as u64;
        }
        self.bytes += size;
        while self.bytes > self.capacity {
            let Some((_, dropped)) = self.entries.pop_lru() else {
                break;
            };
            self.bytes -= dropped.len() as u64;
        }
    }

    /// A lock on the cache; a poisoned one is used anyway, since every update above leaves it
    /// consistent before anything can panic.
    fn lock(cache: &Mutex<Self>) -> std::sync::MutexGuard<'_, Self> {
        cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Serves the API on `listener` until `shutdown`, finishing requests in flight (within
/// [`tandem_runtime::http::DRAIN`]).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    api: Api,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    Ok(tandem_runtime::http::serve(listener, router(api), shutdown).await?)
}

fn router(api: Api) -> Router {
    Router::new()
        .route(ROUTES[0], get(healthz))
        .route(ROUTES[1], get(openapi))
        .route(ROUTES[2], get(situations_csv))
        .route(ROUTES[3], get(situations_json))
        .route(ROUTES[4], get(situation))
        .route(ROUTES[5], get(history))
        .route(ROUTES[6], get(datasets))
        // The situation board's pages (crate::board): HTML for people, not part of the API.
        .route("/", get(board::board))
        .route("/situations/{id}", get(board::situation))
        // The router cannot match a parameter followed by `.csv`; the handler parses it.
        .route("/v1/datasets/{file}", get(dataset_file))
        .route(
            ROUTES[8],
            get(|s, q, h| table_csv(tables::OPERATIONS, s, q, h)),
        )
        .route(
            ROUTES[9],
            get(|s, q, h| table_csv(tables::FIGURES, s, q, h)),
        )
        .route(
            ROUTES[10],
            get(|s, q, h| table_csv(tables::SOLUTIONS, s, q, h)),
        )
        .route(ROUTES[11], get(series))
        .route(ROUTES[12], get(data_package))
        .fallback(|| async { ApiError::not_found("no such resource; see /openapi.json") })
        .with_state(api)
}

/// A client or server error as JSON.
#[derive(Debug)]
pub(crate) struct ApiError {
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

    /// A failure of the service: `detail` goes to the log, the caller gets a generic message.
    fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "HTTP request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "the request could not be served; the error is in the service's log".into(),
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
pub(crate) fn parameters(
    query: Option<&str>,
    allowed: &[&str],
) -> Result<Vec<(String, String)>, ApiError> {
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

/// Whether `request` says the client holds the representation tagged `etag_hash` already.
fn holds(request: &HeaderMap, etag_hash: &str) -> bool {
    let etag = format!("\"{etag_hash}\"");
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim())
        // If-None-Match compares weakly (RFC 9110 13.1.2).
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

fn etag_headers(etag_hash: &str, cache_control: &'static str) -> [(header::HeaderName, String); 2] {
    [
        (header::ETAG, format!("\"{etag_hash}\"")),
        (header::CACHE_CONTROL, cache_control.to_string()),
    ]
}

fn not_modified(etag_hash: &str, cache_control: &'static str) -> Response {
    (
        StatusCode::NOT_MODIFIED,
        etag_headers(etag_hash, cache_control),
    )
        .into_response()
}

/// `body` with its ETag, or `304 Not Modified` when the client holds it already.
fn with_etag(
    request: &HeaderMap,
    etag_hash: &str,
    content_type: &'static str,
    cache_control: &'static str,
    body: impl Into<Body>,
) -> Response {
    if holds(request, etag_hash) {
        return not_modified(etag_hash, cache_control);
    }
    let mut response = (
        StatusCode::OK,
        etag_headers(etag_hash, cache_control),
        body.into(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
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
        let body = json!({
            "status": "ok",
            "version": version,
            "situations": rows,
            "started_from_snapshot": shared.started_from_snapshot(),
            "events_replayed": shared.replayed.load(std::sync::atomic::Ordering::Relaxed),
        });
        (StatusCode::OK, body)
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
    let csv = shared.read(|s| s.csv(country.as_deref()));
    Ok(live(&headers, CSV, csv))
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
    check_situation_request(&shared, &id, query.as_deref())?;
    let row = shared
        .read(|s| s.row(&id))
        .ok_or_else(|| ApiError::not_found(format!("no published situation '{id}'")))?;
    Ok(live(&headers, JSON, row.to_json().to_string()))
}

/// `/v1/operations.csv`, `/v1/figures.csv`, `/v1/solutions.csv`, with `?country=` as for the
/// situations.
async fn table_csv(
    table: Table,
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let country = country_filter(query.as_deref())?;
    require_ready(&shared)?;
    let csv = shared.read(|s| s.table_csv(table, country.as_deref()));
    Ok(live(&headers, CSV, csv))
}

/// A situation's determinations over time as CSV.
async fn series(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    check_situation_request(&shared, &id, query.as_deref())?;
    let determinations: Vec<_> = shared
        .read_histories(|h| h.history(&id))
        .ok_or_else(|| ApiError::not_found(format!("no determination of situation '{id}'")))?
        .into_iter()
        .map(|entry| entry.determination)
        .collect();
    let csv = shared.read(|s| s.series_csv(&id, &determinations));
    Ok(live(&headers, CSV, csv))
}

/// The Frictionless Data Package describing every table.
async fn data_package(
    State(api): State<Api>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    parameters(query.as_deref(), &[])?;
    require_ready(&api.shared)?;
    let (version, ids) = api.shared.read(|s| (s.version(), s.situation_ids()));
    let package = datapackage::package(&api.data_package, version, &ids);
    Ok(live(&headers, JSON, package.to_string()))
}

/// The checks of a request about one situation, in the order its answers are documented: no
/// query parameters, a well-formed id, a service that is ready.
fn check_situation_request(shared: &Shared, id: &str, query: Option<&str>) -> Result<(), ApiError> {
    parameters(query, &[])?;
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if !valid {
        return Err(ApiError::bad_request(
            "a situation id is 1 to 64 of A-Z a-z 0-9 . _ : -",
        ));
    }
    require_ready(shared)
}

/// Every determination of a situation, oldest first, with its reviews and notifications.
async fn history(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    check_situation_request(&shared, &id, query.as_deref())?;
    let entries = shared
        .read_histories(|h| h.history(&id))
        .ok_or_else(|| ApiError::not_found(format!("no determination of situation '{id}'")))?;
    let body = serde_json::to_string(&entries).map_err(ApiError::internal)?;
    Ok(live(&headers, JSON, body))
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
    State(api): State<Api>,
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
    let shared = &api.shared;
    require_ready(shared)?;
    let published = shared
        .read(|s| s.dataset(version).cloned())
        .ok_or_else(|| {
            ApiError::not_found(format!("no published version {version}; see /v1/datasets"))
        })?;
    if holds(&headers, &published.sha256) {
        return Ok(not_modified(&published.sha256, IMMUTABLE_CACHE));
    }
    let cached = VersionCache::lock(&api.versions).get(version);
    let bytes = match cached {
        Some(bytes) => bytes,
        None => {
            let store = shared.store.get().ok_or_else(ApiError::unavailable)?;
            let not_readable = |e: &dyn std::fmt::Display| {
                ApiError::internal(format!("version {version} is not readable: {e}"))
            };
            let bytes = store
                .read_version(&published.object_key)
                .await
                .map_err(|e| not_readable(&e))?;
            // Serve only what was announced: a replaced or damaged object must not pass for it.
            if dataset::sha256_hex(&bytes) != published.sha256 {
                return Err(ApiError::internal(format!(
                    "version {version} in the object store does not match its announced SHA-256"
                )));
            }
            let bytes = Bytes::from(bytes);
            VersionCache::lock(&api.versions).insert(version, bytes.clone());
            bytes
        }
    };
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
    fn the_version_cache_keeps_the_most_recently_served_within_its_bytes() {
        let mut cache = VersionCache::new(10);
        cache.insert(1, Bytes::from_static(b"aaaa"));
        cache.insert(2, Bytes::from_static(b"bbbb"));
        assert!(cache.get(1).is_some(), "1 is now the most recently served");
        cache.insert(3, Bytes::from_static(b"cccc"));
        assert_eq!(cache.get(2), None, "the least recently served made room");
        assert_eq!(cache.get(1), Some(Bytes::from_static(b"aaaa")));
        assert_eq!(cache.get(3), Some(Bytes::from_static(b"cccc")));
        assert_eq!(cache.bytes, 8);
        cache.insert(4, Bytes::from_static(b"too large for it"));
        assert_eq!(cache.get(4), None);
        assert_eq!(cache.bytes, 8);
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
