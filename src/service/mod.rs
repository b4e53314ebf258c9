//! Use-cases: load, authorize (domain), mutate (store/cache), side effects (LiveKit, mail).

pub mod accesses;
pub mod addons;
pub mod cleanup;
pub mod diagnostics;
pub mod external;
pub mod files;
pub mod invitations;
pub mod jobs;
pub mod lobby;
pub mod merge;
pub mod outbox;
pub mod participants;
pub mod reconciler;
pub mod recording_events;
pub mod recordings;
pub mod resource_server;
pub mod roomkit;
pub mod rooms;
pub mod scheduler;
pub mod subtitles;
pub mod summary;
pub mod throttle;
pub mod unregistered;
pub mod users;
