//! Reading the environment once, at start-up, with errors that name the
//! variable and say what to set.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable {name} is not set: {hint}")]
    Missing { name: &'static str, hint: &'static str },
    #[error("environment variable {name} is malformed ({value:?}): {hint}")]
    Malformed { name: &'static str, value: String, hint: std::borrow::Cow<'static, str> },
}

pub fn required(name: &'static str, hint: &'static str) -> Result<String, EnvError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(EnvError::Missing { name, hint }),
    }
}

pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A comma-separated, non-empty list such as `ECS_SUBNETS`.
pub fn list(name: &'static str, hint: &'static str) -> Result<Vec<String>, EnvError> {
    let raw = required(name, hint)?;
    let items: Vec<String> = raw.split(',').map(str::trim).map(str::to_owned).collect();
    if items.iter().any(String::is_empty) {
        return Err(EnvError::Malformed { name, value: raw, hint: "a comma-separated list with no empty items".into() });
    }
    Ok(items)
}

pub fn flag(name: &'static str, hint: &'static str) -> Result<bool, EnvError> {
    let raw = required(name, hint)?;
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(EnvError::Malformed { name, value: raw, hint: "expected true or false".into() }),
    }
}

/// An optional whole number within `min..=max`.
pub fn number(name: &'static str, min: u32, max: u32) -> Result<Option<u32>, EnvError> {
    let Some(raw) = optional(name) else { return Ok(None) };
    match raw.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(EnvError::Malformed { name, value: raw, hint: format!("expected a whole number from {min} to {max}").into() }),
    }
}
