//! The job queue's message. Small jobs travel inline; a job too large for an
//! SQS message is written to `input.json` first and the message carries only
//! the run id (claim check).

use crate::RunId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Conservative inline limit: SQS takes 256 KiB per message (1 MiB in
/// regions that raised it); attributes and the envelope need room too.
pub const MAX_INLINE_BYTES: usize = 200 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueMessage {
    pub run_id: RunId,
    /// The job request, inline; absent when it is in `input.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed queue message: {reason}")]
pub struct MalformedMessage {
    /// The run id, when the body had a valid one, so its status can say FAILED.
    pub run_id: Option<RunId>,
    pub reason: String,
}

impl QueueMessage {
    pub fn parse(body: &str) -> Result<Self, MalformedMessage> {
        let value: Value = serde_json::from_str(body).map_err(|e| MalformedMessage { run_id: None, reason: format!("body is not JSON ({e})") })?;
        let run_id = value.get("run_id").and_then(Value::as_str).and_then(|s| RunId::parse(s).ok());
        serde_json::from_value(value).map_err(|e| MalformedMessage { run_id, reason: e.to_string() })
    }

    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a queue message always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_bodies_keep_a_valid_run_id_when_there_is_one() {
        assert_eq!(QueueMessage::parse("nope").unwrap_err().run_id, None);
        assert_eq!(QueueMessage::parse(r#"{"run_id":"../x"}"#).unwrap_err().run_id, None);
        let e = QueueMessage::parse(r#"{"run_id":"r1","request":5,"x":1}"#);
        assert!(e.is_ok(), "request content is checked later, by the consumer");
        let m = QueueMessage { run_id: RunId::parse("r1").unwrap(), request: None };
        assert_eq!(QueueMessage::parse(&m.to_body()).unwrap(), m);
    }
}
