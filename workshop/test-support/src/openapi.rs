//! Checks a running service's generated API document against what it serves: the document lists
//! exactly the routes a test names, every operation says what it answers (each response with a
//! schema, each request body too), and every documented route is served (a request to it reaches
//! a handler, not the router's 404 or 405).

use std::collections::BTreeSet;

use serde_json::Value;

/// Panics naming the first route or schema that is missing. `routes` are `(METHOD, path)` as the
/// document writes them (`("GET", "/v1/orders/{order_id}")`); `key` is a bearer key for `/v1`.
pub async fn assert_document_matches_routes(base: &str, key: &str, routes: &[(&str, &str)]) {
    let client = reqwest::Client::new();
    let document: Value = client
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("the document is JSON");
    let paths = document["paths"]
        .as_object()
        .expect("the document has paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            let method = method.to_uppercase();
            let name = format!("{method} {path}");
            let responses = operation["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{name} documents no responses"));
            assert!(!responses.is_empty(), "{name} documents no responses");
            for (status, response) in responses {
                assert!(
                    has_schema(&response["content"]),
                    "{name} {status} has no response schema: {response}"
                );
            }
            if method == "POST" {
                assert!(
                    has_schema(&operation["requestBody"]["content"]),
                    "{name} has no request body schema"
                );
            }
            probe(&client, base, key, &method, path).await;
            documented.insert((method, path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = routes
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, expected,
        "documented routes differ from the served ones"
    );
}

/// Whether a `content` map gives at least one media type a schema.
fn has_schema(content: &Value) -> bool {
    content
        .as_object()
        .is_some_and(|types| !types.is_empty() && types.values().all(|t| t["schema"].is_object()))
}

/// Sends a request to `path` (parameters filled with a sample value) and checks that a handler,
/// not the router's fallback, answered: the fallback's 404 has an empty body, a handler's 404
/// names what was not found; a 405 means the method is not served.
async fn probe(client: &reqwest::Client, base: &str, key: &str, method: &str, path: &str) {
    let concrete: String = path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "probe-1"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let url = format!("{base}{concrete}");
    let request = match method {
        "GET" => client.get(&url),
        "POST" => client
            .post(&url)
            .header("content-type", "application/json")
            .body("{}"),
        other => panic!("the probe does not send {other}"),
    };
    let response = request
        .bearer_auth(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    assert_ne!(status, 405, "{method} {path} is documented but not served");
    assert!(
        status != 404 || !body.is_empty(),
        "{method} {path} is documented but not served (the router's 404)"
    );
}
