//! The OpenAPI document and the Swagger UI, from the real server: the
//! document is OpenAPI 3.1, describes exactly the routes the router serves,
//! and the UI works without any outside host.

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;

/// Every documented API route the router serves, as `(method, path)` with
/// OpenAPI path templates. A new route goes here and into `ApiDoc`
/// (src/api/openapi.rs); the test fails when the two disagree.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/events"),
    ("get", "/metrics"),
    ("get", "/api/v1/agents"),
    ("post", "/api/v1/agents"),
    ("get", "/api/v1/agents/{login}"),
    ("patch", "/api/v1/agents/{login}"),
    ("delete", "/api/v1/agents/{login}"),
    ("patch", "/api/v1/agents/{login}/state"),
    ("get", "/api/v1/inquiries"),
    ("post", "/api/v1/inquiries"),
    ("get", "/api/v1/inquiries/{id}"),
    ("patch", "/api/v1/inquiries/{id}"),
    ("post", "/api/v1/inquiries/{id}/resolve"),
    ("post", "/api/v1/inquiries/{id}/inform"),
    ("get", "/api/v1/inquiries/{id}/recording"),
    ("get", "/api/v1/clients"),
    ("post", "/api/v1/clients"),
    ("get", "/api/v1/clients/{id}"),
    ("patch", "/api/v1/clients/{id}"),
    ("delete", "/api/v1/clients/{id}"),
    ("post", "/api/v1/clients/{id}/merge"),
    ("get", "/api/v1/clients/{id}/history"),
    ("put", "/api/v1/clients/{id}/managers/{area}"),
    ("delete", "/api/v1/clients/{id}/managers/{area}"),
    ("post", "/api/v1/channels/email"),
    ("post", "/api/v1/channels/messenger/{name}"),
    ("get", "/api/v1/reports/summary"),
    ("get", "/api/v1/reports/agents"),
    ("get", "/api/v1/queues"),
    ("get", "/api/v1/calls"),
    ("post", "/api/v1/calls/{id}/transfer"),
    ("post", "/api/v1/calls/{id}/hangup"),
    ("get", "/api/v1/ivr-scripts"),
    ("get", "/api/v1/ivr-scripts/{name}"),
    ("put", "/api/v1/ivr-scripts/{name}"),
    ("get", "/api/v1/ivr-scripts/{name}/versions"),
    ("get", "/api/v1/ivr-scripts/{name}/versions/{version}"),
    (
        "post",
        "/api/v1/ivr-scripts/{name}/versions/{version}/restore",
    ),
    ("post", "/api/v1/ivr-scripts/{name}/simulate"),
    ("get", "/api/v1/calendar"),
    ("put", "/api/v1/calendar"),
];

/// The `security` each route documents, when it is not a bearer token
/// alone: the health check and login are public, a messenger webhook
/// proves itself with its bot's secret header, and an MTA posts e-mail
/// with the ingest token (a person may use a bearer token instead).
fn expected_security(path: &str) -> Value {
    match path {
        "/healthz" | "/metrics" | "/api/v1/auth/login" | "/api/v1/channels/messenger/{name}" => {
            Value::Null
        }
        "/api/v1/channels/email" => {
            serde_json::json!([{ "bearer": [] }, { "ingest_token": [] }])
        }
        _ => serde_json::json!([{ "bearer": [] }]),
    }
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

fn base(server: &TestServer) -> String {
    format!("http://{}", server.running.http_addr)
}

async fn fetch_document(server: &TestServer) -> Value {
    let response = reqwest::get(format!("{}/api/v1/openapi.json", base(server)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    response.json().await.unwrap()
}

fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(*method).is_some() {
                operations.insert((method.to_string(), path.clone()));
            }
        }
    }
    operations
}

/// Every `$ref` in `value`, recursively.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn document_is_openapi_3_1_and_matches_the_router() {
    let server = TestServer::start(vec![]).await;
    let doc = fetch_document(&server).await;

    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "hotline");
    // Relative, so the document is right behind any proxy or port.
    assert_eq!(doc["servers"][0]["url"], "/");

    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented_operations(&doc), expected);

    // Each listed route is really served: no fallback 404/405, whatever the
    // handler then says about the missing token or body.
    let client = reqwest::Client::new();
    for (method, path) in ROUTES {
        let url = format!("{}{}", base(&server), path.replace(['{', '}'], ""));
        let method: reqwest::Method = method.to_uppercase().parse().unwrap();
        let response = client.request(method.clone(), &url).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(
            body["error"]["message"], "no such endpoint",
            "{method} {path} is documented but not routed"
        );
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is documented but not routed"
        );
    }
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn document_is_self_consistent() {
    let server = TestServer::start(vec![]).await;
    let doc = fetch_document(&server).await;

    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let ingest = &doc["components"]["securitySchemes"]["ingest_token"];
    assert_eq!(ingest["type"], "apiKey");
    assert_eq!(ingest["in"], "header");
    assert_eq!(ingest["name"], "X-Hotline-Token");

    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for (method, path) in ROUTES {
        let operation = &doc["paths"][path][method];
        let operation_tags = operation["tags"].as_array().unwrap();
        assert!(!operation_tags.is_empty(), "{method} {path} has no tag");
        for tag in operation_tags {
            assert!(
                tags.contains(tag.as_str().unwrap()),
                "{method} {path}: {tag}"
            );
        }
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path} documents no success"
        );
        // Everything but the health check and login needs a token (or a
        // secret), says so, and documents the 401 it answers without one.
        // Every documented error is the one error shape (the health
        // check's 503 is its own status body, for monitors).
        assert_eq!(
            operation["security"],
            expected_security(path),
            "{method} {path}"
        );
        for (status, response) in responses {
            if *path != "/healthz" && (status.starts_with('4') || status.starts_with('5')) {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
        let public = matches!(*path, "/healthz" | "/metrics" | "/api/v1/auth/login");
        if !public {
            assert_eq!(
                responses["401"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path}"
            );
        }
    }

    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling $ref {r}"
        );
    }

    // The error schema is the shape every error has.
    let error = &doc["components"]["schemas"]["ErrorDetail"];
    let required: BTreeSet<&str> = error["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["code", "message", "fields"]));
    server.running.stop().await.unwrap();
}

/// `src="..."` and `href="..."` values of an HTML page.
fn asset_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            let after = &rest[start + attribute.len()..];
            let end = after.find('"').unwrap();
            urls.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    urls
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary_alone() {
    let server = TestServer::start(vec![]).await;
    let client = reqwest::Client::new();
    // `/api/v1/docs` redirects to the page (relative asset URLs need the slash).
    let response = client
        .get(format!("{}/api/v1/docs", base(&server)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page_url = response.url().clone();
    assert_eq!(page_url.path(), "/api/v1/docs/");
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");

    let assets = asset_urls(&html);
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "no scripts or styles in {assets:?}"
    );
    for asset in &assets {
        let url = page_url.join(asset).unwrap();
        assert_eq!(
            url.origin(),
            page_url.origin(),
            "{asset} is not served by hotline"
        );
        let response = client.get(url.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert!(!response.bytes().await.unwrap().is_empty(), "{url}");
    }

    // The page loads our document and asks no outside validator about it.
    let initializer = client
        .get(page_url.join("swagger-initializer.js").unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("/api/v1/openapi.json"),
        "{initializer}"
    );
    let compact: String = initializer.split_whitespace().collect();
    assert!(
        compact.contains(r#""validatorUrl":"none""#),
        "{initializer}"
    );
    assert!(!initializer.contains("https://"), "{initializer}");
    server.running.stop().await.unwrap();
}
