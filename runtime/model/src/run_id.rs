use serde::{Deserialize, Serialize};
use std::fmt;

/// A validated run id: `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`. Only this type
/// goes into an S3 key, so a hostile id (`../x`, unicode, 1 KB) never does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RunId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunIdError {
    #[error("run_id is empty")]
    Empty,
    #[error("run_id is {0} characters long; at most 64 are allowed")]
    TooLong(usize),
    #[error("run_id must start with a letter or digit")]
    BadStart,
    #[error("run_id may contain only letters, digits, '-' and '_' (found {0:?})")]
    BadChar(char),
}

impl RunId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, RunIdError> {
        let len = s.chars().count();
        if len == 0 {
            return Err(RunIdError::Empty);
        }
        if len > Self::MAX_LEN {
            return Err(RunIdError::TooLong(len));
        }
        let mut chars = s.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err(RunIdError::BadStart);
        }
        if let Some(c) = chars.find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
            return Err(RunIdError::BadChar(c));
        }
        Ok(Self(s.to_owned()))
    }

    /// A fresh id for a job whose client did not name one (UUID v4 text).
    pub fn from_uuid(uuid: impl fmt::Display) -> Self {
        Self::parse(&uuid.to_string()).expect("a UUID is a valid run id")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RunId {
    type Err = RunIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_contract_alphabet() {
        for ok in ["a", "0", "run-1", "A_b-C", &"x".repeat(64), "6f1c2d3e-aaaa-4bbb-8ccc-123456789abc"] {
            assert!(RunId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_hostile_ids() {
        assert_eq!(RunId::parse(""), Err(RunIdError::Empty));
        assert_eq!(RunId::parse("../x"), Err(RunIdError::BadStart));
        assert_eq!(RunId::parse("a/../../x"), Err(RunIdError::BadChar('/')));
        assert_eq!(RunId::parse("-a"), Err(RunIdError::BadStart));
        assert_eq!(RunId::parse("_a"), Err(RunIdError::BadStart));
        assert_eq!(RunId::parse("ünï"), Err(RunIdError::BadStart));
        assert_eq!(RunId::parse("aé"), Err(RunIdError::BadChar('é')));
        assert_eq!(RunId::parse("a b"), Err(RunIdError::BadChar(' ')));
        assert_eq!(RunId::parse(&"a".repeat(65)), Err(RunIdError::TooLong(65)));
        assert_eq!(RunId::parse(&"a".repeat(1024)), Err(RunIdError::TooLong(1024)));
        assert!(serde_json::from_str::<RunId>("\"../etc\"").is_err());
    }
}
