//! The web console over plain HTTP, as a browser without JavaScript uses
//! it: a user signed in through the `/login` form, whose cookie opens the
//! pages and whose CSRF token goes with every form. The session's token is
//! also an API bearer token, so the same session makes and checks data
//! through the JSON API the way an operator's work would. Shared by the
//! console's `web_*` tests and, for their data, the `browser_*` tests.

use crate::common::{TestServer, password_of};
use hotline::store::ids::new_id;
use hotline::store::{Channel, InquiryStatus, InquiryUpdate, NewInquiry, Store};
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

/// A client that does not follow redirects, so a test sees the console's
/// own 303s (to the login form, after a posted form).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts the login form (`username`, `password`, maybe `next`) to the
/// console at `base`, as a browser would.
pub async fn post_login(base: &str, fields: &[(&str, &str)]) -> Response {
    client()
        .post(format!("{base}/login"))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// A user signed in to the console.
pub struct ConsoleSession {
    /// `http://127.0.0.1:PORT` of the server.
    pub base: String,
    /// `hotline_session=<token>`, as a `Cookie` header carries it.
    pub cookie: String,
    /// The session's token: the cookie's value and an API bearer token.
    pub token: String,
    /// The CSRF token the session's pages put in their forms.
    pub csrf: String,
    client: reqwest::Client,
}

impl ConsoleSession {
    /// Signs `login` in through the login form with the password
    /// [`crate::common::user`] gave it; asserts the 303 that sets the
    /// cookie. The CSRF token is the one the pages show for this session
    /// (`hotline::web::session::csrf_token` of its token).
    pub async fn sign_in(server: &TestServer, login: &str) -> ConsoleSession {
        let base = server.base_url();
        let password = password_of(login);
        let reply = post_login(&base, &[("username", login), ("password", &password)]).await;
        assert_eq!(reply.status(), StatusCode::SEE_OTHER, "{login} signs in");
        let set_cookie = reply.headers()[SET_COOKIE].to_str().unwrap();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let token = cookie.split_once('=').unwrap().1.to_owned();
        ConsoleSession {
            base,
            csrf: hotline::web::session::csrf_token(&token),
            cookie,
            token,
            client: client(),
        }
    }

    /// A request to `path` with the session's cookie, for what the helpers
    /// below do not cover (other headers, a stream, a binary body).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
    }

    /// A page (or an htmx fragment): its status and HTML.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let reply = self.request(Method::GET, path).send().await.unwrap();
        (reply.status(), reply.text().await.unwrap())
    }

    /// [`get`](Self::get) from a browser that chose English (the language
    /// switch's `hotline_lang=en` cookie next to the session's).
    pub async fn get_in_english(&self, path: &str) -> (StatusCode, String) {
        let reply = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, format!("{}; hotline_lang=en", self.cookie))
            .send()
            .await
            .unwrap();
        (reply.status(), reply.text().await.unwrap())
    }

    /// Posts a form with the session's CSRF token added, as every console
    /// form carries it.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Posted {
        let mut form = fields.to_vec();
        form.push(("_csrf", &self.csrf));
        self.post_form_without_csrf(path, &form).await
    }

    /// Posts a form exactly as given: without the CSRF token unless
    /// `fields` has one (a request forged by another site, or a wrong token).
    pub async fn post_form_without_csrf(&self, path: &str, fields: &[(&str, &str)]) -> Posted {
        Posted::read(self.request(Method::POST, path).form(fields)).await
    }

    /// Posts a form as htmx does: the CSRF token in the `X-CSRF-Token`
    /// header instead of the form, `HX-Request: true` (the console then
    /// answers with a fragment).
    pub async fn post_htmx(&self, path: &str, fields: &[(&str, &str)]) -> Posted {
        let request = self
            .request(Method::POST, path)
            .header("hx-request", "true")
            .header("x-csrf-token", &self.csrf)
            .form(fields);
        Posted::read(request).await
    }

    /// The JSON API at `path` (`/api/v1/...`) as this user: the status and
    /// the JSON body (`Null` when there is none).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_default())
    }

    /// [`api`](Self::api) for the data a test sets up: asserts a 2xx and
    /// returns the body.
    pub async fn api_ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.api(method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// An inquiry this user types in (`POST /api/v1/inquiries`, asserted
    /// 201): its id and its client's id (empty when it has none).
    pub async fn new_inquiry(&self, body: Value) -> (String, String) {
        let (status, created) = self
            .api(Method::POST, "/api/v1/inquiries", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        (
            created["id"].as_str().unwrap().to_owned(),
            created["client_id"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// What a posted form got back.
pub struct Posted {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The page re-rendered (a refused form) or an htmx fragment; empty
    /// after a redirect.
    pub text: String,
}

impl Posted {
    async fn read(request: RequestBuilder) -> Posted {
        let reply = request.send().await.unwrap();
        Posted {
            status: reply.status(),
            headers: reply.headers().clone(),
            text: reply.text().await.unwrap(),
        }
    }

    /// Where a redirect (Post/Redirect/Get) sends the browser, if it is one.
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).map(|l| l.to_str().unwrap())
    }
}

/// Writes a finished inquiry straight into the store, as the call layer
/// would have, for the board's and the reports' figures over a scripted
/// past: created at `at` on `channel`; a call `agent` answered after
/// `wait_ms` and talked a minute on, or one abandoned after `wait_ms` when
/// there is no agent; any other channel resolved by `agent`.
pub async fn past_inquiry(
    store: &Store,
    at: i64,
    channel: Channel,
    wait_ms: Option<i64>,
    agent: Option<&str>,
) {
    const HOUR: i64 = 3_600_000;
    let id = new_id(at, &mut rand::thread_rng());
    let phone = channel == Channel::Phone;
    store
        .create_inquiry(
            &id,
            &NewInquiry {
                channel,
                from: if phone {
                    "79160001122".into()
                } else {
                    "someone@example.org".into()
                },
                client_id: None,
                status: InquiryStatus::New,
                call_id: None,
                language: None,
                created_at_ms: at,
            },
        )
        .await
        .unwrap();
    let answered = phone && agent.is_some();
    let update = InquiryUpdate {
        status: Some(if phone && !answered {
            InquiryStatus::Abandoned
        } else {
            InquiryStatus::Resolved
        }),
        agent: agent.map(String::from),
        answered_at_ms: answered.then(|| at + wait_ms.unwrap_or(0)),
        wait_ms,
        talk_ms: answered.then_some(60_000),
        ..Default::default()
    };
    store.update_inquiry(&id, &update, at + HOUR).await.unwrap();
}
