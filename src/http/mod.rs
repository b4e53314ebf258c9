//! The HTTP surface: every path of the API is declared once as an [`ApiRoute`] (path, methods,
//! view-level permission, documentation); the router, the trailing-slash redirects, the `Allow`
//! headers, the DRF 405s and the OpenAPI document are all derived from that one table.

pub mod addons;
pub mod auth;
pub mod bodies;
pub mod client_ip;
pub mod external;
pub mod extract;
pub mod files;
pub mod health;
pub mod incall;
pub mod lobby;
pub mod meta;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod participants;
pub mod recordings;
pub mod resource_accesses;
pub mod rooms;
pub mod users;
pub mod webhooks;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;

use crate::error::{json_response, ApiError};
use crate::state::AppState;
use extract::Caller;

/// API version segment of every path.
pub const API: &str = "/api/v1.0";

/// The view-level permission of a route (users-auth-rooms §2.5 step 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewAuth {
    /// Anyone (authentication still runs: a bad bearer header or a CSRF failure is refused).
    Any,
    /// Authenticated users only: 401 for anonymous callers, before any 405.
    User,
    /// Anyone for safe methods, authenticated users for the others (Meet's `RoomPermissions`):
    /// an anonymous `POST /rooms/{id}/` is a 401, an authenticated one a 405.
    UserForUnsafe,
    /// The external API's bearer tokens (now-external-api §7): checked by the handlers; an
    /// unsupported method answers 401 `Bearer` to callers no authenticator accepts, then 405.
    ExternalBearer,
}

/// Produces the JSON Schema of one type (a `$ref` into the document's components for named
/// types): how a route entry names its request and response types.
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// The [`SchemaFn`] of `T`.
pub fn schema_of<T: schemars::JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// How an operation reads its request body.
#[derive(Clone, Copy)]
pub enum RequestBody {
    /// Through [`extract::Body`]: JSON only (415 otherwise), 400 when malformed, 413 when too big.
    Json(SchemaFn),
    /// Raw bytes checked by the handler itself (signed webhooks): only the documented answers.
    Raw(SchemaFn),
}

/// One documented method of a route: what it reads and every answer it can give besides the
/// ones all operations share (401, 503, the CSRF 403 of unsafe methods, the body's 400/413/415).
pub struct Operation {
    pub method: Method,
    /// One-line summary.
    pub summary: &'static str,
    pub body: Option<RequestBody>,
    /// Documented statuses; several entries for one status are alternatives.
    pub responses: Vec<(u16, Answer)>,
    /// Query parameters: name and description.
    pub query: Vec<(&'static str, &'static str)>,
}

/// What an operation answers with one status.
#[derive(Clone, Copy)]
pub enum Answer {
    /// The API's error shape ([`crate::error::ApiError`]): field errors or `{"detail"}` for a 400,
    /// `{"detail"}` otherwise.
    Error,
    /// A JSON body of this schema.
    Body(SchemaFn),
    /// No body (204).
    Empty,
}

/// One path of the API.
pub struct ApiRoute {
    /// axum path syntax, e.g. `/api/v1.0/rooms/{id}/`.
    pub path: &'static str,
    /// Name shown by OPTIONS and used as the OpenAPI tag.
    pub name: &'static str,
    pub auth: ViewAuth,
    /// The methods served, each with what the OpenAPI document says of it.
    pub methods: Vec<Operation>,
    /// HEAD is served where GET is, except where the reference refuses it (`/config/`).
    pub head: bool,
    pub handler: MethodRouter<AppState>,
}

impl ApiRoute {
    pub fn new(path: &'static str, name: &'static str, auth: ViewAuth, handler: MethodRouter<AppState>) -> Self {
        ApiRoute { path, name, auth, methods: Vec::new(), head: true, handler }
    }

    /// Documents `method` (served by the handler); the calls that follow describe it.
    pub fn doc(mut self, method: Method, summary: &'static str) -> Self {
        self.methods.push(Operation { method, summary, body: None, responses: Vec::new(), query: Vec::new() });
        self
    }

    /// Applies `f` to the last documented method (`doc` comes first in every route entry; the
    /// OpenAPI tests check that every operation documents its answers).
    fn with_last(mut self, f: impl FnOnce(&mut Operation)) -> Self {
        if let Some(op) = self.methods.last_mut() {
            f(op);
        }
        self
    }

    /// The last documented method reads a JSON body of type `T` (through [`extract::Body`]).
    pub fn body<T: schemars::JsonSchema>(self) -> Self {
        self.with_last(|op| op.body = Some(RequestBody::Json(schema_of::<T>)))
    }

    /// The last documented method reads a body of type `T` checked by the handler itself.
    pub fn raw_body<T: schemars::JsonSchema>(self) -> Self {
        self.with_last(|op| op.body = Some(RequestBody::Raw(schema_of::<T>)))
    }

    /// The last documented method answers `status` with a `T` body.
    pub fn returns<T: schemars::JsonSchema>(self, status: u16) -> Self {
        self.with_last(|op| op.responses.push((status, Answer::Body(schema_of::<T>))))
    }

    /// The last documented method answers `status` without a body.
    pub fn returns_nothing(self, status: u16) -> Self {
        self.with_last(|op| op.responses.push((status, Answer::Empty)))
    }

    /// The last documented method can answer these statuses with the API's error shape.
    pub fn errors(self, statuses: &[u16]) -> Self {
        self.with_last(|op| op.responses.extend(statuses.iter().map(|s| (*s, Answer::Error))))
    }

    /// The last documented method reads the query parameter `name`.
    pub fn query(self, name: &'static str, description: &'static str) -> Self {
        self.with_last(|op| op.query.push((name, description)))
    }

    /// [`Self::query`] for DRF's page-number pagination (404 `Invalid page.` for a bad page).
    pub fn paginated(self) -> Self {
        self.query("page", "Page number (from 1) or `last`").errors(&[404])
    }

    pub fn no_head(mut self) -> Self {
        self.head = false;
        self
    }

    /// The `Allow` header value, in DRF's order.
    pub fn allow(&self) -> String {
        let order = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
        let mut out: Vec<&str> =
            order.iter().filter(|m| self.methods.iter().any(|op| op.method == **m)).map(Method::as_str).collect();
        if self.head && self.methods.iter().any(|op| op.method == Method::GET) {
            out.push("HEAD");
        }
        out.push("OPTIONS");
        out.join(", ")
    }
}

/// Every API route, grouped by resource. Feature modules append their own.
pub fn api_routes() -> Vec<ApiRoute> {
    let mut routes = Vec::new();
    routes.extend(meta::routes());
    routes.extend(users::routes());
    routes.extend(rooms::routes());
    routes.extend(resource_accesses::routes());
    routes.extend(webhooks::routes());
    routes.extend(recordings::routes());
    routes.extend(lobby::routes());
    routes.extend(participants::routes());
    routes.extend(incall::routes());
    routes.extend(external::routes());
    routes.extend(addons::routes());
    routes.extend(files::routes());
    routes
}

/// The path matcher used by the trailing-slash redirect (built from the same table).
#[derive(Clone)]
pub struct Paths(Arc<matchit::Router<()>>);

impl Paths {
    pub fn matches(&self, path: &str) -> bool {
        self.0.at(path).is_ok()
    }
}

/// Builds the whole application router.
pub fn router(state: AppState) -> Router {
    let mut app: Router<AppState> = Router::new();
    let mut matcher = matchit::Router::new();
    for route in api_routes() {
        // EXTERNAL_API_ENABLED is a routing switch (now-external-api §1.2): off, nothing is there.
        if route.path.starts_with(external::PREFIX) && !state.config.external_api.enabled {
            continue;
        }
        let _ = matcher.insert(route.path, ());
        app = app.route(route.path, with_conventions(route));
    }
    // The OIDC views are Django views, not DRF ones: own router, same trailing-slash redirects.
    for path in auth::PATHS {
        let _ = matcher.insert(*path, ());
    }
    app = app.merge(auth::routes());
    app = app.merge(health::routes()).merge(openapi::routes());
    if state.config.ops.metrics_enabled && state.config.ops.metrics_bind.is_none() {
        app = app.merge(metrics::routes());
    }
    let paths = Paths(Arc::new(matcher));
    app.fallback(not_found)
        .layer(axum::Extension(paths))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::session_challenge))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::cors))
        .layer(axum::middleware::from_fn(middleware::api_headers))
        .layer(axum::middleware::from_fn(middleware::request_log))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::locale))
        // Outermost: the language scope (a task-local) must live inside the request's own task.
        .layer(axum::middleware::from_fn(middleware::run_to_completion))
        .with_state(state)
}

/// Adds the DRF conventions to a route: OPTIONS metadata, HEAD refusal where needed, the
/// authenticate-then-405 fallback, and the `Allow` header on every response.
fn with_conventions(route: ApiRoute) -> MethodRouter<AppState> {
    let allow = route.allow();
    let auth = route.auth;
    let name = route.name;
    let mut handler = route.handler;
    let allow_fb = allow.clone();
    handler = handler.options(move |caller: Result<Caller, ApiError>| async move {
        let caller = caller?;
        check_view(&caller, auth)?;
        Ok::<Response, ApiError>(json_response(StatusCode::OK, &options_body(name)))
    });
    if !route.head {
        let allow_head = allow.clone();
        handler = handler
            .head(move |caller: Result<Caller, ApiError>| method_not_allowed(caller, auth, Method::HEAD, allow_head));
    }
    handler =
        handler.fallback(
            move |State(state): State<AppState>,
                  headers: HeaderMap,
                  caller: Result<Caller, ApiError>,
                  method: Method| async move {
                if auth == ViewAuth::ExternalBearer {
                    let now = chrono::Utc::now().timestamp();
                    let found =
                        crate::service::external::authenticate(&state, headers.get(header::AUTHORIZATION), now).await;
                    return match found.and_then(crate::service::external::require_authenticated) {
                        Ok(_) => ApiError::MethodNotAllowed { method: method.to_string(), allow: allow_fb },
                        Err(e) => e,
                    };
                }
                method_not_allowed(caller, auth, method, allow_fb).await
            },
        );
    let value = HeaderValue::from_str(&allow).unwrap_or(HeaderValue::from_static("OPTIONS"));
    handler.layer(axum::middleware::map_response(move |mut res: Response| {
        let value = value.clone();
        async move {
            res.headers_mut().insert(header::ALLOW, value);
            res
        }
    }))
}

/// Applies the view-level permission: 401 for anonymous callers where a user is required.
pub fn check_view(caller: &Caller, auth: ViewAuth) -> Result<(), ApiError> {
    match auth {
        ViewAuth::Any | ViewAuth::UserForUnsafe | ViewAuth::ExternalBearer => Ok(()),
        ViewAuth::User => caller.require_user().map(|_| ()),
    }
}

/// [`check_view`] for a request with `method` (unsafe methods need a user under `UserForUnsafe`).
pub fn check_view_for(caller: &Caller, auth: ViewAuth, method: &Method) -> Result<(), ApiError> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    match auth {
        ViewAuth::UserForUnsafe if !safe => caller.require_user().map(|_| ()),
        other => check_view(caller, other),
    }
}

async fn method_not_allowed(
    caller: Result<Caller, ApiError>,
    auth: ViewAuth,
    method: Method,
    allow: String,
) -> ApiError {
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return e,
    };
    if let Err(e) = check_view_for(&caller, auth, &method) {
        return e;
    }
    ApiError::MethodNotAllowed { method: method.to_string(), allow }
}

fn options_body(name: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "description": "",
        "renders": ["application/json"],
        "parses": ["application/json"],
    })
}

/// No route matched: Meet's 301 to the slashed path when that one exists (users-auth-rooms
/// §2.1, every method, query string kept), otherwise a JSON 404.
async fn not_found(
    State(_): State<AppState>,
    axum::Extension(paths): axum::Extension<Paths>,
    req: Request,
) -> Response {
    let uri = req.uri();
    let path = uri.path();
    if !path.ends_with('/') && (path.starts_with("/api/") || path.starts_with(external::PREFIX)) {
        let slashed = format!("{path}/");
        if paths.matches(&slashed) {
            let location = match uri.query() {
                Some(q) => format!("{slashed}?{q}"),
                None => slashed,
            };
            let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            return resp;
        }
    }
    ApiError::NotFound.into_response()
}
