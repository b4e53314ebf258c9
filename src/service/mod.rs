//! Use-cases: load, authorize (domain), mutate (store/cache), side effects (LiveKit, mail).

pub mod accesses;
pub mod lobby;
pub mod outbox;
pub mod participants;
pub mod reconciler;
pub mod recordings;
pub mod rooms;
pub mod throttle;
pub mod unregistered;
pub mod users;
