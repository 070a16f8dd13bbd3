//! The OpenAPI document is complete and valid: every `/api/v1` route the router serves (read
//! from the crate's sources, so a new route without annotations fails here) is in the
//! document with its method, and the document holds together as OpenAPI 3.1 — every `$ref`
//! resolves, operation ids are unique, every path parameter is declared, every operation has
//! responses, tags are declared.

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};

/// `(METHOD, path)` of every API route in `src/`, read from `.route("/api/v1/…", get(…).post(…))`.
fn routes_in_sources() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        // Join lines so a `.route(` call split by rustfmt reads as one.
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for call in flat.split(".route(").skip(1) {
            let Some(rest) = call.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some((route, handlers)) = rest.split_once('"') else {
                continue;
            };
            if !route.starts_with("/api/v1/") || route == "/api/v1/openapi.json" {
                continue;
            }
            // The handlers up to the call's closing parenthesis at depth 0.
            let mut depth = 0i32;
            let mut end = handlers.len();
            for (i, ch) in handlers.char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = i;
                        break;
                    }
                    ')' => depth -= 1,
                    _ => {}
                }
            }
            let handlers = &handlers[..end];
            let mut any = false;
            for method in ["get", "post", "put", "patch", "delete"] {
                let at_start = handlers
                    .trim_start_matches([',', ' '])
                    .starts_with(&format!("{method}("));
                if at_start || handlers.contains(&format!(".{method}(")) {
                    found.insert((method.to_string(), route.to_string()));
                    any = true;
                }
            }
            assert!(
                any,
                "{route} in {}: no method found in {handlers:?}",
                path.display()
            );
        }
    }
    assert!(found.len() > 20, "the route scan found only {found:?}");
    found
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
    let served = routes_in_sources();
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
