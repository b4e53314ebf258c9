//! The OpenAPI 3.1 document, derived from the route table (so it lists every API path by
//! construction): each route entry names its request and response types, whose JSON Schemas
//! (`schemars`, JSON Schema 2020-12 as OpenAPI 3.1 uses it) become `components.schemas`. The
//! answers every operation shares (401, 503, the CSRF 403 of unsafe methods, the 400/413/415 of
//! a JSON body) are added here. Also a self-contained browsable page that needs no internet.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use super::bodies::DetailOut;
use super::{api_routes, Answer, ApiRoute, Operation, RequestBody, ViewAuth};
use crate::error::FieldErrors;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1.0/swagger.json", get(document)).route("/api/v1.0/swagger/", get(page))
}

/// Where the schemas live in the document.
const COMPONENTS: &str = "/components/schemas";

/// A generator of schemas for one direction: requests are described as they are read
/// (`Deserialize` contract), answers as they are written (`Serialize` contract).
fn generator(settings: SchemaSettings) -> SchemaGenerator {
    settings
        .with(|s| {
            s.definitions_path = COMPONENTS.into();
            s.meta_schema = None;
            // An optional request field has no `null` default: DRF refuses null.
            s.transforms.push(Box::new(schemars::transform::RecursiveTransform(|schema: &mut schemars::Schema| {
                if schema.get("default") == Some(&Value::Null) {
                    schema.remove("default");
                }
            })));
        })
        .into_generator()
}

/// The schemas of one documented operation's answers, by status.
fn answers(route: &ApiRoute, op: &Operation, out: &mut SchemaGenerator) -> BTreeMap<u16, Vec<Option<Value>>> {
    let mut by_status: BTreeMap<u16, Vec<Option<Value>>> = BTreeMap::new();
    let mut add = |status: u16, answer: Answer, out: &mut SchemaGenerator| {
        let schemas: Vec<Option<Value>> = match answer {
            Answer::Body(schema) => vec![Some(schema(out).to_value())],
            Answer::Empty => vec![None],
            Answer::Error if status == 400 => vec![
                Some(out.subschema_for::<FieldErrors>().to_value()),
                Some(out.subschema_for::<DetailOut>().to_value()),
            ],
            Answer::Error => vec![Some(out.subschema_for::<DetailOut>().to_value())],
        };
        let entry = by_status.entry(status).or_default();
        for s in schemas {
            if !entry.contains(&s) {
                entry.push(s);
            }
        }
    };
    for (status, answer) in &op.responses {
        add(*status, *answer, out);
    }
    // Shared answers: authentication runs on every route (a bad bearer header is a 401 even where
    // anyone may call), sessions and data live in the database and the cache (503 when down).
    add(401, Answer::Error, out);
    add(503, Answer::Error, out);
    let unsafe_method = !matches!(op.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && route.path != "/api/v1.0/recordings/storage-hook/" {
        add(403, Answer::Error, out); // CSRF failure of a session-authenticated caller
    }
    if let Some(RequestBody::Json(_)) = op.body {
        for status in [400, 413, 415] {
            add(status, Answer::Error, out);
        }
    }
    by_status
}

/// The OpenAPI `responses` object of one operation.
fn responses(by_status: BTreeMap<u16, Vec<Option<Value>>>) -> Map<String, Value> {
    let mut responses = Map::new();
    for (status, alternatives) in by_status {
        let description =
            StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Answer").to_string();
        let mut schemas: Vec<Value> = alternatives.into_iter().flatten().collect();
        let mut response = json!({ "description": description });
        if !schemas.is_empty() {
            let schema = if schemas.len() == 1 { schemas.remove(0) } else { json!({ "anyOf": schemas }) };
            response["content"] = json!({ "application/json": { "schema": schema } });
        }
        responses.insert(status.to_string(), response);
    }
    responses
}

fn operation_id(route: &ApiRoute, method: &Method) -> String {
    let path: Vec<&str> = route
        .path
        .trim_start_matches("/api/v1.0/")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| if s.starts_with('{') { "detail" } else { s })
        .collect();
    let path = if path.is_empty() { "root".to_string() } else { path.join("_").replace('-', "_") };
    format!("{path}_{}", method.as_str().to_lowercase())
}

/// The OpenAPI document of every API route.
pub fn build() -> Value {
    build_checked().0
}

/// [`build`], and the names of the schemas that two different types would share (none).
fn build_checked() -> (Value, Vec<String>) {
    let mut requests = generator(SchemaSettings::draft2020_12().for_deserialize());
    let mut out = generator(SchemaSettings::draft2020_12().for_serialize());
    let mut paths = Map::new();
    for route in api_routes() {
        let mut item = Map::new();
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        for op in &route.methods {
            let mut parameters = params.clone();
            parameters.extend(op.query.iter().map(|(name, description)| {
                json!({"name": name, "in": "query", "required": false, "description": description,
                       "schema": {"type": "string"}})
            }));
            let needs_user =
                route.auth == ViewAuth::User || (route.auth == ViewAuth::UserForUnsafe && op.method != Method::GET);
            let mut doc = json!({
                "tags": [route.name],
                "summary": op.summary,
                "operationId": operation_id(&route, &op.method),
                "responses": responses(answers(&route, op, &mut out)),
            });
            if !parameters.is_empty() {
                doc["parameters"] = Value::Array(parameters);
            }
            if let Some(RequestBody::Json(schema) | RequestBody::Raw(schema)) = op.body {
                // An empty body reads as `{}`: DRF then reports the missing fields.
                doc["requestBody"] = json!({
                    "required": false,
                    "content": {"application/json": {"schema": schema(&mut requests).to_value()}},
                });
            }
            if needs_user {
                doc["security"] = json!([{"sessionAuth": []}, {"bearerAuth": []}]);
            }
            item.insert(op.method.as_str().to_lowercase(), doc);
        }
        paths.insert(route.path.to_string(), Value::Object(item));
    }
    let mut schemas = requests.take_definitions(true);
    let mut clashes = Vec::new();
    for (name, schema) in out.take_definitions(true) {
        match schemas.get(&name) {
            Some(other) if *other != schema => clashes.push(name),
            Some(_) => {}
            None => {
                schemas.insert(name, schema);
            }
        }
    }
    schemas.sort_keys();
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "meet API", "version": "1.0 (meet ".to_string() + env!("CARGO_PKG_VERSION") + ")",
                 "description": "Control plane for LiveKit meetings, compatible with La Suite Meet's API. \
                    Every path also answers OPTIONS, and HEAD where it serves GET; any other method \
                    not listed answers 405 with a `Detail` body and an `Allow` header (after the 401 \
                    of routes that need a user)."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "sessionAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid",
                                "description": "Session cookie; unsafe methods also need the CSRF cookie and X-CSRFToken."},
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An access token of the identity provider (when enabled)."}
            }
        }
    });
    (doc, clashes)
}

/// The document, serialized once.
async fn document() -> Response {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let bytes = DOCUMENT.get_or_init(|| Bytes::from(serde_json::to_vec(&build()).unwrap_or_default())).clone();
    let mut resp = (StatusCode::OK, bytes).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>meet API</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}
h1{font-size:1.5rem} .op{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold;text-transform:uppercase}
.get{color:#1a7f37}.post{color:#0969da}.put,.patch{color:#9a6700}.delete{color:#cf222e}
code{font-size:.95rem} .s{color:#555;margin-left:1rem} details pre{background:#f6f8fa;padding:.5rem;overflow:auto}
</style></head><body>
<h1>meet API</h1><p>OpenAPI document: <a href="../swagger.json">swagger.json</a></p>
<div id="ops">Loading…</div>
<script>
fetch('../swagger.json').then(r=>r.json()).then(doc=>{
  const root=document.getElementById('ops'); root.textContent='';
  for(const [path,item] of Object.entries(doc.paths)){
    for(const [method,op] of Object.entries(item)){
      const d=document.createElement('details'); d.className='op';
      const s=document.createElement('summary');
      s.innerHTML='<span class="m '+method+'">'+method+'</span><code></code><span class="s"></span>';
      s.querySelector('code').textContent=path; s.querySelector('.s').textContent=op.summary||'';
      const pre=document.createElement('pre'); pre.textContent=JSON.stringify(op,null,2);
      d.append(s,pre); root.append(d);
    }
  }
}).catch(e=>{document.getElementById('ops').textContent='Could not load the document: '+e});
</script></body></html>"#;

async fn page() -> Response {
    let mut resp = (StatusCode::OK, PAGE).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` of `v`.
    fn refs<'a>(v: &'a Value, found: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    found.push(r);
                }
                m.values().for_each(|x| refs(x, found));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, found)),
            _ => {}
        }
    }

    #[test]
    fn every_ref_resolves_and_no_two_types_share_a_schema_name() {
        let (doc, clashes) = build_checked();
        assert!(clashes.is_empty(), "schema names used by two different types: {clashes:?}");
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r.strip_prefix('#').unwrap_or(r);
            assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
        }
    }

    #[test]
    fn every_operation_documents_a_success() {
        let doc = build();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let ok = op["responses"].as_object().unwrap().keys().any(|s| s.starts_with('2'));
                assert!(ok, "{method} {path} documents no success");
            }
        }
    }
}
