//! One integration-test binary: every test starts the real app on 127.0.0.1:0 with a fresh
//! database and talks HTTP. `TEST_DATABASE_URL` / `TEST_REDIS_URL` switch the same tests from
//! SQLite + in-process cache to PostgreSQL + Redis.

mod support;

mod accesses;
mod addons;
mod admin_cli;
mod auth;
mod authz_matrix;
mod bearer;
mod bodies;
mod cache_contract;
mod cancellation;
mod cli;
mod concurrency;
mod creation_callback;
mod external_api;
mod external_rs;
mod files;
mod foundation;
mod i18n;
mod lobby;
mod logout;
mod marketing;
mod merge;
mod now_config;
mod now_incall;
mod now_lobby;
mod now_rooms;
mod now_users;
mod now_webhooks;
mod oidc_head;
mod openapi;
mod ops;
mod outage;
mod participants;
mod provisional;
mod recordings;
mod room_tokens;
mod rooms;
mod session_cache;
mod takeover;
mod users;
mod webhooks;
