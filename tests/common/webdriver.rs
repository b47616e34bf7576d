//! A headless Chromium driven over W3C WebDriver (Debian's `chromium` and
//! `chromium-driver`), for the console's end-to-end tests.
//!
//! Hand-written over reqwest (already a dependency) rather than fantoccini:
//! fantoccini's TLS stack pulls in aws-lc-sys, a C build needing cmake, for
//! a client that only ever talks to chromedriver on 127.0.0.1. The protocol
//! part used here is a dozen JSON calls.
//!
//! Every wait is a condition polled until a deadline, never a fixed sleep.
#![allow(dead_code)]

use crate::common::{TestServer, password_of};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page element may take to appear or change.
pub const WAIT: Duration = Duration::from_secs(10);

/// The W3C element key in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

/// A page element (its WebDriver id).
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session.
    /// Panics with the install command when they are missing.
    pub async fn start() -> Browser {
        let mut driver = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run chromedriver ({e}); apt-get install -y chromium chromium-driver")
            });
        let stdout = driver.stdout.take().expect("chromedriver stdout");
        // chromedriver prints "... started successfully on port N." once it
        // listens; reading its output is the readiness signal.
        let port = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let line = line.ok()?;
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let port: u16 = rest.trim_end_matches('.').trim().parse().ok()?;
                    // Keep draining so chromedriver never blocks on a full pipe.
                    std::thread::spawn(move || for _ in lines {});
                    return Some(port);
                }
            }
            None
        })
        .await
        .unwrap()
        .expect("chromedriver reports its port");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1366,900",
                         "--lang=ru-RU"]
            }
        }}});
        let reply: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {reply}"))
            .to_owned();
        Browser {
            driver,
            base,
            session,
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply: Value = request.send().await.unwrap().json().await.unwrap();
        reply["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn goto(&self, url: &str) {
        let reply = self.post("/url", json!({ "url": url })).await;
        assert!(reply.is_null(), "navigate to {url}: {reply}");
    }

    pub async fn current_url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn page_source(&self) -> String {
        self.get("/source")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element matching `css` now, if any.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let reply = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        reply[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned()))
    }

    /// Every element matching `css` now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let reply = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        reply
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item[ELEMENT_KEY].as_str())
                    .map(|id| Element(id.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for an element matching `css`.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(element) = self.try_find(css).await {
                return element;
            }
            if Instant::now() > deadline {
                let url = self.current_url().await;
                panic!("no element `{css}` on {url} within {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the text of the element matching `css` satisfies `ok`;
    /// returns that text.
    pub async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        loop {
            if let Some(element) = self.try_find(css).await {
                last = self.text(&element).await;
                if ok(&last) {
                    return last;
                }
            }
            if Instant::now() > deadline {
                panic!("`{css}` never showed {what} within {WAIT:?}; last text: {last:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's URL satisfies `ok`.
    pub async fn wait_url(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.current_url().await;
            if ok(&url) {
                return url;
            }
            if Instant::now() > deadline {
                panic!("URL never became {what}; last {url}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text(&self, element: &Element) -> String {
        self.get(&format!("/element/{}/text", element.0))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.get(&format!("/element/{}/attribute/{name}", element.0))
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// The DOM property (e.g. `value` of a textarea after typing).
    pub async fn property(&self, element: &Element, name: &str) -> Value {
        self.get(&format!("/element/{}/property/{name}", element.0))
            .await
    }

    pub async fn click(&self, element: &Element) {
        let reply = self
            .post(&format!("/element/{}/click", element.0), json!({}))
            .await;
        assert!(reply.is_null(), "click: {reply}");
    }

    pub async fn clear(&self, element: &Element) {
        self.post(&format!("/element/{}/clear", element.0), json!({}))
            .await;
    }

    pub async fn type_text(&self, element: &Element, text: &str) {
        let reply = self
            .post(
                &format!("/element/{}/value", element.0),
                json!({ "text": text }),
            )
            .await;
        assert!(reply.is_null(), "type into element: {reply}");
    }

    /// Clears the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.clear(&element).await;
        self.type_text(&element, text).await;
    }

    /// Chooses the `<option>` with `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let option = self.find(&format!("{css} option[value=\"{value}\"]")).await;
        self.click(&option).await;
    }

    pub async fn click_css(&self, css: &str) {
        let element = self.find(css).await;
        self.click(&element).await;
    }

    /// Runs `script` in the page (`arguments` are `args`) and returns its
    /// result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Resizes the browser window (e.g. 768×1024 for a tablet).
    pub async fn set_window(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await;
    }

    /// How far the page is wider than the window, in CSS pixels (0 when
    /// nothing forces horizontal scrolling).
    pub async fn horizontal_overflow(&self) -> i64 {
        self.execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .as_i64()
        .unwrap_or(i64::MAX)
    }

    /// A new browser signed in to `server`'s console as `login`, with the
    /// password [`crate::common::user`] gave it.
    pub async fn signed_in(server: &TestServer, login: &str) -> Browser {
        let browser = Browser::start().await;
        browser
            .sign_in(&server.base_url(), login, &password_of(login))
            .await;
        browser
    }

    /// Signs in through the login form; waits until the form is gone.
    pub async fn sign_in(&self, base: &str, login: &str, password: &str) {
        self.goto(&format!("{base}/login")).await;
        self.fill("#username", login).await;
        self.fill("#password", password).await;
        self.click_css("#sign-in").await;
        self.wait_url("away from /login", |url| !url.contains("/login"))
            .await;
    }

    /// Saves a PNG of the viewport to `target/browser-screenshots/NAME.png`
    /// (a CI artifact).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let data = self.get("/screenshot").await;
        let png = base64_decode(data.as_str().unwrap_or_default());
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the driver process ends its Chromium with it.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `target/browser-screenshots`, next to the build output CI keeps.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("browser-screenshots")
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
