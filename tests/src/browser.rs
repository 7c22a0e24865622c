//! Pages in a real browser: headless Chromium driven through chromedriver (WebDriver) with
//! fantoccini, for tests of what a person sees: the board, a situation page, an inbox.
//!
//! - [`Browser::start`]: a chromedriver of the test's own on a free port (killed on drop, with
//!   the Chromium it started) and a fresh Chromium profile, at a given window width: 360 px for
//!   a phone, [`DESKTOP`] for a desktop.
//! - [`Browser::serious_violations`]: axe-core injected into the page, its serious and critical
//!   accessibility violations.
//! - [`Browser::visible_texts`]: what a reader reads on the page, and [`untranslated`]: the
//!   English messages found in a page served in French or Spanish.
//!
//! Chromium and chromedriver are Debian's (`apt-get install chromium chromium-driver`); axe-core
//! comes from npm into `target/npm`. scripts/test installs all three; without them a test fails
//! with a message naming the command that installs what is missing.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tandem_i18n::Lang;
use tempfile::TempDir;

use crate::{eventually, process::free_ports};

/// A phone's width.
pub const PHONE: (u32, u32) = (360, 780);

/// A desktop's window.
pub const DESKTOP: (u32, u32) = (1280, 900);

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const APT_HINT: &str =
    "install them with `apt-get install chromium chromium-driver` (scripts/test does)";

/// The flags Chromium runs with: headless, no sandbox (tests run as root in CI), and nothing
/// that reaches the network on its own.
const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// axe-core as scripts/test installs it.
pub fn axe_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/npm/node_modules/axe-core/axe.min.js")
}

/// A headless Chromium under a chromedriver of the test's own.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and a Chromium session with a window of `(width, height)`.
    ///
    /// # Panics
    /// When Chromium or chromedriver is not installed, or does not start.
    pub async fn start((width, height): (u32, u32)) -> Self {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: {APT_HINT}"
            );
        }
        let port = free_ports(1)[0];
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that dropping the browser ends Chromium with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {CHROMEDRIVER}: {error}"));
        let profile = tempfile::tempdir().expect("cannot make a Chromium profile directory");
        let mut browser = Self {
            client: None,
            driver,
            _profile: profile,
        };
        let mut args: Vec<String> = FLAGS.iter().map(|flag| (*flag).to_owned()).collect();
        args.push(format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        ));
        args.push(format!("--window-size={width},{height}"));
        let capabilities = json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let url = format!("http://127.0.0.1:{port}");
        let client = eventually(
            format_args!("chromedriver on port {port} to start a Chromium session"),
            Duration::from_secs(60),
            || {
                let capabilities = capabilities.clone();
                let url = url.clone();
                async move {
                    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                        .capabilities(capabilities)
                        .connect(&url)
                        .await
                }
            },
        )
        .await;
        client
            .set_window_size(width, height)
            .await
            .expect("the window can be resized");
        browser.client = Some(client);
        browser
    }

    /// The WebDriver client, for what the helpers here do not do.
    pub fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("a started browser has a client")
    }

    /// Opens `url` and waits for it to load.
    pub async fn open(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
    }

    /// The value of `script` (a function body; `return` gives its value) run in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.client()
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("script failed in the page: {error}\n{script}"))
    }

    /// The page's `<html lang>`.
    pub async fn html_lang(&self) -> String {
        self.eval("return document.documentElement.lang")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Every text of the page in its own language, one node a line: the title, every text
    /// node of the body (hidden ones too: a collapsed table, an SVG's `title` and `desc`), and
    /// the texts given to assistive technology (`aria-label`, `alt`, `title`). A passage marked
    /// with another `lang` (the policy's English rationale on a French page, a language's own
    /// name in the language switch) is left out: it says what language it is in.
    pub async fn visible_texts(&self) -> String {
        let texts = self
            .eval(
                "const lang = document.documentElement.lang;
                 const own = node => (node.closest('[lang]') || document.documentElement).lang === lang;
                 const texts = [document.title];
                 const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                 for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                   const parent = node.parentElement;
                   if (!parent || !own(parent) || parent.closest('script, style')) continue;
                   texts.push(node.textContent);
                 }
                 for (const e of document.querySelectorAll('[aria-label], [alt], [title]')) {
                   if (!own(e)) continue;
                   for (const name of ['aria-label', 'alt', 'title']) {
                     if (e.hasAttribute(name)) texts.push(e.getAttribute(name));
                   }
                 }
                 return texts.join('\\n');",
            )
            .await;
        texts.as_str().unwrap_or_default().to_owned()
    }

    /// The page's serious and critical accessibility violations by axe-core, one line each:
    /// the rule, its help text and the elements that break it.
    ///
    /// # Panics
    /// When axe-core is not installed.
    pub async fn serious_violations(&self) -> Vec<String> {
        let path = axe_path();
        let axe = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "axe-core is missing at {} ({error}): install it with \
                 `npm install --prefix target/npm axe-core` (scripts/test does)",
                path.display()
            )
        });
        self.eval(&axe).await;
        let found = self
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(result => done(
                   result.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => `${v.impact} ${v.id}: ${v.help} at ` +
                        v.nodes.map(n => n.target.join(' ')).join(', '))
                 ), error => done(['axe failed: ' + error]));",
                Vec::new(),
            )
            .await
            .expect("axe-core runs in the page");
        serde_json::from_value(found).expect("axe's violations as texts")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver's whole process group: the driver and the Chromium it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The English texts of the messages of `sections` (the `## Section` headings of the Fluent
/// files: `Board`, `Page`, `Words`, ...) that `lang` translates differently and that appear,
/// as whole words, in `text`: what a page in `lang` shows untranslated. A message's text is
/// taken between its placeholders, so `Figures as of { $date }` is looked for as `Figures as of`.
pub fn untranslated(lang: Lang, sections: &[&str], text: &str) -> Vec<String> {
    let english = fragments(Lang::En, sections);
    let translated = fragments(lang, sections);
    let mut found = BTreeSet::new();
    for (id, fragments) in &english {
        let theirs = translated.iter().find(|(other, _)| other == id);
        for fragment in fragments {
            if theirs.is_some_and(|(_, theirs)| theirs.contains(fragment)) {
                continue;
            }
            let pattern = format!(r"(^|[^\p{{L}}]){}($|[^\p{{L}}])", regex::escape(fragment));
            let regex = regex::Regex::new(&pattern).expect("an escaped text is a regex");
            if regex.is_match(text) {
                found.insert(format!("{id}: {fragment:?}"));
            }
        }
    }
    found.into_iter().collect()
}

/// Each message of `sections` in `lang`, with its texts between placeholders (of at least
/// three characters: shorter ones are parts of words in any language).
fn fragments(lang: Lang, sections: &[&str]) -> Vec<(String, Vec<String>)> {
    use fluent_syntax::ast::{Entry, PatternElement};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../services/i18n/locales/{}/tandem.ftl",
        lang.code()
    ));
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let resource = fluent_syntax::parser::parse(source.as_str())
        .unwrap_or_else(|(_, errors)| panic!("{} does not parse: {errors:?}", path.display()));
    let mut section = String::new();
    let mut messages = Vec::new();
    for entry in resource.body {
        match entry {
            Entry::GroupComment(comment) => {
                let heading = comment.content.first().copied().unwrap_or_default();
                section = heading
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
            }
            Entry::Message(message) if sections.contains(&section.as_str()) => {
                let Some(pattern) = message.value else {
                    continue;
                };
                let texts = pattern
                    .elements
                    .iter()
                    .filter_map(|element| match element {
                        PatternElement::TextElement { value } => Some(value.trim()),
                        PatternElement::Placeable { .. } => None,
                    })
                    .filter(|text| text.chars().count() >= 3)
                    .map(str::to_owned)
                    .collect();
                messages.push((message.id.name.to_owned(), texts));
            }
            _ => {}
        }
    }
    assert!(
        !messages.is_empty(),
        "no messages in sections {sections:?} of {}",
        path.display()
    );
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_left_in_a_translated_page_is_found_and_words_inside_others_are_not() {
        let page = "Tablero de situaciones\nconflicto\nSkip to content";
        let found = untranslated(Lang::Es, &["Page", "Words"], page);
        assert_eq!(found, vec!["page-skip: \"Skip to content\"".to_owned()]);
        let spanish = Lang::Es.text("page-skip") + "\n" + &Lang::Es.text("driver-conflict");
        assert!(untranslated(Lang::Es, &["Page", "Words"], &spanish).is_empty());
    }
}
