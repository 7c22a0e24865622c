//! The public situation board (docs/design.md, "Pages"): `/` lists the published situations
//! with filters by country (a regional situation under each of its countries), classification
//! and lead agency, and `/situations/{id}` shows one: who leads and why (for a regional
//! situation, in each country operation too), its figures with their dates and sources, its reviews, and two charts
//! drawn on the server as SVG (people by group, and the classification, over time), each with
//! a text alternative and its data as a table.
//!
//! Only what the data API publishes is shown: the rows of [`crate::dataset`], whose figures
//! passed [`crate::disclosure`], and, from the history, the determinations' figures passed
//! through the same rule, their rationale, status and reviews (without the reviewers' ids).
//! Pages are in the reader's language (`?lang=`, then `Accept-Language`) and built with the
//! shared kit [`tandem_web`]: the layout, the style sheet, the security headers. Everything a
//! page holds is bounded: [`PAGE_SIZE`] situations per page, [`MAX_POINTS`] determinations per
//! chart. With `TANDEM_TRACE_URL` set, each determination in the chart's data table links to its
//! trace in the tracing dashboard.

use std::{collections::BTreeSet, sync::Arc};

use axum::{
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, Uri},
    response::Response,
};
use tandem_i18n::{
    local_time,
    words::{rationale_source, rationale_text, word},
};
use tandem_proto::v1::{
    Agency, Arrangement, Classification, DeterminationStatus, LeadershipDetermination,
    LeadershipFunction, PopulationGroup, ReviewVerdict,
};
use tandem_runtime::envelope;
use tandem_web::{FluentValue, Here, Lang, Markup, Page, html, number, render, scrollable};

use crate::{
    Shared,
    dataset::Row,
    disclosure::{self, Cell, GROUPS},
    history::HistoryEntry,
    http::parameters,
};

/// Situations listed per page of the board.
pub const PAGE_SIZE: usize = 50;

/// Determinations drawn per chart: the newest ones.
pub const MAX_POINTS: usize = 120;

/// One colour per population group (in [`GROUPS`] order) and per classification (by enum
/// value), each at least 3:1 against white (WCAG's contrast for graphics).
const PALETTE: [&str; 10] = [
    "#1f5fa8", "#b4451f", "#2e7d32", "#7b3fa0", "#8a6d00", "#00798c", "#c2185b", "#5d4037",
    "#455a64", "#9e3a00",
];

/// The board: `/?country=&classification=&lead=&page=&lang=`. An empty filter means any.
pub(crate) async fn board(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Ok(params) = parameters(
        query.as_deref(),
        &["lang", "country", "classification", "lead", "page"],
    ) else {
        return bad_request(&uri, &headers);
    };
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let lang = tandem_web::language(get("lang").as_deref(), &headers);
    let Ok(filters) = Filters::parse(get("country"), get("classification"), get("lead")) else {
        return bad_request(&uri, &headers);
    };
    let Ok(page) = get("page").map_or(Ok(1), |p| p.parse::<usize>()) else {
        return bad_request(&uri, &headers);
    };
    if !shared.is_ready() {
        return starting(lang, &uri);
    }
    let rows: Vec<Listed> = shared.read(|s| {
        s.rows(None)
            .into_iter()
            .map(|row| Listed {
                countries: s.countries(&row.situation_id),
                row,
            })
            .collect()
    });
    let options = Options::of(&rows);
    let matching: Vec<&Listed> = rows.iter().filter(|listed| filters.admit(listed)).collect();
    let pages = matching.len().div_ceil(PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let shown = &matching[(page - 1) * PAGE_SIZE..matching.len().min(page * PAGE_SIZE)];
    let here = Here::new(&uri);
    let main = html! {
        h1 { (lang.text("board-title")) }
        p { (lang.text("board-intro")) }
        (filter_form(lang, &filters, &options))
        p role="status" {
            (lang.text_with("board-shown", &[
                ("shown", FluentValue::from(matching.len())),
                ("total", FluentValue::from(rows.len())),
            ]))
        }
        @if shown.is_empty() {
            p { (lang.text("board-none")) }
        } @else {
            (situation_table(lang, shown))
            @if shown.iter().any(|listed| listed.row.figures.total_suppressed) {
                p.note { "† " (lang.text("board-total-partial")) }
            }
            @if pages > 1 { (pagination(lang, &uri, page, pages)) }
        }
        h2 { (lang.text("board-downloads")) }
        ul.downloads {
            li { a href="/v1/situations.csv" { (lang.text("board-download-csv")) } }
            li { a href="/v1/situations" { (lang.text("board-download-json")) } }
            li { a href="/v1/datapackage.json" { (lang.text("board-download-datapackage")) } }
        }
    };
    render(
        StatusCode::OK,
        Page {
            lang,
            title: lang.text("board-title"),
            here,
            main,
        },
    )
}

/// A situation as the board lists it: its published row and every country it spans (one,
/// or each operation's of a regional situation), so that a regional situation is found under
/// each of its countries.
struct Listed {
    row: Row,
    countries: Vec<String>,
}

/// The board's filters, validated.
#[derive(Debug, Default, PartialEq)]
struct Filters {
    /// ISO 3166-1 alpha-3, upper case.
    country: Option<String>,
    classification: Option<Classification>,
    lead: Option<Agency>,
}

impl Filters {
    /// The filters from their query values; `Err` for a value the board never offers.
    fn parse(
        country: Option<String>,
        classification: Option<String>,
        lead: Option<String>,
    ) -> Result<Self, ()> {
        let country = country
            .map(|c| c.to_ascii_uppercase())
            .map(|c| {
                if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
                    Ok(c)
                } else {
                    Err(())
                }
            })
            .transpose()?;
        let classification = classification
            .map(|c| Classification::from_str_name(&c).ok_or(()))
            .transpose()?;
        let lead = lead
            .map(|l| match agency_of(&l) {
                Some(agency @ (Agency::Iom | Agency::Unhcr)) => Ok(agency),
                _ => Err(()),
            })
            .transpose()?;
        Ok(Self {
            country,
            classification,
            lead,
        })
    }

    fn admit(&self, Listed { row, countries }: &Listed) -> bool {
        self.country.as_ref().is_none_or(|c| countries.contains(c))
            && self
                .classification
                .is_none_or(|c| row.classification_code == c.as_str_name())
            && self.lead.is_none_or(|lead| {
                row.lead_agencies
                    .iter()
                    .any(|name| agency_of(name) == Some(lead))
            })
    }
}

/// What the filters offer: the countries and classifications of the published situations.
struct Options {
    countries: BTreeSet<String>,
    classifications: BTreeSet<i32>,
}

impl Options {
    fn of(rows: &[Listed]) -> Self {
        Self {
            countries: rows
                .iter()
                .flat_map(|l| l.countries.iter().cloned())
                .collect(),
            classifications: rows
                .iter()
                .filter_map(|l| Classification::from_str_name(&l.row.classification_code))
                .map(|c| c as i32)
                .collect(),
        }
    }
}

/// The agency of a dataset's agency name (`IOM`, `UNHCR`, `PARTNER`).
fn agency_of(name: &str) -> Option<Agency> {
    Agency::from_str_name(&format!("AGENCY_{name}"))
}

fn filter_form(lang: Lang, filters: &Filters, options: &Options) -> Markup {
    let any = lang.text("board-filter-any");
    html! {
        form.filters method="get" action="/" aria-label=(lang.text("board-filters")) {
            input type="hidden" name="lang" value=(lang.code());
            label {
                (lang.text("board-filter-country"))
                select name="country" {
                    option value="" { (any) }
                    @for country in &options.countries {
                        option value=(country) selected[filters.country.as_ref() == Some(country)] {
                            (country)
                        }
                    }
                }
            }
            label {
                (lang.text("board-filter-classification"))
                select name="classification" {
                    option value="" { (any) }
                    @for value in &options.classifications {
                        @if let Ok(c) = Classification::try_from(*value) {
                            option value=(c.as_str_name()) selected[filters.classification == Some(c)] {
                                (word(lang, c))
                            }
                        }
                    }
                }
            }
            label {
                (lang.text("board-filter-lead"))
                select name="lead" {
                    option value="" { (any) }
                    @for (name, agency) in [("IOM", Agency::Iom), ("UNHCR", Agency::Unhcr)] {
                        option value=(name) selected[filters.lead == Some(agency)] {
                            (word(lang, agency))
                        }
                    }
                }
            }
            button type="submit" { (lang.text("board-filter-apply")) }
        }
    }
}

fn situation_table(lang: Lang, rows: &[&Listed]) -> Markup {
    html! {
        (scrollable(&lang.text("board-title"), html! {
            table {
                caption { (lang.text("board-title")) }
                thead {
                    tr {
                        th scope="col" { (lang.text("board-col-situation")) }
                        th scope="col" { (lang.text("board-col-country")) }
                        th scope="col" { (lang.text("board-col-classification")) }
                        th scope="col" { (lang.text("board-col-lead")) }
                        th.n scope="col" { (lang.text("board-col-people")) }
                        th scope="col" { (lang.text("board-col-reported")) }
                    }
                }
                tbody {
                    @for Listed { row, countries } in rows {
                        tr {
                            th scope="row" {
                                a href=(situation_href(&row.situation_id, lang)) { (row.situation_id) }
                            }
                            td { (countries.join(", ")) }
                            td { (classification_words(lang, &row.classification_code)) }
                            td { (agency_words(lang, &row.lead_agencies)) }
                            td.n {
                                (number(lang, row.figures.total))
                                @if row.figures.total_suppressed { " †" }
                            }
                            td { (row.last_reported) }
                        }
                    }
                }
            }
        }))
    }
}

fn pagination(lang: Lang, uri: &Uri, page: usize, pages: usize) -> Markup {
    let href = |page: usize| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
            if name != "page" {
                query.append_pair(&name, &value);
            }
        }
        query.append_pair("page", &page.to_string());
        format!("/?{}", query.finish())
    };
    html! {
        nav aria-label=(lang.text("board-pages")) {
            p {
                @if page > 1 { a href=(href(page - 1)) rel="prev" { (lang.text("board-previous")) } " · " }
                (lang.text_with("board-page", &[
                    ("page", FluentValue::from(page)),
                    ("pages", FluentValue::from(pages)),
                ]))
                @if page < pages { " · " a href=(href(page + 1)) rel="next" { (lang.text("board-next")) } }
            }
        }
    }
}

/// The address of a situation's page in `lang`.
fn situation_href(id: &str, lang: Lang) -> String {
    let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/situations/{id}?lang={}", lang.code())
}

fn classification_words(lang: Lang, name: &str) -> String {
    Classification::from_str_name(name).map_or_else(|| name.to_owned(), |c| word(lang, c))
}

fn agency_words(lang: Lang, names: &[String]) -> String {
    names
        .iter()
        .map(|name| agency_of(name).map_or_else(|| name.clone(), |a| word(lang, a)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table's head: one column heading per message id.
fn column_heads(lang: Lang, ids: &[&str]) -> Markup {
    html! {
        thead { tr { @for id in ids { th scope="col" { (lang.text(id)) } } } }
    }
}

/// `Agency` values of a determination in words.
fn agencies(lang: Lang, values: &[i32]) -> impl Iterator<Item = String> {
    values
        .iter()
        .map(move |a| word(lang, Agency::try_from(*a).unwrap_or_default()))
}

/// A situation's page: `/situations/{id}?lang=`.
pub(crate) async fn situation(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Ok(params) = parameters(query.as_deref(), &["lang"]) else {
        return bad_request(&uri, &headers);
    };
    let requested = params.first().map(|(_, value)| value.as_str());
    let lang = tandem_web::language(requested, &headers);
    if !shared.is_ready() {
        return starting(lang, &uri);
    }
    let Some((row, countries)) = shared.read(|s| Some((s.row(&id)?, s.countries(&id)))) else {
        return not_found(lang, &uri);
    };
    let history = shared
        .read_histories(|h| h.history(&id))
        .unwrap_or_default();
    let current = history.last().map(|entry| &entry.determination);
    let title = lang.text_with(
        "situation-title",
        &[("situation", FluentValue::from(row.situation_id.as_str()))],
    );
    let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let main = html! {
        p { a href=(format!("/?lang={}", lang.code())) { "← " (lang.text("page-back-home")) } }
        h1 { (title) }
        (summary(lang, &row, &countries, current))
        @if let Some(determination) = current { (leads(lang, determination)) }
        @if let Some(determination) = current.filter(|d| !d.operations.is_empty()) {
            (operations(lang, determination))
        }
        (figures(lang, &row, current))
        @if !history.is_empty() { (charts(lang, &history)) }
        @if let Some(determination) = current { (reviews(lang, determination)) }
        h2 { (lang.text("board-downloads")) }
        ul.downloads {
            li { a href=(format!("/v1/situations/{encoded}/series.csv")) { (lang.text("board-download-series")) } }
            li { a href=(format!("/v1/situations/{encoded}")) { (lang.text("board-download-situation")) } }
            li { a href=(format!("/v1/situations/{encoded}/history")) { (lang.text("board-download-history")) } }
            li { a href="/v1/situations.csv" { (lang.text("board-download-csv")) } }
            li { a href="/v1/datapackage.json" { (lang.text("board-download-datapackage")) } }
        }
    };
    render(
        StatusCode::OK,
        Page {
            lang,
            title,
            here: Here::new(&uri),
            main,
        },
    )
}

fn summary(
    lang: Lang,
    row: &Row,
    countries: &[String],
    current: Option<&LeadershipDetermination>,
) -> Markup {
    let status = current
        .and_then(|d| DeterminationStatus::try_from(d.status).ok())
        .unwrap_or_default();
    let arrangement = Arrangement::from_str_name(&row.arrangement_code).unwrap_or_default();
    html! {
        (scrollable(&row.situation_id, html! {
            table {
                tbody {
                    tr { th scope="row" { (lang.text("board-col-country")) } td { (countries.join(", ")) } }
                    tr {
                        th scope="row" { (lang.text("board-classification")) }
                        td { (classification_words(lang, &row.classification_code)) }
                    }
                    tr { th scope="row" { (lang.text("board-arrangement")) } td { (word(lang, arrangement)) } }
                    tr {
                        th scope="row" { (lang.text("board-lead-agencies")) }
                        td { (agency_words(lang, &row.lead_agencies)) }
                    }
                    tr { th scope="row" { (lang.text("board-status")) } td { span.status { (word(lang, status)) } } }
                    @if let Some(at) = current.and_then(|d| d.determined_at.as_ref()) {
                        tr { th scope="row" { (lang.text("board-determined")) } td { (local_time(at.seconds, "UTC")) } }
                    }
                    tr { th scope="row" { (lang.text("board-last-reported")) } td { (row.last_reported) } }
                    tr { th scope="row" { (lang.text("board-policy")) } td { (row.policy_version) } }
                }
            }
        }))
    }
}

/// Who leads each function, and the rationale in the reader's language where the policy wrote
/// it in that language; else in English, marked `lang="en"` so that a screen reader reads it as
/// English. What each entry rests on is a citation, kept as written (and marked English).
fn leads(lang: Lang, determination: &LeadershipDetermination) -> Markup {
    html! {
        h2 { (lang.text("board-leads")) }
        @if !determination.functions.is_empty() {
            (scrollable(&lang.text("board-functions"), html! {
                table {
                    caption { (lang.text("board-functions")) }
                    (column_heads(lang, &["board-function", "board-agencies"]))
                    tbody {
                        @for assignment in &determination.functions {
                            tr {
                                td { (word(lang, LeadershipFunction::try_from(assignment.function).unwrap_or_default())) }
                                td {
                                    (agencies(lang, &assignment.agencies)
                                        .chain(assignment.actors.iter().cloned())
                                        .collect::<Vec<_>>()
                                        .join(", "))
                                }
                            }
                        }
                    }
                }
            }))
        }
        h3 { (lang.text("board-why")) }
        ol {
            @for entry in &determination.rationale {
                li {
                    @let text_lang = if entry.texts.contains_key(lang.code()) { lang } else { Lang::En };
                    span lang=(text_lang.code()) { (rationale_text(lang, entry)) }
                    @let basis = rationale_source(lang, entry);
                    @if !basis.is_empty() {
                        br;
                        span.note { (lang.text("board-basis")) ": " span lang="en" { (basis) } }
                    }
                }
            }
        }
    }
}

/// A regional situation's country operations: how each is classified and who leads it.
fn operations(lang: Lang, determination: &LeadershipDetermination) -> Markup {
    html! {
        h2 { (lang.text("board-operations")) }
        (scrollable(&lang.text("board-operations"), html! {
            table {
                caption { (lang.text("board-operations")) }
                (column_heads(lang, &[
                    "board-col-country",
                    "board-classification",
                    "board-arrangement",
                    "board-lead-agencies",
                ]))
                tbody {
                    @for operation in &determination.operations {
                        tr {
                            th scope="row" { (operation.country) }
                            td { (word(lang, operation.classification())) }
                            td { (word(lang, operation.arrangement())) }
                            td {
                                (agencies(lang, &operation.lead_agencies).collect::<Vec<_>>().join(", "))
                            }
                        }
                    }
                }
            }
        }))
    }
}

/// The published figures (after disclosure control), each with the date of the figure it was
/// reconciled from and the agency that reported it, when the determination names them.
fn figures(lang: Lang, row: &Row, current: Option<&LeadershipDetermination>) -> Markup {
    // The date a figure is as of, and the agency whose figure it is. Not the figure's free-text
    // source: that is never published (docs/design.md, "Data publication").
    let dated = |group: PopulationGroup| {
        current
            .and_then(|d| d.figures.iter().find(|f| f.group == group as i32))
            .map(|f| {
                let agency = Agency::try_from(f.source_agency).unwrap_or_default();
                let agency = match agency {
                    Agency::Unspecified => String::new(),
                    agency => word(lang, agency),
                };
                (f.as_of.clone(), agency)
            })
            .unwrap_or_default()
    };
    let published = || {
        GROUPS
            .iter()
            .zip(row.figures.cells)
            .filter(|(_, cell)| *cell != Cell::Missing)
    };
    // Dates and sources as the determination gives them; the columns only when it gives some.
    let dates = published().any(|(group, _)| dated(*group) != Default::default());
    html! {
        h2 { (lang.text("board-figures")) }
        (scrollable(&lang.text("board-figures"), html! {
            table {
                thead { tr {
                    th scope="col" { (lang.text("board-group")) }
                    th.n scope="col" { (lang.text("board-people")) }
                    @if dates {
                        th scope="col" { (lang.text("board-as-of")) }
                        th scope="col" { (lang.text("board-source")) }
                    }
                } }
                tbody {
                    @for (group, cell) in published() {
                        @let (as_of, source) = dated(*group);
                        tr {
                            th scope="row" { (word(lang, *group)) }
                            td.n {
                                @match cell {
                                    Cell::Count(n) => (number(lang, n)),
                                    _ => (lang.text("board-suppressed")),
                                }
                            }
                            @if dates { td { (as_of) } td { (source) } }
                        }
                    }
                    tr {
                        th scope="row" { (lang.text("board-total")) }
                        td.n {
                            (number(lang, row.figures.total))
                            @if row.figures.total_suppressed { " †" }
                        }
                        @if dates { td {} td {} }
                    }
                }
            }
        }))
        @if row.figures.total_suppressed {
            p.note { "† " (lang.text("board-total-partial")) }
        }
    }
}

/// One determination as the charts draw it: its time, classification and disclosed figures.
struct Point {
    at: i64,
    classification: Classification,
    cells: [Cell; GROUPS.len()],
    /// The determination's trace in the tracing dashboard, when `TANDEM_TRACE_URL` is set.
    trace_url: Option<String>,
}

/// The charts of the newest [`MAX_POINTS`] determinations.
fn charts(lang: Lang, history: &[HistoryEntry]) -> Markup {
    let skipped = history.len().saturating_sub(MAX_POINTS);
    let points: Vec<Point> = history[skipped..]
        .iter()
        .map(|entry| {
            let d = &entry.determination;
            let figures = d
                .figures
                .iter()
                .filter_map(|f| Some((PopulationGroup::try_from(f.group).ok()?, f.count)));
            Point {
                at: d.determined_at.as_ref().map_or(0, |t| t.seconds),
                classification: Classification::try_from(d.classification).unwrap_or_default(),
                cells: disclosure::disclose(figures).cells,
                trace_url: entry.trace_id.as_deref().and_then(envelope::trace_url),
            }
        })
        .collect();
    let from = date(points.first().map_or(0, |p| p.at));
    let to = date(points.last().map_or(0, |p| p.at));
    let range = [
        ("from", FluentValue::from(from.as_str())),
        ("to", FluentValue::from(to.as_str())),
    ];
    let traced = points.iter().any(|p| p.trace_url.is_some());
    let groups: Vec<usize> = (0..GROUPS.len())
        .filter(|&g| points.iter().any(|p| matches!(p.cells[g], Cell::Count(_))))
        .collect();
    html! {
        @if skipped > 0 {
            p.note { (lang.text_with("board-chart-capped", &[("count", FluentValue::from(MAX_POINTS))])) }
        }
        figure {
            figcaption #figures-chart-caption { (lang.text("board-figures-chart")) }
            (figures_chart(lang, &points, &groups, &lang.text_with("board-figures-chart-desc", &range)))
            ul.downloads {
                @for &g in &groups {
                    li { (swatch(PALETTE[g])) " " (word(lang, GROUPS[g])) }
                }
            }
        }
        figure {
            figcaption #classification-chart-caption { (lang.text("board-classification-chart")) }
            (classification_chart(lang, &points, &lang.text_with("board-classification-chart-desc", &range)))
            ul.downloads {
                @for c in points.iter().map(|p| p.classification as i32).collect::<BTreeSet<_>>() {
                    li {
                        (swatch(colour_of(c)))
                        " " (word(lang, Classification::try_from(c).unwrap_or_default()))
                    }
                }
            }
        }
        details {
            summary { (lang.text("board-chart-data")) }
            (scrollable(&lang.text("board-chart-data"), html! {
                table {
                    thead { tr {
                        th scope="col" { (lang.text("board-date")) }
                        th scope="col" { (lang.text("board-classification")) }
                        @for &g in &groups { th.n scope="col" { (word(lang, GROUPS[g])) } }
                        @if traced { th scope="col" { (lang.text("board-trace")) } }
                    } }
                    tbody {
                        @for point in &points {
                            tr {
                                td { (date(point.at)) }
                                td { (word(lang, point.classification)) }
                                @for &g in &groups {
                                    td.n {
                                        @match point.cells[g] {
                                            Cell::Count(n) => (number(lang, n)),
                                            Cell::Suppressed => (disclosure::SUPPRESSED_MARK),
                                            Cell::Missing => "",
                                        }
                                    }
                                }
                                @if traced {
                                    td {
                                        @if let Some(url) = &point.trace_url {
                                            @let date = date(point.at);
                                            a href=(url) aria-label=(lang.text_with("board-trace-link", &[("date", FluentValue::from(date.as_str()))])) {
                                                (lang.text("board-trace"))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }))
        }
    }
}

/// The chart's drawing area, in SVG user units.
const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 28.0;

/// The x of each point: spread over time; in order, evenly, when they all share one second
/// (determinations made in a burst); in the middle when there is one.
fn xs(points: &[Point]) -> Vec<f64> {
    let (first, last) = (
        points.first().map_or(0, |p| p.at),
        points.last().map_or(0, |p| p.at),
    );
    let span = (last - first) as f64;
    let width = WIDTH - LEFT - RIGHT;
    let steps = points.len().saturating_sub(1) as f64;
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if span > 0.0 {
                LEFT + (p.at - first) as f64 / span * width
            } else if steps > 0.0 {
                LEFT + i as f64 / steps * width
            } else {
                LEFT + width / 2.0
            }
        })
        .collect()
}

fn figures_chart(lang: Lang, points: &[Point], groups: &[usize], desc: &str) -> Markup {
    let max = points
        .iter()
        .flat_map(|p| p.cells)
        .filter_map(|c| match c {
            Cell::Count(n) => Some(n),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let y = |n: u64| TOP + (1.0 - n as f64 / max as f64) * (HEIGHT - TOP - BOTTOM);
    let xs = xs(points);
    let baseline = HEIGHT - BOTTOM;
    html! {
        svg.chart #figures-chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-labelledby="figures-chart-title figures-chart-desc" {
            title #figures-chart-title { (lang.text("board-figures-chart")) }
            desc #figures-chart-desc { (desc) }
            line.axis x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(baseline) {}
            line.axis x1=(LEFT) y1=(baseline) x2=(WIDTH - RIGHT) y2=(baseline) {}
            @for tick in [0, max / 2, max] {
                text x=(LEFT - 6.0) y=(y(tick) + 4.0) text-anchor="end" { (number(lang, tick)) }
            }
            (time_labels(points, &xs))
            @for &g in groups {
                // A line through the points with a published count; a suppressed or missing
                // figure breaks it, so no value is drawn that was not published.
                @for run in runs(points, g) {
                    @if run.len() > 1 {
                        polyline fill="none" stroke=(PALETTE[g]) stroke-width="2"
                            points=(run.iter().map(|&(i, n)| format!("{:.1},{:.1}", xs[i], y(n))).collect::<Vec<_>>().join(" ")) {}
                    }
                    @for &(i, n) in &run {
                        circle.point cx=(format!("{:.1}", xs[i])) cy=(format!("{:.1}", y(n))) r="3.5" fill=(PALETTE[g]) {}
                    }
                }
            }
        }
    }
}

/// The stretches of consecutive points where group `g` has a published count.
fn runs(points: &[Point], g: usize) -> Vec<Vec<(usize, u64)>> {
    let mut runs = vec![Vec::new()];
    for (i, point) in points.iter().enumerate() {
        match point.cells[g] {
            Cell::Count(n) => runs.last_mut().expect("never empty").push((i, n)),
            _ => runs.push(Vec::new()),
        }
    }
    runs.retain(|run| !run.is_empty());
    runs
}

fn classification_chart(lang: Lang, points: &[Point], desc: &str) -> Markup {
    let xs = xs(points);
    let end = WIDTH - RIGHT;
    let height = 90.0;
    html! {
        svg.chart #classification-chart viewBox=(format!("0 0 {WIDTH} {height}")) role="img"
            aria-labelledby="classification-chart-title classification-chart-desc" {
            title #classification-chart-title { (lang.text("board-classification-chart")) }
            desc #classification-chart-desc { (desc) }
            @for (i, point) in points.iter().enumerate() {
                // Each classification holds from its determination until the next one; with a
                // single instant, across the whole chart.
                @let start = if points.len() == 1 { LEFT } else { xs[i] };
                @let stop = xs.get(i + 1).copied().unwrap_or(end);
                rect.band x=(format!("{start:.1}")) y=(TOP) width=(format!("{:.1}", (stop - start).max(2.0)))
                    height=(height - TOP - BOTTOM) fill=(colour_of(point.classification as i32)) {}
            }
            line.axis x1=(LEFT) y1=(height - BOTTOM) x2=(end) y2=(height - BOTTOM) {}
            (time_labels_at(points, &xs, height))
        }
    }
}

fn time_labels(points: &[Point], xs: &[f64]) -> Markup {
    time_labels_at(points, xs, HEIGHT)
}

/// The first and last dates under the time axis of a chart `height` high.
fn time_labels_at(points: &[Point], xs: &[f64], height: f64) -> Markup {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return html! {};
    };
    let y = height - BOTTOM + 18.0;
    html! {
        text x=(format!("{:.1}", xs[0])) y=(y) text-anchor="start" { (date(first.at)) }
        @if points.len() > 1 && date(first.at) != date(last.at) {
            text x=(WIDTH - RIGHT) y=(y) text-anchor="end" { (date(last.at)) }
        }
    }
}

fn colour_of(classification: i32) -> &'static str {
    PALETTE[usize::try_from(classification).unwrap_or(0) % PALETTE.len()]
}

/// A small square of `colour` for a chart's legend (decorative: the legend's text names it).
fn swatch(colour: &str) -> Markup {
    html! {
        svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true" focusable="false" {
            rect width="14" height="14" fill=(colour) {}
        }
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
fn date(seconds: i64) -> String {
    local_time(seconds, "UTC").chars().take(10).collect()
}

fn reviews(lang: Lang, determination: &LeadershipDetermination) -> Markup {
    html! {
        h2 { (lang.text("board-reviews")) }
        @if determination.reviews.is_empty() {
            p { (lang.text("board-no-reviews")) }
        } @else {
            (scrollable(&lang.text("board-reviews"), html! {
                table {
                    (column_heads(lang, &[
                        "board-review-agency",
                        "board-review-verdict",
                        "board-review-at",
                        "board-review-comment",
                    ]))
                    tbody {
                        // The reviewer's directory id is not shown: the board is public.
                        @for review in &determination.reviews {
                            tr {
                                td { (word(lang, Agency::try_from(review.agency).unwrap_or_default())) }
                                td { (word(lang, ReviewVerdict::try_from(review.verdict).unwrap_or_default())) }
                                td { (review.at.as_ref().map(|t| local_time(t.seconds, "UTC")).unwrap_or_default()) }
                                td { (review.comment) }
                            }
                        }
                    }
                }
            }))
        }
    }
}

/// A page with just a heading and a sentence, for the answers that are not the board.
fn message_page(status: StatusCode, lang: Lang, uri: &Uri, title: &str, text: &str) -> Response {
    let main = html! {
        h1 { (title) }
        p { (text) }
        p { a href=(format!("/?lang={}", lang.code())) { (lang.text("page-back-home")) } }
    };
    render(
        status,
        Page {
            lang,
            title: title.to_owned(),
            here: Here::new(uri),
            main,
        },
    )
}

fn not_found(lang: Lang, uri: &Uri) -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        lang,
        uri,
        &lang.text("page-not-found"),
        &lang.text("page-not-found-text"),
    )
}

/// A query the board does not take. Its `?lang=` may be what is wrong, so the language is
/// the browser's.
fn bad_request(uri: &Uri, headers: &HeaderMap) -> Response {
    let lang = tandem_web::language(None, headers);
    message_page(
        StatusCode::BAD_REQUEST,
        lang,
        uri,
        &lang.text("board-bad-request-title"),
        &lang.text("board-bad-request"),
    )
}

fn starting(lang: Lang, uri: &Uri) -> Response {
    let mut response = message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        uri,
        &lang.text("board-starting-title"),
        &lang.text("board-starting"),
    );
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_only_values_the_board_offers() {
        let parsed = Filters::parse(
            Some("col".into()),
            Some("CLASSIFICATION_MIXED_MOVEMENT".into()),
            Some("UNHCR".into()),
        );
        assert_eq!(
            parsed,
            Ok(Filters {
                country: Some("COL".into()),
                classification: Some(Classification::MixedMovement),
                lead: Some(Agency::Unhcr),
            })
        );
        assert_eq!(Filters::parse(None, None, None), Ok(Filters::default()));
        assert!(Filters::parse(Some("<b>".into()), None, None).is_err());
        assert!(Filters::parse(None, Some("mixed".into()), None).is_err());
        assert!(Filters::parse(None, None, Some("PARTNER".into())).is_err());
    }

    #[test]
    fn a_suppressed_figure_breaks_the_line_rather_than_being_drawn() {
        let point = |count| Point {
            at: 0,
            classification: Classification::MixedMovement,
            cells: disclosure::disclose([(PopulationGroup::Refugee, count)]).cells,
            trace_url: None,
        };
        let points = [point(100), point(200), point(3), point(400)];
        assert_eq!(
            runs(&points, 0),
            vec![vec![(0, 100), (1, 200)], vec![(3, 400)]]
        );
    }
}
