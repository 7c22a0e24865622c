//! The directory of focal points, in KV `tandem-directory`: parsing and validating import files
//! (JSON or YAML), storing, listing without secrets, removing, and following one agency's
//! entries in memory ([`LiveDirectory`]) for the recipient rules.
//!
//! Keys are `<agency>.<id>` (`iom.col-cc`), so a NATS account can later allow each agency's
//! notifier only its own half of the bucket (`$KV.tandem-directory.iom.>`).
//!
//! Entries hold names, addresses and webhook secrets: personal data and credentials. Nothing
//! here logs an entry, its `Debug` output redacts secrets, and [`EntrySummary`] is what leaves
//! the service.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use async_nats::jetstream::{self, kv};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tandem_i18n::Lang;
use tandem_proto::v1::Role;
use tandem_runtime::{Shutdown, config::StorageConfig, kv_scan, topology};

use crate::{
    config::{NotifyAgency, WebhookConfig},
    destination,
    webhook::WebhookSecret,
};

/// Previous secrets a webhook may keep signing with during a rotation.
pub const MAX_PREVIOUS_SECRETS: usize = 3;

/// One focal point.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// Unique in the directory; names the recipient in subjects and events. `[A-Za-z0-9_-]`.
    pub id: String,
    /// The person's name (personal data).
    pub name: String,
    /// The agency they work for.
    pub agency: NotifyAgency,
    /// Their role, by its contract name (`ROLE_COUNTRY_COORDINATOR`).
    pub role: RoleName,
    /// ISO 3166-1 alpha-3 codes they cover; empty covers every country.
    pub countries: Vec<String>,
    /// How notifications reach them.
    pub channels: Vec<ChannelSpec>,
    /// The language of their e-mails, notification summaries and inbox: `en`, `fr` or `es`.
    #[serde(default = "default_lang")]
    pub lang: String,
    /// Their IANA time zone (`America/Bogota`), in which e-mails and the inbox show times.
    #[serde(default = "default_tz")]
    pub tz: String,
}

fn default_lang() -> String {
    Lang::En.code().into()
}

fn default_tz() -> String {
    "UTC".into()
}

impl fmt::Debug for DirectoryEntry {
    /// Only what may be logged: the id, agency, role and coverage, never the name or channels'
    /// addresses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryEntry")
            .field("id", &self.id)
            .field("agency", &self.agency)
            .field("role", &self.role)
            .field("countries", &self.countries)
            .field("channels", &self.channels)
            .field("lang", &self.lang)
            .field("tz", &self.tz)
            .finish_non_exhaustive()
    }
}

impl DirectoryEntry {
    /// The language they read (English for a value stored before `lang` existed).
    pub fn lang(&self) -> Lang {
        Lang::from_tag(&self.lang).unwrap_or_default()
    }

    /// Whether the entry covers `country`.
    pub fn covers(&self, country: &str) -> bool {
        self.countries.is_empty() || self.countries.iter().any(|c| c == country)
    }
}

/// A role, stored by its contract name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleName(pub Role);

impl Serialize for RoleName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str_name())
    }
}

impl<'de> Deserialize<'de> for RoleName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_role(&text)
            .map(RoleName)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown role {text:?}")))
    }
}

/// A way to reach a focal point.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelSpec {
    /// The notification on `tandem.notify.out.<agency>.<id>`, for the agency's own systems.
    Nats {},
    /// An HTTP POST of the JSON notification, signed as Standard Webhooks defines
    /// ([`crate::webhook`]).
    Webhook {
        /// A public `https://` URL ([`crate::destination`]).
        url: String,
        /// The signing secret, `whsec_<base64>`.
        secret: String,
        /// Secrets replaced by `secret` that still sign deliveries while the receiver moves
        /// to the new one (a rotation); at most [`MAX_PREVIOUS_SECRETS`].
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        previous_secrets: Vec<String>,
    },
    /// A plain-text and HTML e-mail.
    Email {
        /// The mailbox.
        address: String,
    },
}

impl fmt::Debug for ChannelSpec {
    /// Never prints the webhook secret, nor the URL (which may carry a token) or the address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ChannelSpec {
    /// The channel's kind.
    pub fn kind(&self) -> tandem_proto::v1::Channel {
        use tandem_proto::v1::Channel;
        match self {
            ChannelSpec::Nats {} => Channel::Nats,
            ChannelSpec::Webhook { .. } => Channel::Webhook,
            ChannelSpec::Email { .. } => Channel::Email,
        }
    }

    /// A description safe to show: the kind, and for a webhook its host, for e-mail its domain.
    pub fn describe(&self) -> String {
        match self {
            ChannelSpec::Nats {} => "nats".into(),
            ChannelSpec::Webhook { url, .. } => {
                let host = reqwest::Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_default();
                format!("webhook({host})")
            }
            ChannelSpec::Email { address } => {
                let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
                format!("email(…@{domain})")
            }
        }
    }
}

/// What `tandem directory list` shows of an entry: no secret, no URL path, no mailbox.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntrySummary {
    /// Directory id.
    pub id: String,
    /// `iom` or `unhcr`.
    pub agency: NotifyAgency,
    /// Contract role name.
    pub role: String,
    /// The person's name.
    pub name: String,
    /// Countries covered (empty: all).
    pub countries: Vec<String>,
    /// Channel descriptions from [`ChannelSpec::describe`].
    pub channels: Vec<String>,
}

impl From<&DirectoryEntry> for EntrySummary {
    fn from(entry: &DirectoryEntry) -> Self {
        Self {
            id: entry.id.clone(),
            agency: entry.agency,
            role: entry.role.0.as_str_name().to_string(),
            name: entry.name.clone(),
            countries: entry.countries.clone(),
            channels: entry.channels.iter().map(ChannelSpec::describe).collect(),
        }
    }
}

/// What `tandem directory list` prints: a header and one line per entry, with
/// [`EntrySummary`]'s fields only (no secret, no URL path, no mailbox).
pub fn render_list(entries: &[DirectoryEntry]) -> String {
    let mut out = format!(
        "{:<24} {:<6} {:<21} {:<16} {:<24} CHANNELS\n",
        "ID", "AGENCY", "ROLE", "COUNTRIES", "NAME"
    );
    for entry in entries {
        let summary = EntrySummary::from(entry);
        let countries = if summary.countries.is_empty() {
            "(all)".to_string()
        } else {
            summary.countries.join(",")
        };
        out.push_str(&format!(
            "{:<24} {:<6} {:<21} {:<16} {:<24} {}\n",
            summary.id,
            summary.agency.token(),
            summary.role.trim_start_matches("ROLE_"),
            countries,
            summary.name,
            summary.channels.join(" ")
        ));
    }
    out
}

/// An import file that was refused, with every problem found.
#[derive(Debug, thiserror::Error)]
#[error("the directory file was refused ({} problem(s)); nothing was imported:\n  {}", .0.len(), .0.join("\n  "))]
pub struct ImportErrors(pub Vec<String>);

/// [`parse_with`] the default, strict webhook destinations: public `https://` URLs only.
pub fn parse(text: &str) -> Result<Vec<DirectoryEntry>, ImportErrors> {
    parse_with(text, &WebhookConfig::default())
}

/// Parses and validates a directory file: a JSON or YAML list of entries (or an object with
/// an `entries` list), with webhook URLs checked against `webhooks`' destinations. Every
/// problem of every entry is reported; one problem refuses the file.
pub fn parse_with(
    text: &str,
    webhooks: &WebhookConfig,
) -> Result<Vec<DirectoryEntry>, ImportErrors> {
    let document: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        // Not JSON: YAML (JSON is YAML too, but JSON's own parser gives better errors for it).
        Err(json_error) => {
            let looks_like_json = text.trim_start().starts_with(['[', '{']);
            match serde_saphyr::from_str::<Value>(text) {
                Ok(value) => value,
                Err(_) if looks_like_json => {
                    return Err(ImportErrors(vec![format!("not valid JSON: {json_error}")]));
                }
                Err(yaml_error) => {
                    return Err(ImportErrors(vec![format!(
                        "neither JSON nor YAML: {yaml_error}"
                    )]));
                }
            }
        }
    };
    let items = match document {
        Value::Array(items) => items,
        Value::Object(mut object) if object.contains_key("entries") => {
            match object.remove("entries") {
                Some(Value::Array(items)) => items,
                _ => return Err(ImportErrors(vec!["`entries` must be a list".into()])),
            }
        }
        _ => {
            return Err(ImportErrors(vec![
                "expected a list of directory entries".into(),
            ]));
        }
    };
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        let label = match item.get("id").and_then(Value::as_str) {
            Some(id) => format!("entry {} ({id})", index + 1),
            None => format!("entry {}", index + 1),
        };
        if let Some(id) = item.get("id").and_then(Value::as_str)
            && !seen.insert(id.trim().to_string())
        {
            errors.push(format!("{label}: id: {id} appears more than once"));
        }
        match validate_entry(item, webhooks) {
            Ok(entry) => entries.push(entry),
            Err(problems) => errors.extend(problems.into_iter().map(|p| format!("{label}: {p}"))),
        }
    }
    if items.is_empty() {
        errors.push("the file holds no entries".into());
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(ImportErrors(errors))
    }
}

fn validate_entry(item: &Value, webhooks: &WebhookConfig) -> Result<DirectoryEntry, Vec<String>> {
    let mut problems = Vec::new();
    let Some(object) = item.as_object() else {
        return Err(vec!["must be an object".into()]);
    };
    for key in object.keys() {
        if ![
            "id",
            "name",
            "agency",
            "role",
            "countries",
            "channels",
            "lang",
            "tz",
        ]
        .contains(&key.as_str())
        {
            problems.push(format!("{key}: unknown field"));
        }
    }
    let text = |field: &str, problems: &mut Vec<String>| -> Option<String> {
        match object.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::String(_)) | None => {
                problems.push(format!("{field}: required"));
                None
            }
            Some(_) => {
                problems.push(format!("{field}: must be text"));
                None
            }
        }
    };
    let id = text("id", &mut problems);
    if let Some(id) = &id
        && !is_valid_id(id)
    {
        problems.push(format!(
            "id: {id:?} must be 1–64 of A-Z a-z 0-9 _ - (it names the recipient in subjects)"
        ));
    }
    let name = text("name", &mut problems);
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        problems.push("name: longer than 200 characters".into());
    }
    let agency = text("agency", &mut problems).and_then(|a| {
        let parsed = parse_agency(&a);
        if parsed.is_none() {
            problems.push(format!(
                "agency: unknown agency {a:?} (AGENCY_IOM, AGENCY_UNHCR, iom or unhcr)"
            ));
        }
        parsed
    });
    let role = text("role", &mut problems).and_then(|r| {
        let parsed = parse_role(&r);
        if parsed.is_none() {
            problems.push(format!(
                "role: unknown role {r:?} (COUNTRY_COORDINATOR, DATA_FOCAL_POINT, REGIONAL_COORDINATOR or HQ)"
            ));
        }
        parsed
    });
    let mut countries = Vec::new();
    match object.get("countries") {
        None | Some(Value::Null) => {}
        Some(Value::Array(codes)) => {
            for code in codes {
                match code.as_str() {
                    Some(c) if rust_iso3166::from_alpha3(c).is_some() => {
                        if !countries.iter().any(|known| known == c) {
                            countries.push(c.to_string());
                        }
                    }
                    Some(c) => problems.push(format!(
                        "countries: {c:?} is not an ISO 3166-1 alpha-3 code"
                    )),
                    None => problems.push("countries: codes must be text".into()),
                }
            }
        }
        Some(_) => problems.push("countries: must be a list of ISO3 codes".into()),
    }
    let lang = match object.get("lang") {
        None | Some(Value::Null) => default_lang(),
        Some(Value::String(code)) if Lang::ALL.iter().any(|l| l.code() == code.trim()) => {
            code.trim().to_string()
        }
        Some(other) => {
            problems.push(format!(
                "lang: {} is not a language tandem speaks (en, fr or es)",
                cut_value(other)
            ));
            default_lang()
        }
    };
    let tz = match object.get("tz") {
        None | Some(Value::Null) => default_tz(),
        Some(Value::String(zone)) if tandem_i18n::known_time_zone(zone.trim()) => {
            zone.trim().to_string()
        }
        Some(other) => {
            problems.push(format!(
                "tz: {} is not an IANA time zone (e.g. America/Bogota, Africa/Dakar, UTC)",
                cut_value(other)
            ));
            default_tz()
        }
    };
    let mut channels = Vec::new();
    match object.get("channels") {
        Some(Value::Array(list)) if !list.is_empty() => {
            for (index, channel) in list.iter().enumerate() {
                match validate_channel(channel, webhooks) {
                    // One claim per (notification, channel kind): a second of a kind would
                    // never be sent.
                    Ok(channel)
                        if channels
                            .iter()
                            .any(|c: &ChannelSpec| c.kind() == channel.kind()) =>
                    {
                        problems.push(format!(
                            "channels[{index}]: a second {} channel",
                            channel.describe()
                        ));
                    }
                    Ok(channel) => channels.push(channel),
                    Err(found) => problems
                        .extend(found.into_iter().map(|p| format!("channels[{index}]: {p}"))),
                }
            }
        }
        Some(Value::Array(_)) | None => problems.push("channels: at least one is required".into()),
        Some(_) => problems.push("channels: must be a list".into()),
    }
    match (id, name, agency, role) {
        (Some(id), Some(name), Some(agency), Some(role)) if problems.is_empty() => {
            Ok(DirectoryEntry {
                id,
                name,
                agency,
                role: RoleName(role),
                countries,
                channels,
                lang,
                tz,
            })
        }
        _ => Err(problems),
    }
}

/// A refused value as the import's answer repeats it: at most 64 characters.
fn cut_value(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

fn validate_channel(channel: &Value, webhooks: &WebhookConfig) -> Result<ChannelSpec, Vec<String>> {
    let Some((kind, settings)) = channel
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(vec![
            "must be one of {nats: {}}, {webhook: {url, secret}}, {email: {address}}".into(),
        ]);
    };
    let field = |name: &str| {
        settings
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match kind.as_str() {
        "nats" => Ok(ChannelSpec::Nats {}),
        "webhook" => {
            let mut problems = Vec::new();
            for key in settings.as_object().into_iter().flat_map(|o| o.keys()) {
                if !["url", "secret", "previous_secrets"].contains(&key.as_str()) {
                    problems.push(format!("webhook: {key}: unknown field"));
                }
            }
            let url = field("url");
            match url
                .as_deref()
                .map(|url| destination::check_url(url, webhooks))
            {
                None => problems.push("webhook: url required".to_string()),
                Some(Err(refusal)) => problems.push(format!("webhook: url: {refusal}")),
                Some(Ok(_)) => {}
            }
            let secret = field("secret");
            match secret.as_deref().map(WebhookSecret::parse) {
                None => problems.push("webhook: secret required".into()),
                Some(Err(problem)) => problems.push(format!("webhook: secret: {problem}")),
                Some(Ok(_)) => {}
            }
            let mut previous_secrets = Vec::new();
            match settings.get("previous_secrets") {
                None | Some(Value::Null) => {}
                Some(Value::Array(list)) if list.len() <= MAX_PREVIOUS_SECRETS => {
                    for (index, previous) in list.iter().enumerate() {
                        match previous.as_str().map(|p| (p, WebhookSecret::parse(p.trim()))) {
                            Some((text, Ok(_))) => previous_secrets.push(text.trim().to_string()),
                            Some((_, Err(problem))) => problems
                                .push(format!("webhook: previous_secrets[{index}]: {problem}")),
                            None => problems
                                .push(format!("webhook: previous_secrets[{index}]: must be text")),
                        }
                    }
                }
                Some(_) => problems.push(format!(
                    "webhook: previous_secrets: must be a list of at most {MAX_PREVIOUS_SECRETS} secrets"
                )),
            }
            match (url, secret) {
                (Some(url), Some(secret)) if problems.is_empty() => Ok(ChannelSpec::Webhook {
                    url,
                    secret,
                    previous_secrets,
                }),
                _ => Err(problems),
            }
        }
        "email" => {
            let address = field("address").ok_or(vec!["email: address required".to_string()])?;
            address
                .parse::<lettre::Address>()
                .map_err(|_| vec![format!("email: bad address {address:?}")])?;
            Ok(ChannelSpec::Email { address })
        }
        other => Err(vec![format!(
            "unknown channel {other:?} (nats, webhook or email)"
        )]),
    }
}

/// Whether `id` can name a recipient in a subject token and a KV key.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validates a whole directory document (JSON or YAML) and stores every entry, or none when
/// any is invalid: how the demo and the benchmark bring in their bundled focal points.
pub async fn import_document(js: &jetstream::Context, text: &str) -> anyhow::Result<()> {
    let entries = parse(text).map_err(|errors| anyhow::anyhow!("directory: {errors}"))?;
    Directory::open(js, &StorageConfig::default())
        .await?
        .import(&entries)
        .await
}

/// `AGENCY_IOM`, `iom`, `AGENCY_UNHCR`, `unhcr` (any case).
pub fn parse_agency(text: &str) -> Option<NotifyAgency> {
    let upper = text.trim().to_ascii_uppercase();
    match upper.strip_prefix("AGENCY_").unwrap_or(&upper) {
        "IOM" => Some(NotifyAgency::Iom),
        "UNHCR" => Some(NotifyAgency::Unhcr),
        _ => None,
    }
}

/// `ROLE_COUNTRY_COORDINATOR` or `COUNTRY_COORDINATOR` (any case), and so on.
pub fn parse_role(text: &str) -> Option<Role> {
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("ROLE_").unwrap_or(&upper);
    Role::from_str_name(&format!("ROLE_{name}")).filter(|role| *role != Role::Unspecified)
}

/// The directory in KV.
#[derive(Clone)]
pub struct Directory {
    store: kv::Store,
    js: jetstream::Context,
}

impl Directory {
    /// Opens (creating when missing) the directory bucket.
    pub async fn open(js: &jetstream::Context, storage: &StorageConfig) -> anyhow::Result<Self> {
        let (bucket, reads) = topology::directory_bucket(storage);
        let store = topology::ensure_bucket(js, bucket, reads).await?;
        Ok(Self {
            store,
            js: js.clone(),
        })
    }

    /// Stores `entries`, replacing entries with the same id. An id may belong to one agency
    /// only: moving an entry to the other agency removes it from the first.
    pub async fn import(&self, entries: &[DirectoryEntry]) -> anyhow::Result<()> {
        for entry in entries {
            let value = serde_json::to_vec(entry)?;
            self.store
                .put(key(entry.agency, &entry.id), value.into())
                .await
                .with_context(|| format!("cannot store directory entry {}", entry.id))?;
            for other in NotifyAgency::ALL.into_iter().filter(|a| *a != entry.agency) {
                if self.get(other, &entry.id).await?.is_some() {
                    self.store.delete(key(other, &entry.id)).await?;
                }
            }
        }
        Ok(())
    }

    /// Removes entry `id`; whether there was one.
    pub async fn remove(&self, id: &str) -> anyhow::Result<bool> {
        let mut found = false;
        for agency in NotifyAgency::ALL {
            if self.get(agency, id).await?.is_some() {
                self.store.delete(key(agency, id)).await?;
                found = true;
            }
        }
        Ok(found)
    }

    /// Entry `id` of `agency`.
    pub async fn get(
        &self,
        agency: NotifyAgency,
        id: &str,
    ) -> anyhow::Result<Option<DirectoryEntry>> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        let Some(bytes) = self.store.get(key(agency, id)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Every entry of both agencies, sorted by agency and id. An entry that cannot be read
    /// (written by hand) is skipped with a warning naming only its key.
    pub async fn entries(&self) -> anyhow::Result<Vec<DirectoryEntry>> {
        let mut stored = kv_scan::scan(&self.js, topology::DIRECTORY_BUCKET, ">")
            .await
            .map_err(|error| anyhow::anyhow!("cannot list the directory: {error:#}"))?;
        stored.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(stored.iter().filter_map(read_stored).collect())
    }
}

fn key(agency: NotifyAgency, id: &str) -> String {
    format!("{}.{id}", agency.token())
}

/// The entry a stored value holds; `None`, with a warning naming only the key, when it cannot be
/// read (written by hand).
fn read_stored(stored: &kv_scan::KvEntry) -> Option<DirectoryEntry> {
    serde_json::from_slice(&stored.value)
        .inspect_err(|_| tracing::warn!(key = stored.key, "unreadable directory entry skipped"))
        .ok()
}

/// How long a lookup waits for the directory's first reading.
pub const FIRST_READ_WAIT: Duration = Duration::from_secs(10);

/// One agency's directory held in memory and kept current by a watch of its half of the
/// bucket, so finding the recipients of a determination costs no round trip to the server
/// (reading the bucket for each one was most of the server's work per report in
/// `tandem bench`). A change to the directory reaches it within moments.
#[derive(Clone)]
pub struct LiveDirectory {
    current: tokio::sync::watch::Receiver<Option<Arc<Vec<DirectoryEntry>>>>,
}

impl LiveDirectory {
    /// Starts following `agency`'s entries until `shutdown`.
    pub fn start(js: &jetstream::Context, agency: NotifyAgency, shutdown: Shutdown) -> Self {
        let (sender, current) = tokio::sync::watch::channel(None);
        tokio::spawn(follow(js.clone(), agency, sender, shutdown));
        Self { current }
    }

    /// The entries, sorted by id; waits until they have been read once, for at most
    /// [`FIRST_READ_WAIT`] (then an error, so the determination is retried, and dead-lettered
    /// in the end if the directory can never be read, rather than held for ever).
    pub async fn entries(&self) -> anyhow::Result<Arc<Vec<DirectoryEntry>>> {
        let mut current = self.current.clone();
        let entries = tokio::time::timeout(FIRST_READ_WAIT, current.wait_for(Option::is_some))
            .await
            .map_err(|_| anyhow::anyhow!("the directory has not been read yet"))?
            .map_err(|_| anyhow::anyhow!("the directory is no longer followed"))?;
        Ok(entries.clone().unwrap_or_default())
    }
}

/// Mirrors `agency`'s half of the bucket into `sender`. Until a re-opened watch has read every
/// entry, the previous copy stays in use.
async fn follow(
    js: jetstream::Context,
    agency: NotifyAgency,
    sender: tokio::sync::watch::Sender<Option<Arc<Vec<DirectoryEntry>>>>,
    shutdown: Shutdown,
) {
    let filter = format!("{}.>", agency.token());
    let mut entries = BTreeMap::new();
    let publish = |entries: &BTreeMap<String, DirectoryEntry>| {
        sender.send_replace(Some(Arc::new(entries.values().cloned().collect())));
    };
    let on = |event| match event {
        kv_scan::Followed::Opened { initial } => {
            entries.clear();
            if initial == 0 {
                publish(&entries);
            }
        }
        kv_scan::Followed::Entry { entry, pending } => {
            let parsed = match entry.operation {
                kv::Operation::Put => read_stored(&entry),
                kv::Operation::Delete | kv::Operation::Purge => None,
            };
            match parsed {
                Some(parsed) => entries.insert(entry.key, parsed),
                None => entries.remove(&entry.key),
            };
            if pending == 0 {
                publish(&entries);
            }
        }
    };
    kv_scan::follow(
        &js,
        topology::DIRECTORY_BUCKET,
        &filter,
        "the directory",
        &shutdown,
        on,
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
- id: col-iom-cc
  name: Ana Pérez
  agency: AGENCY_IOM
  role: COUNTRY_COORDINATOR
  countries: [COL]
  channels:
    - nats: {}
    - webhook: {url: "https://hooks.example.org/tandem", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    - email: {address: "ana@example.org"}
- id: hq-unhcr
  name: HQ desk
  agency: unhcr
  role: ROLE_HQ
  channels: [{nats: {}}]
"#;

    #[test]
    fn language_and_time_zone_default_to_english_and_utc_and_are_checked() {
        let one = |extra: &str| {
            parse(&format!(
                "- {{id: cc, name: Awa, agency: iom, role: COUNTRY_COORDINATOR, channels: [{{nats: {{}}}}]{extra}}}"
            ))
        };
        let plain = one("").expect("valid");
        assert_eq!((plain[0].lang(), plain[0].tz.as_str()), (Lang::En, "UTC"));
        let dakar = one(", lang: fr, tz: Africa/Dakar").expect("valid");
        assert_eq!(
            (dakar[0].lang(), dakar[0].tz.as_str()),
            (Lang::Fr, "Africa/Dakar")
        );
        let wrong = one(", lang: de, tz: Mars/Olympus").expect_err("refused");
        let text = wrong.to_string();
        assert!(text.contains("lang: \"de\" is not a language"), "{text}");
        assert!(
            text.contains("tz: \"Mars/Olympus\" is not an IANA time zone"),
            "{text}"
        );
    }

    #[test]
    fn yaml_and_json_files_parse() {
        let entries = parse(GOOD).expect("valid");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].role.0, Role::CountryCoordinator);
        assert_eq!(entries[1].agency, NotifyAgency::Unhcr);
        assert!(entries[1].covers("UKR"));
        let json = serde_json::to_string(&entries).expect("json");
        assert_eq!(parse(&json).expect("json parses"), entries);
    }

    #[test]
    fn every_problem_is_listed_and_the_file_refused() {
        let bad = r#"[
          {"id": "a", "name": "A", "agency": "AGENCY_IOM", "role": "BOSS", "countries": ["XXX"],
           "channels": [{"webhook": {"url": "ftp://x", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}]},
          {"id": "b", "name": "B", "agency": "who", "role": "HQ",
           "channels": [{"email": {"address": "not-an-address"}}, {"pigeon": {}}]},
          {"id": "a", "name": "A2", "agency": "iom", "role": "HQ", "channels": [{"nats": {}}]}
        ]"#;
        let errors = parse(bad).expect_err("refused").0;
        let all = errors.join("\n");
        for expected in [
            "entry 1 (a): role: unknown role",
            "entry 1 (a): countries: \"XXX\"",
            "entry 1 (a): channels[0]: webhook: url: bad URL (needs https://)",
            "entry 2 (b): agency: unknown agency",
            "entry 2 (b): channels[0]: email: bad address",
            "entry 2 (b): channels[1]: unknown channel",
            "entry 3 (a): id: a appears more than once",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in\n{all}");
        }
        assert_eq!(errors.len(), 7, "{all}");
    }

    #[test]
    fn debug_output_hides_secrets_and_addresses() {
        let entries = parse(GOOD).expect("valid");
        let debug = format!("{:?}", entries[0]);
        assert!(!debug.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert!(!debug.contains("ana@example.org"));
        assert!(!debug.contains("/tandem"));
        assert!(!debug.contains("Pérez"));
        let summary = serde_json::to_string(&EntrySummary::from(&entries[0])).expect("json");
        assert!(
            !summary.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "{summary}"
        );
        assert!(summary.contains("webhook(hooks.example.org)"), "{summary}");
    }

    fn webhook_entry(url: &str, secret: &str, previous: &str) -> String {
        format!(
            r#"[{{"id": "a", "name": "A", "agency": "iom", "role": "HQ",
                 "channels": [{{"webhook": {{"url": "{url}", "secret": "{secret}"{previous}}}}}]}}]"#
        )
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn internal_and_plain_http_webhooks_are_refused_at_import_unless_the_operator_allows_them() {
        for (url, expected) in [
            (
                "https://169.254.169.254/latest",
                "169.254.169.254 is not a public address",
            ),
            ("https://10.0.0.7/hook", "10.0.0.7 is not a public address"),
            ("https://[fd12::1]/hook", "is not a public address"),
            (
                "https://nats.tandem.svc.cluster.local/hook",
                "is not a public address",
            ),
            (
                "https://localhost:8080/hook",
                "localhost is not a public address",
            ),
            ("http://127.0.0.1:8080/hook", "needs https://"),
            ("http://hooks.example.org/hook", "needs https://"),
        ] {
            let errors = parse(&webhook_entry(url, SECRET, "")).expect_err(url).0;
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(
                errors[0].starts_with("entry 1 (a): channels[0]: webhook: url: ")
                    && errors[0].contains(expected),
                "{url}: {errors:?}"
            );
        }
        let development = WebhookConfig {
            allow_loopback: true,
            allowed_internal_hosts: vec!["nats.tandem.svc.cluster.local".into()],
            ..WebhookConfig::default()
        };
        for url in [
            "http://127.0.0.1:8080/hook",
            "https://nats.tandem.svc.cluster.local/hook",
        ] {
            assert!(
                parse_with(&webhook_entry(url, SECRET, ""), &development).is_ok(),
                "{url}"
            );
        }
        assert!(
            parse_with(
                &webhook_entry("https://10.0.0.7/hook", SECRET, ""),
                &development
            )
            .is_err()
        );
    }

    #[test]
    fn webhook_secrets_follow_the_standard_and_rotate_with_previous_ones() {
        let url = "https://hooks.example.org/hook";
        let rotating = format!(r#", "previous_secrets": ["{SECRET}"]"#);
        let entries = parse(&webhook_entry(url, SECRET, &rotating)).expect("valid");
        assert!(matches!(
            &entries[0].channels[0],
            ChannelSpec::Webhook { previous_secrets, .. } if previous_secrets == &[SECRET.to_string()]
        ));
        for (secret, previous, expected) in [
            (
                "0123456789abcdef0123",
                "",
                "webhook: secret: must start with whsec_",
            ),
            (
                "whsec_c2hvcnQ=",
                "",
                "webhook: secret: must encode 24 to 64 bytes",
            ),
            (
                SECRET,
                r#", "previous_secrets": ["nope"]"#,
                "previous_secrets[0]: must start",
            ),
            (
                SECRET,
                &format!(
                    r#", "previous_secrets": ["{SECRET}", "{SECRET}", "{SECRET}", "{SECRET}"]"#
                ),
                "at most 3",
            ),
        ] {
            let errors = parse(&webhook_entry(url, secret, previous))
                .expect_err(expected)
                .0;
            assert!(errors.iter().any(|e| e.contains(expected)), "{errors:?}");
            assert!(
                !errors
                    .iter()
                    .any(|e| e.contains("0123456789abcdef") || e.contains("MfKQ9r8")),
                "{errors:?}"
            );
        }
    }
}
