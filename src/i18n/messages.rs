//! Every message id the API can answer, as gettext would key it: the English text, with
//! `{name}` placeholders for its parameters. A [`MsgId`] can only be made here, so a message the
//! code emits is necessarily one of these constants, and the catalogue tests iterate [`ALL`].

use super::MsgId;

macro_rules! messages {
    ($($(#[$doc:meta])* $name:ident = $text:expr;)*) => {
        $($(#[$doc])* pub const $name: MsgId = MsgId($text);)*
        /// Every message id, in declaration order.
        pub const ALL: &[MsgId] = &[$($name),*];
    };
}

messages! {
    // Framework messages, translated by the framework's catalogues.
    NOT_AUTHENTICATED = "Authentication credentials were not provided.";
    PERMISSION_DENIED = "You do not have permission to perform this action.";
    NOT_FOUND = "Not found.";
    INVALID_PAGE = "Invalid page.";
    METHOD_NOT_ALLOWED = "Method \"{method}\" not allowed.";
    UNSUPPORTED_MEDIA_TYPE = "Unsupported media type \"{media_type}\" in request.";
    THROTTLED = "Request was throttled.";
    /// Appended to [`THROTTLED`] when the wait is exactly 1 (the plural is chosen by the English
    /// rule in every language: the framework looks the already formatted text up).
    THROTTLED_WAIT_ONE = "Expected available in {wait} second.";
    THROTTLED_WAIT_MANY = "Expected available in {wait} seconds.";
    SERVER_ERROR = "A server error occurred.";
    REQUIRED = "This field is required.";
    NOT_NULL = "This field may not be null.";
    NOT_BLANK = "This field may not be blank.";
    NOT_A_STRING = "Not a valid string.";
    NO_NULL_CHARACTERS = "Null characters are not allowed.";
    MAX_LENGTH = "Ensure this field has no more than {max_length} characters.";
    INVALID_CHOICE = "\"{input}\" is not a valid choice.";
    NOT_A_DICT = "Expected a dictionary of items but got type \"{input_type}\".";
    PK_DOES_NOT_EXIST = "Invalid pk \"{pk_value}\" - object does not exist.";
    PK_INCORRECT_TYPE = "Incorrect type. Expected pk value, received {data_type}.";
    INVALID_BOOLEAN = "Must be a valid boolean.";
    INVALID_UUID_FIELD = "Must be a valid UUID.";
    INVALID_TIMEZONE = "A valid timezone is required.";
    INVALID_INTEGER = "A valid integer is required.";
    INVALID_DATA = "Invalid data. Expected a dictionary, but got {datatype}.";
    UNIQUE_TOGETHER = "The fields {field_names} must make a unique set.";
    INVALID_UUID = "\u{201c}{value}\u{201d} is not a valid UUID.";
    /// The model validator's plural form (the limit is a constant above 1).
    MAX_LENGTH_VALUE = "Ensure this value has at most {limit_value} characters (it has {show_value}).";
    /// The model's unique message with the (translated) model name "Room" and the label "Slug".
    ROOM_SLUG_TAKEN = "Room with this Slug already exists.";
    CONSTRAINT_VIOLATED = "Constraint \u{201c}{name}\u{201d} is violated.";
    INVALID_EMAIL = "Enter a valid email address.";
    NOT_A_LIST = "Expected a list of items but got type \"{input_type}\".";
    EMPTY_LIST = "This list may not be empty.";
    MAX_LIST_LENGTH = "Ensure this field has no more than {max_length} elements.";

    // Meet's messages that Meet translates.
    MUST_BE_ADMINISTRATOR = "You must be administrator or owner of a room to add accesses to it.";
    INVALID_SUB = "Enter a valid sub. This value may contain only letters, numbers, and @/./+/-/_ characters.";

    // Messages the reference never marks for translation: English in every catalogue.
    /// `get_object_or_404`'s message (the model's class name, not its verbose name).
    NO_MATCH = "No {model} matches the given query.";
    ONLY_OWNERS = "Only owners of a room can assign other users as owners.";
    LAST_OWNER = "A resource should keep at least one owner.";
    ROOM_NAME_RESERVED = "Room name \"{name}\" is reserved.";
    ROOM_NAME_NO_ALPHANUMERIC = "Room name \"{name}\" must contain at least one ASCII letter or digit.";
    JSON_PARSE_ERROR = "JSON parse error - {detail}";
    CSRF_FAILED = "CSRF Failed: {reason}";
    CSRF_BAD_ORIGIN = "Origin checking failed - {origin} does not match any trusted origins.";
    CSRF_NO_REFERER = "Referer checking failed - no Referer.";
    CSRF_MALFORMED_REFERER = "Referer checking failed - Referer is malformed.";
    CSRF_INSECURE_REFERER = "Referer checking failed - Referer is insecure while host is secure.";
    CSRF_BAD_REFERER = "Referer checking failed - {referer} does not match any trusted origins.";
    CSRF_NO_COOKIE = "CSRF cookie not set.";
    CSRF_COOKIE_INCORRECT_LENGTH = "CSRF cookie has incorrect length.";
    CSRF_COOKIE_INVALID_CHARACTERS = "CSRF cookie has invalid characters.";
    CSRF_TOKEN_MISSING = "CSRF token missing.";
    CSRF_HEADER_INCORRECT_LENGTH = "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.";
    CSRF_HEADER_INVALID_CHARACTERS = "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.";
    CSRF_HEADER_INCORRECT = "CSRF token from the 'X-Csrftoken' HTTP header incorrect.";
    BEARER_NO_CREDENTIALS = "Invalid \"bearer\" header: No credentials provided.";
    BEARER_SPACES = "Invalid \"bearer\" header: Credentials string should not contain spaces.";
    LOGIN_FAILED = "Login failed";
    LOGIN_NO_USER = "Login failed: No user found for the given access token.";
    /// A text from an outside system (the identity provider's `error_description`), as received.
    VERBATIM = "{text}";
    RECORDING_DISABLED = "Access denied, recording is disabled.";
    STORAGE_EVENT_DISABLED = "Access denied, storage event is disabled.";
    START_FORBIDDEN = "You must have privileges to start a recording.";
    NO_ACTIVE_RECORDING = "No active recording found for this room.";
    NO_RECORDING_FOR_EVENT = "No recording found for this event.";
    NO_RECORDING_WITH_EXTENSION = "No recording found with this extension.";
    UNSUPPORTED_EXTENSION = "Unsupported extension.";
    INVALID_REQUEST = "Invalid request.";
    INVALID_REQUEST_DATA = "Invalid request data: {reason}";
    INVALID_BUCKET = "Invalid bucket specified";
    CANNOT_SAVE_RECORDING = "Recording with ID {id} cannot be saved because it is either, in an error state or has already been saved.";
    STORAGE_TOKEN_NOT_CONFIGURED = "Authentication is enabled but token is not configured.";
    STORAGE_AUTHORIZATION_REQUIRED = "Authorization header is required";
    INVALID_AUTHORIZATION_HEADER = "Invalid authorization header.";
    INVALID_TOKEN = "Invalid token";
    MULTIPART_PARSE_ERROR = "Multipart form parse error - {detail}";
    PRIVILEGES_ON_ROOM = "You must have privileges on room to perform this action.";
    NOT_IN_MEETING = "You must be connected to the meeting to perform this action.";
    LIVEKIT_AUTHORIZATION_HEADER = "Authorization header must be: Bearer <token>";
    INVALID_LIVEKIT_TOKEN = "Invalid LiveKit token: {reason}";
    FORBIDDEN_PERMISSIONS = "Setting the following participant permissions is not allowed: {fields}.";
    PARTICIPANT_UPDATE_EMPTY = "At least one of the following fields must be provided: metadata, attributes, permission, name.";
    INVITATIONS_SENT = "invitations sent";
    SUBTITLES_FAILED = "Subtitles failed to start for room {slug}";
    ROOMKIT_TOKEN_NOT_CONFIGURED = "Server-to-server token is not configured.";
    ROOMKIT_AUTHORIZATION_MISSING = "Authorization header is missing.";
    ROOMKIT_INVALID_TOKEN = "Invalid server-to-server token.";
    PIN_LENGTH_INVALID = "PIN code length is invalid.";
    NO_ROOM_FOR_PIN = "No room found for this PIN code.";
    DISPATCH_RULE_FAILED = "Could not create dispatch rule.";

    // This implementation's own answers (no reference text): English in every catalogue.
    PAYLOAD_TOO_LARGE = "Request body is too large.";
    UNAVAILABLE = "Service temporarily unavailable: the {dependency} cannot be reached.";
    PIN_NOT_DIGITS = "PIN code must contain only digits.";
    INVITATIONS_NOT_SENT = "Invitations could not be sent.";
    // External API (now-external-api §6–§9): upstream's own texts, untranslated upstream.
    EXT_INVALID_CREDENTIALS = "Invalid credentials";
    EXT_APPLICATION_INACTIVE = "Application is inactive";
    EXT_SCOPE_NOT_EMAIL = "Scope should be a valid email address.";
    EXT_DOMAIN_NOT_AUTHORIZED = "This application is not authorized for this email domain.";
    EXT_USER_NOT_FOUND = "User not found.";
    EXT_MULTIPLE_USERS = "Multiple user accounts share a common email.";
    EXT_INVALID_TOKEN_HEADER = "Invalid token header.";
    EXT_INVALID_TOKEN_ENCODING = "Invalid token encoding.";
    EXT_TOKEN_EXPIRED = "Token expired.";
    EXT_INVALID_TOKEN = "Invalid token.";
    EXT_INVALID_TOKEN_CLAIMS = "Invalid token claims.";
    EXT_APPLICATION_NOT_FOUND = "Application not found.";
    EXT_APPLICATION_DISABLED = "Application is disabled.";
    EXT_INVALID_TOKEN_TYPE = "Invalid token type.";
    EXT_USER_DISABLED = "User account is disabled.";
    EXT_INSUFFICIENT_PERMISSIONS = "Insufficient permissions.";
    EXT_INSUFFICIENT_SCOPE = "Insufficient permissions. Required scope: {scope}";
    EXT_PUBLIC_ROOMS_DISABLED = "Public rooms are disabled for the external API.";
    // Provisional users, add-on sessions, back-channel logout (now-external-api §10, §12, §13.6):
    // upstream's own texts, untranslated upstream.
    EXT_PROVISIONAL_FAILED = "Failed to create or retrieve provisional user.";
    ADDON_MISSING_CREDENTIALS = "Missing credentials.";
    ADDON_MISSING_CSRF = "Missing CSRF token.";
    ADDON_INVALID_CSRF = "Invalid CSRF token.";
    ADDON_SESSION_NOT_FOUND = "Session not found.";
    ADDON_INVALID_SESSION = "Invalid or expired session.";
    ADDON_MISSING_TRANSIT = "Missing transit_token.";
    ADDON_INVALID_TRANSIT = "Invalid or expired transit token.";
    BACKCHANNEL_MISSING_TOKEN = "Missing logout_token parameter";
    BACKCHANNEL_INVALID_TOKEN = "Invalid logout token";
    BACKCHANNEL_NO_SUB_OR_SID = "Token must contain either sub or sid claim";
    BACKCHANNEL_ALREADY_PROCESSED = "Token already processed";
    BACKCHANNEL_FAILED = "Logout failed";
    // Recordings at upstream HEAD (now-recordings §6–§13): upstream's texts, untranslated upstream.
    REC_INVALID_REQUEST_DATA = "Invalid request data.";
    REC_INVALID_BUCKET = "Invalid bucket specified.";
    REC_INVALID_AUTHORIZATION_FORMAT = "Invalid authorization header format.";
    // File uploads (now-recordings-files §21): upstream's texts; "not uploaded" is our own (R-F5).
    FILE_EXTENSION_NOT_ALLOWED = "This file extension is not allowed.";
    FILE_MAX_COUNT = "You have reached the maximum number of files for this type.";
    FILE_ID_TAKEN = "A file with this ID already exists. You cannot override it.";
    FILE_NOT_PENDING = "This action is only available for files in PENDING state.";
    FILE_NOT_UPLOADED = "The file was not uploaded.";
    FILE_SIZE_EXCEEDED = "The file size is higher than the allowed max size.";
    FILE_TYPE_NOT_ALLOWED = "The file type is not allowed.";
    SELECT_VALID_CHOICE = "Select a valid choice. {value} is not one of the available choices.";
}
