//! The one query roomkit needs on `meet_room` (now-rooms §11.2): the room holding a PIN code.
//! The `pin_code` column and its unique index come with the room data model (now-rooms §2.1).

use uuid::Uuid;

use super::{Db, StoreError, Q};

#[derive(sqlx::FromRow)]
struct Hit {
    id: Uuid,
}

/// The id of the room whose PIN is exactly `pin`.
pub async fn room_id_by_pin(db: &Db, pin: &str) -> Result<Option<Uuid>, StoreError> {
    let hit: Option<Hit> =
        Q::new("SELECT resource_id AS id FROM meet_room WHERE pin_code = $1").bind(pin).fetch_optional(db).await?;
    Ok(hit.map(|h| h.id))
}
