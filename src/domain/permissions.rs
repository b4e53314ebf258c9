//! Roles, access levels and every object-level decision about rooms and room accesses
//! (users-auth-rooms §3.7, §5.3, §5.7, §5.8, §5.10), as pure functions over an ordered [`Role`].

use std::fmt;

/// A role on a room, ordered by privilege: `Member < Administrator < Owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Administrator,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Member, Role::Administrator, Role::Owner];

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "administrator" => Some(Role::Administrator),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Administrator => "administrator",
            Role::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// "Administrator privileges": administrator or owner (M-8).
pub fn is_administrator(role: Option<Role>) -> bool {
    role >= Some(Role::Administrator)
}

/// Owner (M-8).
pub fn is_owner(role: Option<Role>) -> bool {
    role == Some(Role::Owner)
}

/// Who may get LiveKit credentials for a room (§3.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessLevel {
    Public,
    Trusted,
    Restricted,
}

impl AccessLevel {
    pub const CHOICES: [&'static str; 3] = ["public", "trusted", "restricted"];

    pub fn parse(s: &str) -> Option<AccessLevel> {
        match s {
            "public" => Some(AccessLevel::Public),
            "trusted" => Some(AccessLevel::Trusted),
            "restricted" => Some(AccessLevel::Restricted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Public => "public",
            AccessLevel::Trusted => "trusted",
            AccessLevel::Restricted => "restricted",
        }
    }
}

/// What the room representation shows to one caller (now-rooms §6.2 inclusion rules; the
/// configuration is always shown and `pin_code` goes with `livekit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomVisibility {
    /// `accesses`: administrators and owners only.
    pub accesses: bool,
    /// `livekit` and `pin_code`.
    pub livekit: bool,
}

/// The §6.2 table: `role` is the caller's role on the room (none for anonymous callers).
pub fn room_visibility(level: AccessLevel, authenticated: bool, role: Option<Role>) -> RoomVisibility {
    RoomVisibility {
        accesses: is_administrator(role),
        livekit: level == AccessLevel::Public || (level == AccessLevel::Trusted && authenticated) || role.is_some(),
    }
}

/// PUT/PATCH of a room: administrator privileges (§5.7).
pub fn can_update_room(role: Option<Role>) -> bool {
    is_administrator(role)
}

/// DELETE of a room: owners only (§5.8).
pub fn can_delete_room(role: Option<Role>) -> bool {
    is_owner(role)
}

/// A refusal of a resource-access write, each with its exact 403 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessRefusal {
    /// `You do not have permission to perform this action.`
    Forbidden,
    /// `Only owners of a room can assign other users as owners.`
    OnlyOwners,
    /// `A resource should keep at least one owner.`
    LastOwner,
}

impl AccessRefusal {
    /// The 403 `detail`.
    pub fn message(self) -> crate::i18n::MsgId {
        use crate::i18n::msg;
        match self {
            AccessRefusal::Forbidden => crate::error::FORBIDDEN,
            AccessRefusal::OnlyOwners => msg::ONLY_OWNERS,
            AccessRefusal::LastOwner => msg::LAST_OWNER,
        }
    }
}

/// `You must be administrator or owner of a room to add accesses to it.`
pub const MUST_BE_ADMINISTRATOR: crate::i18n::MsgId = crate::i18n::msg::MUST_BE_ADMINISTRATOR;

/// Read (retrieve) or write (update) an access: administrator privileges on its room (§5.10).
pub fn can_manage_accesses(caller_role: Option<Role>) -> bool {
    is_administrator(caller_role)
}

/// The owner rule of a create (§5.10 POST step 4).
pub fn check_access_create(caller_role: Option<Role>, new_role: Role) -> Result<(), AccessRefusal> {
    if new_role == Role::Owner && !is_owner(caller_role) {
        return Err(AccessRefusal::OnlyOwners);
    }
    Ok(())
}

/// The owner rules of an update (§5.10 PUT/PATCH step 7; B16): a new owner needs an owner, and
/// an owner access can only be changed by the owner it belongs to.
pub fn check_access_update(
    caller_role: Option<Role>,
    target_role: Role,
    target_is_caller: bool,
    new_role: Role,
) -> Result<(), AccessRefusal> {
    if (new_role == Role::Owner && !is_owner(caller_role)) || (target_role == Role::Owner && !target_is_caller) {
        return Err(AccessRefusal::OnlyOwners);
    }
    Ok(())
}

/// The permission of a delete (§5.10 DELETE step 3): an owner access only by its owner,
/// any other access by an administrator or owner of the room.
pub fn can_delete_access(caller_role: Option<Role>, target_role: Role, target_is_caller: bool) -> bool {
    if target_role == Role::Owner {
        target_is_caller
    } else {
        is_administrator(caller_role)
    }
}

/// The at-least-one-owner invariant (§3.4): an owner access may stop being one only while
/// another owner exists. `owners` counts the room's owner accesses, the target's included.
pub fn keeps_an_owner(target_role: Role, new_role: Option<Role>, owners: u64) -> Result<(), AccessRefusal> {
    let loses_owner = target_role == Role::Owner && new_role != Some(Role::Owner);
    if loses_owner && owners <= 1 {
        return Err(AccessRefusal::LastOwner);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccessLevel::*;
    use Role::*;

    #[test]
    fn m_7_m_8_privileges() {
        assert!(!is_administrator(None) && !is_owner(None));
        assert!(!is_administrator(Some(Member)) && !is_owner(Some(Member)));
        assert!(is_administrator(Some(Administrator)) && !is_owner(Some(Administrator)));
        assert!(is_administrator(Some(Owner)) && is_owner(Some(Owner)));
        assert!(Member < Administrator && Administrator < Owner);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("Owner"), None);
    }

    #[test]
    fn room_representation_table() {
        let v = room_visibility(Restricted, false, None);
        assert!(!v.livekit && !v.accesses);
        assert!(room_visibility(Public, false, None).livekit);
        assert!(!room_visibility(Trusted, false, None).livekit);
        assert!(room_visibility(Trusted, true, None).livekit);
        assert!(!room_visibility(Restricted, true, None).livekit);
        let m = room_visibility(Restricted, true, Some(Member));
        assert!(m.livekit && !m.accesses);
        for r in [Administrator, Owner] {
            let a = room_visibility(Restricted, true, Some(r));
            assert!(a.livekit && a.accesses);
        }
    }

    #[test]
    fn room_update_and_delete_rights() {
        assert!(!can_update_room(None) && !can_update_room(Some(Member)));
        assert!(can_update_room(Some(Administrator)) && can_update_room(Some(Owner)));
        assert!(!can_delete_room(Some(Administrator)) && can_delete_room(Some(Owner)));
    }

    #[test]
    fn access_update_matrix() {
        use AccessRefusal::OnlyOwners;
        assert_eq!(check_access_update(Some(Administrator), Member, false, Administrator), Ok(()));
        assert_eq!(check_access_update(Some(Administrator), Member, false, Owner), Err(OnlyOwners));
        assert_eq!(check_access_update(Some(Administrator), Owner, false, Member), Err(OnlyOwners));
        assert_eq!(check_access_update(Some(Owner), Administrator, false, Owner), Ok(()));
        assert_eq!(check_access_update(Some(Owner), Owner, false, Owner), Err(OnlyOwners));
        assert_eq!(check_access_update(Some(Owner), Owner, true, Member), Ok(()));
        assert_eq!(check_access_update(Some(Administrator), Administrator, true, Member), Ok(()));
        assert_eq!(check_access_create(Some(Administrator), Owner), Err(OnlyOwners));
        assert_eq!(check_access_create(Some(Owner), Owner), Ok(()));
    }

    #[test]
    fn access_delete_matrix_and_last_owner() {
        assert!(!can_delete_access(Some(Member), Member, true));
        assert!(can_delete_access(Some(Administrator), Administrator, true));
        assert!(!can_delete_access(Some(Administrator), Owner, false));
        assert!(!can_delete_access(Some(Owner), Owner, false));
        assert!(can_delete_access(Some(Owner), Owner, true));
        assert_eq!(keeps_an_owner(Owner, None, 1), Err(AccessRefusal::LastOwner));
        assert_eq!(keeps_an_owner(Owner, Some(Member), 1), Err(AccessRefusal::LastOwner));
        assert_eq!(keeps_an_owner(Owner, Some(Owner), 1), Ok(()));
        assert_eq!(keeps_an_owner(Owner, Some(Member), 2), Ok(()));
        assert_eq!(keeps_an_owner(Member, None, 0), Ok(()));
    }
}
