//! tandem's pages kit (docs/design.md, "Pages"): what every HTML page of tandem shares, so the
//! data service's situation board and the notifier's inbox look and behave alike.
//!
//! - [`render`]: a [`Page`] inside the common layout (skip link, header with the language
//!   switch, `main`, footer), answered with [`security_headers`]. Markup is written with
//!   [`maud`], checked at compile time, every value escaped unless wrapped in [`PreEscaped`].
//! - [`language`]: the reader's language from a `?lang=` switch and `Accept-Language`.
//! - [`Here`]: the page's own address, for the language switch's links (relative, so a page
//!   served under a reverse proxy's path prefix stays under it).
//! - [`scrollable`]: a wide table that scrolls on its own on a phone.
//! - [`number`]: a count written the reader's way (`12,500`, `12 500`, `12.500`).
//!
//! The one style sheet is inlined into each page and allowed by its SHA-256 in the CSP: no
//! asset is fetched from anywhere, not even from tandem, and no script runs at all.

use std::sync::LazyLock;

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use base64::Engine;
pub use maud::{Markup, PreEscaped, html};
use sha2::{Digest, Sha256};
pub use tandem_i18n::{FluentValue, Lang};

/// The style sheet every page carries.
const CSS: &str = include_str!("tandem.css");

/// The pages' Content-Security-Policy: nothing may load but the inline style sheet (by its
/// hash), forms post only to the page's own origin, and no other site may frame a page
/// (clickjacking a coordinator's inbox into acknowledging). No script source: pages work
/// without JavaScript and run none.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).expect("base64 is a valid header value")
});

/// The headers every page is answered with, besides `X-Content-Type-Options: nosniff` which
/// tandem's HTTP server (`tandem_runtime::http`) sets on every response.
/// `Referrer-Policy: no-referrer` keeps a page's address (an inbox link carries its token) out
/// of the requests its links make; `X-Frame-Options` is `frame-ancestors` for old browsers.
pub fn security_headers() -> [(header::HeaderName, HeaderValue); 3] {
    [
        (header::CONTENT_SECURITY_POLICY, CSP.clone()),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// The language to serve: `requested` (the `?lang=` switch) when tandem speaks it, else the
/// best of the request's `Accept-Language`, else English. A language tandem does not speak is
/// not an error: the reader still gets a page, in the best language there is.
pub fn language(requested: Option<&str>, headers: &HeaderMap) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok());
    Lang::negotiate(requested, accept)
}

/// A page's own address (its query, without `lang`), from which the language switch links to
/// the same page in each language. The links are relative to the page (`?query`), so they keep
/// working when a reverse proxy serves the page under a path prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Here {
    path: String,
    query: Vec<(String, String)>,
}

impl Here {
    /// The address of the request for `uri`.
    pub fn new(uri: &Uri) -> Self {
        let query = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .filter(|(name, _)| name != "lang")
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Self {
            path: String::new(),
            query,
        }
    }

    /// The same query at `path`, relative to the page: for a page that answers a form at an
    /// address a `GET` does not serve (`../x` from `x/review`).
    #[must_use]
    pub fn at(self, path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            ..self
        }
    }

    /// This page in `lang`, relative to the page.
    pub fn href(&self, lang: Lang) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(&self.query);
        query.append_pair("lang", lang.code());
        format!("{}?{}", self.path, query.finish())
    }
}

/// A page to render in the common layout.
pub struct Page {
    /// The language it is written in (its `<html lang>`).
    pub lang: Lang,
    /// The `<title>`, also the page's only `h1` unless `main` brings its own.
    pub title: String,
    /// Where it is, for the language switch.
    pub here: Here,
    /// The content of `<main>`, which starts with its `h1`.
    pub main: Markup,
}

/// `page` in the layout, as a response with `status`, the [`security_headers`], its language in
/// `Content-Language`, and `Vary: Accept-Language` since the same address answers in several
/// languages.
pub fn render(status: StatusCode, page: Page) -> Response {
    let lang = page.lang;
    let markup = layout(page);
    let mut response = (status, security_headers(), markup).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn layout(page: Page) -> Markup {
    let lang = page.lang;
    html! {
        (maud::DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) " — tandem" }
                style { (PreEscaped(CSS)) }
            }
            body {
                a.skip href="#main" { (lang.text("page-skip")) }
                header {
                    span.site { (lang.text("page-site-name")) }
                    nav aria-label=(lang.text("page-languages")) {
                        ul {
                            @for other in Lang::ALL {
                                li {
                                    a href=(page.here.href(other)) lang=(other.code())
                                        hreflang=(other.code())
                                        aria-current=[(other == lang).then_some("page")] {
                                        (other.text("language-name"))
                                    }
                                }
                            }
                        }
                    }
                }
                main #main { (page.main) }
                footer { p { (lang.text("page-footer")) } }
            }
        }
    }
}

/// `content` (a table) in a box that scrolls sideways when it is wider than the screen, so the
/// page itself never is. The box can take the focus and is named `label`, so that a keyboard
/// user can scroll it too (WCAG 2.1.1; axe's `scrollable-region-focusable`).
pub fn scrollable(label: &str, content: Markup) -> Markup {
    html! {
        div.table tabindex="0" role="region" aria-label=(label) { (content) }
    }
}

/// `n` with the reader's digit grouping: `12,500` in English, `12 500` (a narrow no-break
/// space) in French, `12.500` in Spanish.
pub fn number(lang: Lang, n: u64) -> String {
    let separator = match lang {
        Lang::En => ',',
        Lang::Fr => '\u{202f}',
        Lang::Es => '.',
    };
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(uri: &str, lang: Lang, main: Markup) -> String {
        let page = Page {
            lang,
            title: "Colombia <2026>".into(),
            here: Here::new(&uri.parse().unwrap()),
            main,
        };
        layout(page).into_string()
    }

    #[test]
    fn a_page_says_its_language_and_links_to_itself_in_the_others_relatively() {
        let html = page("/situations/x?country=COL&lang=fr", Lang::Fr, html! {});
        assert!(
            html.starts_with("<!DOCTYPE html><html lang=\"fr\">"),
            "{html}"
        );
        assert!(html.contains("href=\"?country=COL&amp;lang=es\""), "{html}");
        assert!(html.contains(
            "href=\"?country=COL&amp;lang=fr\" lang=\"fr\" hreflang=\"fr\" aria-current=\"page\""
        ));
        assert!(!html.contains("lang=fr&amp;lang"));
        // Relative, the links stay under whatever prefix the page is served at.
        let review = Here::new(&"/ack/a.b/review?token=t".parse().unwrap()).at("../a.b");
        assert_eq!(review.href(Lang::Fr), "../a.b?token=t&lang=fr");
    }

    #[test]
    fn values_are_escaped_and_the_style_sheet_is_allowed_by_its_hash_only() {
        let html = page("/", Lang::En, html! { p { ("<script>alert(1)</script>") } });
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Colombia &lt;2026&gt;"));
        let csp = CSP.to_str().unwrap();
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS));
        assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("script-src"));
    }

    #[test]
    fn the_reader_gets_the_switch_first_then_the_browsers_language() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("es-CO,es;q=0.9"),
        );
        assert_eq!(language(Some("fr"), &headers), Lang::Fr);
        assert_eq!(language(Some("xx"), &headers), Lang::Es);
        assert_eq!(language(None, &HeaderMap::new()), Lang::En);
    }

    #[test]
    fn numbers_are_grouped_the_readers_way() {
        assert_eq!(number(Lang::En, 1_234_567), "1,234,567");
        assert_eq!(number(Lang::Fr, 12_500), "12\u{202f}500");
        assert_eq!(number(Lang::Es, 999), "999");
        assert_eq!(number(Lang::Es, 1000), "1.000");
        assert_eq!(number(Lang::En, 0), "0");
    }
}
