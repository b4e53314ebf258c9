//! The OpenAPI 3 document, derived from the route table (so it lists every API path by
//! construction), and a self-contained browsable page that needs no internet access.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use super::{api_routes, ViewAuth};
use crate::error::json_response;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1.0/swagger.json", get(document)).route("/api/v1.0/swagger/", get(page))
}

/// The OpenAPI document of every API route.
pub fn build() -> Value {
    let mut paths = Map::new();
    for route in api_routes() {
        let mut item = Map::new();
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        for (method, summary) in &route.methods {
            let mut responses = Map::new();
            responses.insert("200".into(), json!({"description": "Success", "content": {"application/json": {}}}));
            let needs_user = route.auth == ViewAuth::User
                || (route.auth == ViewAuth::UserForUnsafe && *method != axum::http::Method::GET);
            if needs_user {
                responses.insert("401".into(), json!({"description": "Authentication credentials were not provided."}));
            }
            let mut op = json!({
                "tags": [route.name],
                "summary": summary,
                "operationId": format!("{}_{}", route.name.to_lowercase().replace(' ', "_"), method.as_str().to_lowercase()),
                "responses": responses,
            });
            if !params.is_empty() {
                op["parameters"] = Value::Array(params.clone());
            }
            if needs_user {
                op["security"] = json!([{"sessionAuth": []}, {"bearerAuth": []}]);
            }
            item.insert(method.as_str().to_lowercase(), op);
        }
        paths.insert(route.path.to_string(), Value::Object(item));
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "meet API", "version": "1.0 (meet ".to_string() + env!("CARGO_PKG_VERSION") + ")",
                 "description": "Control plane for LiveKit meetings, compatible with La Suite Meet's API."},
        "paths": paths,
        "components": {"securitySchemes": {
            "sessionAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            "bearerAuth": {"type": "http", "scheme": "bearer"}
        }}
    })
}

async fn document() -> Response {
    json_response(StatusCode::OK, &build())
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
