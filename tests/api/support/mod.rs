//! Test harness: `TestApp::spawn()` (fresh database and cache namespace per test), clients with
//! their own cookie jars, and factories that go through the store API.

#![allow(dead_code)]

pub mod brevo;
pub mod egress;
pub mod livekit;
pub mod oidc;
pub mod oidc_keys;
pub mod proxy;
pub mod rooms;
pub mod s3;
pub mod smtp;
pub mod summary;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use meet::store::users::{NewUser, User};
use meet::{App, AppState, Config};
use reqwest::cookie::Jar;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;
use uuid::Uuid;

/// Which backends this run uses (from the environment).
pub fn pg_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|s| !s.is_empty())
}

pub fn redis_url() -> Option<String> {
    std::env::var("TEST_REDIS_URL").ok().filter(|s| !s.is_empty())
}

/// A database made for one test and dropped after it.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new() -> TestDb {
        match pg_url() {
            Some(admin) => {
                let name = format!("t_{}", Uuid::new_v4().simple());
                let mut conn = connect_admin(&admin).await;
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                TestDb { url: url.to_string(), pg_name: Some(name), _dir: None }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("meet.sqlite3").display());
                TestDb { url, pg_name: None, _dir: Some(dir) }
            }
        }
    }
}

async fn connect_admin(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.expect("connect to TEST_DATABASE_URL")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (Some(name), Some(admin)) = (self.pg_name.take(), pg_url()) else { return };
        // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let mut conn = connect_admin(&admin).await;
                let _ =
                    sqlx::Executor::execute(&mut conn, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
            });
        })
        .join();
    }
}

/// A running app for one test.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The metrics listener's address (`MEET_METRICS_BIND`).
    pub metrics_addr: Option<SocketAddr>,
    pub base: String,
    pub state: AppState,
    pub db: Arc<TestDb>,
    pub data_dir: Arc<tempfile::TempDir>,
    pub vars: HashMap<String, String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[]).await
    }

    /// Starts the app with extra settings (`(NAME, value)` pairs).
    pub async fn spawn_with(vars: &[(&str, &str)]) -> TestApp {
        TestApp::spawn_on(TestDb::new().await, vars).await
    }

    /// Starts the app on a database prepared by the test (e.g. one loaded from a fixture).
    pub async fn spawn_on(db: TestDb, vars: &[(&str, &str)]) -> TestApp {
        let db = Arc::new(db);
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let map = TestApp::settings(&db, &data_dir, vars);
        TestApp::start(db, data_dir, map).await
    }

    /// The settings of a test app on `db` with `vars` on top.
    pub fn settings(db: &TestDb, data_dir: &tempfile::TempDir, vars: &[(&str, &str)]) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = HashMap::new();
        map.insert("MEET_BIND".into(), "127.0.0.1:0".into());
        map.insert("MEET_DATA_DIR".into(), data_dir.path().display().to_string());
        map.insert("DATABASE_URL".into(), db.url.clone());
        map.insert("DJANGO_SECRET_KEY".into(), "test-secret-key-not-for-production".into());
        map.insert("MEET_DB_POOL_SIZE".into(), "5".into());
        if let Some(r) = redis_url() {
            map.insert("REDIS_URL".into(), r);
            map.insert("MEET_CACHE_PREFIX".into(), format!("t:{}:", Uuid::new_v4().simple()));
        }
        for (k, v) in vars {
            map.insert(k.to_string(), v.to_string());
        }
        map
    }

    /// Starts an app on an existing database and settings (e.g. to restart one).
    pub async fn start(db: Arc<TestDb>, data_dir: Arc<tempfile::TempDir>, vars: HashMap<String, String>) -> TestApp {
        let lookup = vars.clone();
        let config = Config::from_lookup(move |k| lookup.get(k).cloned()).expect("valid test configuration");
        let app = App::build(config).await.expect("app starts");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = app
                .run_until(async move {
                    let _ = rx.await;
                })
                .await;
        });
        TestApp {
            addr,
            metrics_addr,
            base: format!("http://{addr}"),
            state,
            db,
            data_dir,
            vars,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops this instance (graceful shutdown) and waits for it.
    pub async fn stop(mut self) -> (Arc<TestDb>, Arc<tempfile::TempDir>, HashMap<String, String>) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        (self.db.clone(), self.data_dir.clone(), self.vars.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// An anonymous client with its own cookie jar; redirects are not followed.
    pub fn client(&self) -> TestClient {
        TestClient::new(self.base.clone(), None)
    }

    /// A client logged in as `user` through a server-side session created in the store (the test
    /// equivalent of a finished OIDC login; no HTTP route exists for it).
    pub async fn client_for(&self, user: &User) -> TestClient {
        let key = self.state.sessions.create_for_user(user.id, Default::default()).await.expect("session created");
        let csrf = meet::domain::csrf::new_secret();
        let client = TestClient::new(self.base.clone(), Some(csrf.clone()));
        let url: reqwest::Url = self.base.parse().unwrap();
        client.jar.add_cookie_str(&format!("sessionid={key}; Path=/"), &url);
        client.jar.add_cookie_str(&format!("csrftoken={csrf}; Path=/"), &url);
        TestClient { session_key: Some(key), ..client }
    }

    /// Creates a user through the store.
    pub async fn create_user(&self, email: &str) -> User {
        meet::store::users::create(
            &self.state.db,
            NewUser {
                sub: Some(format!("sub-{}", Uuid::new_v4().simple())),
                email: Some(email.to_string()),
                full_name: Some(format!("Full {email}")),
                short_name: Some("Short".into()),
                ..Default::default()
            },
            "en-us",
        )
        .await
        .expect("user created")
    }

    /// A new user and a client logged in as them.
    pub async fn logged_in(&self, email: &str) -> (User, TestClient) {
        let user = self.create_user(email).await;
        let client = self.client_for(&user).await;
        (user, client)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An HTTP client bound to one app, with a cookie jar and (when logged in) a CSRF token that it
/// sends with unsafe methods, as the frontend does.
#[derive(Clone)]
pub struct TestClient {
    pub base: String,
    pub http: reqwest::Client,
    pub jar: Arc<Jar>,
    pub csrf: Option<String>,
    pub session_key: Option<String>,
}

/// A response read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestClient {
    pub fn new(base: String, csrf: Option<String>) -> TestClient {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestClient { base, http, jar, csrf, session_key: None }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method.clone(), format!("{}{}", self.base, path));
        if let Some(csrf) = &self.csrf {
            if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
                rb = rb.header("X-CSRFToken", csrf);
            }
        }
        rb
    }

    pub async fn send(rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        Resp { status, headers, text }
    }

    pub async fn get(&self, path: &str) -> Resp {
        Self::send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        Self::send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        Self::send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        Self::send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        Self::send(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn method(&self, method: &str, path: &str) -> Resp {
        Self::send(self.request(Method::from_bytes(method.as_bytes()).unwrap(), path)).await
    }
}
