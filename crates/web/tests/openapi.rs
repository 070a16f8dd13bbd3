//! The OpenAPI document is complete and valid: every `/api/v1` route the router serves (read
//! from the crate's sources, so a new route without annotations fails here) is in the
//! document with its method, and the document holds together as OpenAPI 3.1 — every `$ref`
//! resolves, operation ids are unique, every path parameter is declared, every operation has
//! responses, tags are declared.

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};

/// `(method, path)` of every API route in `src/` (the document itself aside).
fn api_routes_in_sources() -> BTreeSet<(String, String)> {
    routes_in_sources()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/v1/") && p != "/api/v1/openapi.json")
        .collect()
}

fn document() -> Value {
    let app = spawn_app();
    let resp = app.get("/api/v1/openapi.json");
    assert_eq!(resp.status, 200);
    resp.json()
}

/// Goal: a route added to the router without its utoipa annotation (or not listed in
/// `openapi.rs`) is caught: the document must describe every served `/api/v1` route and
/// method, and nothing that is not served.
#[test]
fn every_api_route_is_in_the_document_and_nothing_else() {
    let doc = document();
    let served = api_routes_in_sources();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let missing: Vec<_> = served.difference(&documented).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(extra.is_empty(), "documented but not served: {extra:?}");
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "$ref" {
                    if let Some(s) = child.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    collect_refs(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|c| collect_refs(c, out)),
        _ => {}
    }
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

/// Goal: the document is structurally valid OpenAPI 3.1, so generators and validators accept
/// it: required top-level fields, every `$ref` resolves inside the document, operation ids
/// unique, each `{param}` of a path declared as a required path parameter, every operation
/// with at least one response and a description on each, every tag declared.
#[test]
fn the_document_is_valid_openapi() {
    let doc = document();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "openapi version"
    );
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        doc["info"]["version"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty(), "the document uses no $ref at all");
    for r in &refs {
        assert!(resolve(&doc, r).is_some(), "$ref {r} does not resolve");
    }

    let tags: HashSet<&str> = doc["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    let mut ids = HashSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        let wanted: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(name, _)| name))
            .collect();
        for (method, op) in ops.as_object().expect("operations") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let what = format!("{method} {path}");
            if let Some(id) = op["operationId"].as_str() {
                assert!(
                    ids.insert(id.to_string()),
                    "{what}: operationId {id} used twice"
                );
            }
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{what} has no responses");
            for (code, r) in responses {
                assert!(
                    code == "default"
                        || (code.len() == 3 && code.chars().all(|c| c.is_ascii_digit())),
                    "{what}: response code {code}"
                );
                let r = match r["$ref"].as_str() {
                    Some(reference) => resolve(&doc, reference).expect("resolved"),
                    None => r,
                };
                assert!(
                    r["description"].is_string(),
                    "{what} {code}: no description"
                );
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for name in &wanted {
                let declared = params.iter().any(|p| {
                    p["name"].as_str() == Some(name)
                        && p["in"].as_str() == Some("path")
                        && p["required"].as_bool() == Some(true)
                });
                assert!(
                    declared,
                    "{what}: path parameter {{{name}}} not declared as required"
                );
            }
            for p in &params {
                assert!(
                    ["path", "query", "header", "cookie"].contains(&p["in"].as_str().unwrap_or("")),
                    "{what}: parameter {p} has no valid `in`"
                );
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap_or("");
                    assert!(
                        wanted.contains(&name),
                        "{what}: path parameter {name} not in the path"
                    );
                }
            }
            for tag in op["tags"].as_array().into_iter().flatten() {
                let tag = tag.as_str().unwrap_or("");
                assert!(
                    tags.contains(tag),
                    "{what}: tag {tag} not declared at the top"
                );
            }
        }
    }
}

/// Goal (issue 16): the document tells the whole truth about what the server enforces:
/// security schemes and per-operation security, every shared status with the error schema,
/// enums, ranges and formats, a real multipart schema for evidence, examples.
#[test]
fn the_document_states_security_statuses_and_constraints() {
    let doc = document();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "sp_session");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let error_of = |r: &Value| -> Value {
        let r = match r["$ref"].as_str() {
            Some(reference) => resolve(&doc, reference).expect("resolved").clone(),
            None => r.clone(),
        };
        r["content"]["application/json"]["schema"]["$ref"].clone()
    };
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let what = format!("{method} {path}");
            let public = path == "/api/v1/session" && method == "post";
            let security = op["security"].as_array().expect("security stated");
            assert_eq!(security.is_empty(), public, "{what}: security {security:?}");
            let mut wanted = vec!["503"];
            if !public {
                wanted.extend(["401", "403"]);
            }
            if path.contains('{') {
                wanted.extend(["400", "404"]);
            }
            if op.get("requestBody").is_some() {
                wanted.extend(["400", "413", "415"]);
            }
            for status in wanted {
                let r = &op["responses"][status];
                assert_eq!(
                    error_of(r),
                    "#/components/schemas/ApiError",
                    "{what}: {status} without the error schema"
                );
            }
            if method != "get" && !public && path != "/api/v1/totp" {
                assert!(
                    security.iter().any(|s| s.get("csrf").is_some()),
                    "{what}: a cookie session needs the CSRF header"
                );
            }
        }
    }
    let param = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no {name}"))["schema"]
            .clone()
    };
    let limit = param("/api/v1/transactions", "limit");
    assert_eq!(
        (limit["minimum"].clone(), limit["maximum"].clone()),
        (1.into(), 500.into())
    );
    let kinds = param("/api/v1/transactions", "kind")["enum"].clone();
    assert!(
        kinds
            .as_array()
            .is_some_and(|k| k.contains(&"preauth_void".into())),
        "{kinds}"
    );
    assert_eq!(
        param("/api/v1/export", "format")["enum"],
        serde_json::json!(["csv", "xlsx"])
    );
    assert_eq!(
        param("/api/v1/transactions/{id}/receipt", "width")["enum"],
        serde_json::json!([32, 48])
    );
    assert_eq!(param("/api/v1/transactions/{id}", "id")["minimum"], 1);
    let roles = &doc["components"]["schemas"]["UserIn"]["properties"]["role"]["enum"];
    assert_eq!(roles.as_array().map(Vec::len), Some(5), "{roles}");
    let upload = &doc["paths"]["/api/v1/transactions/{id}/evidence"]["post"]["requestBody"];
    let schema = &upload["content"]["multipart/form-data"]["schema"];
    assert_eq!(schema["properties"]["file"]["format"], "binary");
    assert_eq!(schema["required"], serde_json::json!(["file"]));
    assert!(doc["components"]["schemas"]["PaymentIn"]["example"].is_object());

    // Links (the stateful phase's paths) name operations that exist.
    let ids: HashSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|ops| ops.as_object().expect("ops").values())
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    let mut links = 0;
    for ops in doc["paths"].as_object().expect("paths").values() {
        for op in ops.as_object().expect("ops").values() {
            for r in op["responses"]
                .as_object()
                .into_iter()
                .flat_map(|r| r.values())
            {
                for link in r["links"].as_object().into_iter().flat_map(|l| l.values()) {
                    let target = link["operationId"].as_str().unwrap_or("");
                    assert!(ids.contains(target), "link to unknown operation {target}");
                    links += 1;
                }
            }
        }
    }
    assert!(links >= 15, "only {links} links");
}

/// Goal (issue 16, found by Schemathesis): an id past i64 in any path answers the JSON
/// error, never axum's `text/plain` rejection.
#[test]
fn ids_beyond_i64_answer_the_json_error() {
    let app = spawn_app();
    let admin = app.login("admin");
    let huge = "99999999999999999999";
    let answers = [
        admin.app.req(
            "DELETE",
            &format!("/api/v1/tokens/{huge}"),
            &[("Cookie", &admin.cookie), ("X-CSRF-Token", &admin.csrf)],
            None,
        ),
        admin.post(&format!("/api/v1/users/{huge}/disable"), "{}"),
        admin.get(&format!("/api/v1/transactions/{huge}")),
        admin.get(&format!("/api/v1/requests/{huge}")),
    ];
    for r in answers {
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{:?}",
            r.header("content-type")
        );
        assert_eq!(r.code(), "input.invalid");
    }
}
