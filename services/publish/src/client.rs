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
    let base = base.trim_end_matches('/');
    let base = if base.contains("://") {
        base.to_string()
    } else {
        format!("http://{base}")
    };
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

/// Fetches the current dataset. A refusal by the service (a bad country code, say) is an
/// error carrying the service's message.
pub async fn fetch(base: &str, country: Option<&str>, format: Format) -> anyhow::Result<String> {
    let url = dataset_url(base, country, format);
    anyhow::ensure!(
        url.starts_with("http://"),
        "{url}: only plain http:// is supported here; use curl for https"
    );
    tandem_runtime::tls::install_crypto_provider();
    let response = reqwest::get(&url)
        .await
        .with_context(|| format!("cannot reach the data service at {url}"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("cannot read the answer of {url}"))?;
    if status.is_success() {
        return Ok(body);
    }
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|error| error["message"].as_str().map(String::from))
        .unwrap_or(body);
    anyhow::bail!("the data service answered {status}: {message}")
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
