//! Fetching the dataset from a running publish service over HTTP, for `tandem data get` and
//! for scripts that link this crate. Plain HTTP only: the service itself speaks plain HTTP
//! (put TLS in front of it with a reverse proxy, and use curl or pandas there).

use anyhow::Context as _;

/// The representation to fetch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// HXL-tagged CSV: header row, hashtag row, one row per situation.
    #[default]
    Csv,
    /// The JSON document of `GET /v1/situations`.
    Json,
}

/// The URL of the current dataset on the service at `base` (`http://host:port` or just
/// `host:port`, as in `TANDEM_PUBLISH_ADDR`), optionally of one country.
pub fn dataset_url(base: &str, country: Option<&str>, format: Format) -> String {
    let base = base_url(base);
    let path = match format {
        Format::Csv => "/v1/situations.csv",
        Format::Json => "/v1/situations",
    };
    match country {
        Some(country) => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("country", country)
                .finish();
            format!("{base}{path}?{query}")
        }
        None => format!("{base}{path}"),
    }
}

/// The base URL of the service at `base` (`http://host:port` or just `host:port`).
fn base_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.contains("://") {
        base.to_string()
    } else {
        format!("http://{base}")
    }
}

/// Fetches the history of situation `id` (`None` when it has no determination).
pub async fn history(
    base: &str,
    id: &str,
) -> anyhow::Result<Option<Vec<crate::history::HistoryEntry>>> {
    let segment: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let url = format!("{}/v1/situations/{segment}/history", base_url(base));
    match get(&url).await {
        Ok(body) => Ok(Some(
            serde_json::from_str(&body).context("the history is not the documented JSON")?,
        )),
        Err(Fetched::NotFound) => Ok(None),
        Err(Fetched::Failed(error)) => Err(error),
    }
}

/// Why a GET gave no body.
enum Fetched {
    /// 404.
    NotFound,
    /// Anything else.
    Failed(anyhow::Error),
}

/// Fetches the current dataset. A refusal by the service (a bad country code, say) is an
/// error carrying the service's message.
pub async fn fetch(base: &str, country: Option<&str>, format: Format) -> anyhow::Result<String> {
    get(&dataset_url(base, country, format))
        .await
        .map_err(|fetched| match fetched {
            Fetched::NotFound => anyhow::anyhow!("the data service answered 404 Not Found"),
            Fetched::Failed(error) => error,
        })
}

/// The body of `url`; a refusal by the service is an error carrying its message.
async fn get(url: &str) -> Result<String, Fetched> {
    if !url.starts_with("http://") {
        return Err(Fetched::Failed(anyhow::anyhow!(
            "{url}: only plain http:// is supported here; use curl for https"
        )));
    }
    tandem_runtime::tls::install_crypto_provider();
    let response = reqwest::get(url)
        .await
        .with_context(|| format!("cannot reach the data service at {url}"))
        .map_err(Fetched::Failed)?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(Fetched::NotFound);
    }
    let body = response
        .text()
        .await
        .with_context(|| format!("cannot read the answer of {url}"))
        .map_err(Fetched::Failed)?;
    if status.is_success() {
        return Ok(body);
    }
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|error| error["message"].as_str().map(String::from))
        .unwrap_or(body);
    Err(Fetched::Failed(anyhow::anyhow!(
        "the data service answered {status}: {message}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_accept_bare_addresses_and_encode_the_country() {
        assert_eq!(
            dataset_url("127.0.0.1:8470", None, Format::Csv),
            "http://127.0.0.1:8470/v1/situations.csv"
        );
        assert_eq!(
            dataset_url("http://data.example/", Some("C&L"), Format::Json),
            "http://data.example/v1/situations?country=C%26L"
        );
    }
}
