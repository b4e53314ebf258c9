//! Small JSON bodies shared by several handlers (`{"message"}`, `{"error"}`), and the schemas of
//! the API's error shapes written by [`ApiError`](crate::error::ApiError) (`{"detail"}` and the
//! field errors), and the schemas of the domain's choices (built from the lists the validation
//! reads), for the OpenAPI document.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use crate::domain::permissions::{AccessLevel, Role};
use crate::domain::recording::{Mode, Status as RecordingStatus};
use crate::error::FieldErrors;

/// `{"message": "..."}`: the success (and lobby 404) answers of actions without a resource.
#[derive(Serialize, Debug, JsonSchema)]
#[schemars(rename = "Message")]
pub struct MessageOut {
    pub message: String,
}

impl MessageOut {
    pub fn new(message: impl Into<String>) -> Self {
        MessageOut { message: message.into() }
    }
}

/// `{"error": "..."}`: a recording action whose LiveKit call failed (500, state consistent).
#[derive(Serialize, Debug, JsonSchema)]
#[schemars(rename = "ActionError")]
pub struct ErrorOut {
    pub error: String,
}

/// `{"detail": "..."}`: every error of [`ApiError`](crate::error::ApiError) but the field errors.
#[derive(Serialize, Debug, JsonSchema)]
#[schemars(rename = "Detail")]
pub struct DetailOut {
    pub detail: String,
}

/// DRF's field errors: `{"<field>": ["message", …]}`, `non_field_errors` for the body as a whole.
impl JsonSchema for FieldErrors {
    fn schema_name() -> Cow<'static, str> {
        "FieldErrors".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "Messages by field name; `non_field_errors` for the body as a whole. A field \
                holding a dictionary has its errors by key (`{\"attributes\": {\"k\": [\"…\"]}}`); a field \
                checked by a schema has the schema's error objects (`type`, `loc`, `msg`, `input`, `url`).",
            "minProperties": 1,
            "additionalProperties": {"anyOf": [
                {"type": "array", "minItems": 1, "items": {"anyOf": [
                    {"type": "string"},
                    {"type": "object", "required": ["type", "loc", "msg"]},
                ]}},
                {"type": "object", "minProperties": 1},
            ]},
        })
    }
}

/// A string schema listing `values`.
fn choices(description: &str, values: impl IntoIterator<Item = &'static str>) -> Schema {
    let values: Vec<&str> = values.into_iter().collect();
    json_schema!({"type": "string", "description": description, "enum": values})
}

/// The access levels, as the room validation reads them.
impl JsonSchema for AccessLevel {
    fn schema_name() -> Cow<'static, str> {
        "AccessLevel".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        choices("Who may join a room without an invitation.", AccessLevel::CHOICES)
    }
}

impl JsonSchema for Role {
    fn schema_name() -> Cow<'static, str> {
        "Role".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        choices("A user's role on a room.", Role::ALL.map(Role::as_str))
    }
}

impl JsonSchema for Mode {
    fn schema_name() -> Cow<'static, str> {
        "RecordingMode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        choices("What is recorded.", Mode::ALL.map(Mode::as_str))
    }
}

impl JsonSchema for RecordingStatus {
    fn schema_name() -> Cow<'static, str> {
        "RecordingStatus".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        choices("Where a recording stands.", RecordingStatus::ALL.map(RecordingStatus::as_str))
    }
}
