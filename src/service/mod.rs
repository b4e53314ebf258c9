//! Use-cases: load, authorize (domain), mutate (store/cache), side effects (LiveKit, mail).

pub mod accesses;
pub mod diagnostics;
pub mod external;
pub mod invitations;
pub mod jobs;
pub mod lobby;
pub mod outbox;
pub mod participants;
pub mod reconciler;
pub mod recordings;
pub mod roomkit;
pub mod rooms;
pub mod scheduler;
pub mod subtitles;
pub mod throttle;
pub mod unregistered;
pub mod users;
