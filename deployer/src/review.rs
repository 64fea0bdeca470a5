//! What a plan changes, as a reviewer reads it, and what in it needs an
//! operator's yes: pure functions of the template, the change set and the
//! parameters before and after, so plans are checked without AWS.
//!
//! A change set names resources, not properties (and the emulator's says
//! neither whether a change replaces); the settings that change, with the
//! resources whose properties use each, are what a reviewer can check.

use crate::stack::Change;
use serde_yaml::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SettingChange {
    pub name: String,
    /// `None`: the stack did not have it (a new parameter, or a new stack).
    pub before: Option<String>,
    pub after: String,
    /// The resources whose properties use it.
    pub used_by: Vec<String>,
}

/// Resource types whose replacement or removal loses what they hold.
const DATA_HOLDING: [&str; 2] = ["AWS::SQS::Queue", "AWS::S3::Bucket"];

fn resources(template: &str) -> Vec<(String, String, Value)> {
    let Ok(doc) = serde_yaml::from_str::<Value>(template) else { return Vec::new() };
    let Some(resources) = doc.get("Resources").and_then(Value::as_mapping) else { return Vec::new() };
    resources
        .iter()
        .filter_map(|(id, body)| {
            let kind = body.get("Type")?.as_str()?.to_owned();
            Some((id.as_str()?.to_owned(), kind, body.get("Properties").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

/// The parameters a value refers to: `!Ref P`, `{Ref: P}`, `${P}` in a `!Sub`.
fn referenced(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Tagged(tagged) => match (tagged.tag.to_string().as_str(), &tagged.value) {
            ("!Ref", Value::String(p)) => out.push(p.clone()),
            ("!Sub", Value::String(text)) => out.extend(sub_variables(text)),
            (_, inner) => referenced(inner, out),
        },
        Value::Mapping(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    (Some("Ref"), Value::String(p)) => out.push(p.clone()),
                    (Some("Fn::Sub"), Value::String(text)) => out.extend(sub_variables(text)),
                    _ => referenced(v, out),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| referenced(v, out)),
        _ => {}
    }
}

fn sub_variables(text: &str) -> Vec<String> {
    text.split("${").skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned())).filter(|n| !n.contains("AWS::") && !n.contains('.')).collect()
}

/// For each parameter, the resources whose properties use it.
pub fn parameter_users(template: &str) -> BTreeMap<String, Vec<String>> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, _, properties) in resources(template) {
        let mut refs = Vec::new();
        referenced(&properties, &mut refs);
        refs.sort();
        refs.dedup();
        for p in refs {
            users.entry(p).or_default().push(id.clone());
        }
    }
    users
}

pub fn setting_changes(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>, template: &str) -> Vec<SettingChange> {
    let users = parameter_users(template);
    after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| SettingChange { name: k.clone(), before: before.get(k).cloned(), after: v.clone(), used_by: users.get(k).cloned().unwrap_or_default() })
        .collect()
}

/// What the operator must confirm before this plan runs on an existing
/// stack (a new stack replaces and widens nothing): a data-holding resource
/// replaced, renamed or removed, and any change to IAM (it may grant more;
/// the change set cannot say whether it narrows).
pub fn confirmations(create: bool, changes: &[Change], settings: &[SettingChange], template: &str) -> Vec<String> {
    if create {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in changes {
        let holds_data = DATA_HOLDING.contains(&c.resource_type.as_str());
        if holds_data && c.action == "Remove" {
            out.push(format!("removes {} ({}) and what it holds", c.logical_id, c.resource_type));
        } else if holds_data && matches!(c.replacement.as_deref(), Some("True" | "Conditional")) {
            out.push(format!("replaces {} ({}): what it holds stays in the old one", c.logical_id, c.resource_type));
        } else if c.resource_type.starts_with("AWS::IAM::") && c.action != "Remove" {
            out.push(format!("{} IAM {} ({}): review the permissions it grants", if c.action == "Add" { "adds" } else { "changes" }, c.logical_id, c.resource_type));
        }
    }
    // A new name replaces the queue or bucket whatever the change set says
    // (the emulator's says nothing of replacement).
    for (id, kind, properties) in resources(template).into_iter().filter(|(_, kind, _)| DATA_HOLDING.contains(&kind.as_str())) {
        let name_key = if kind == "AWS::S3::Bucket" { "BucketName" } else { "QueueName" };
        let mut refs = Vec::new();
        if let Some(name) = properties.get(name_key) {
            referenced(name, &mut refs);
        }
        for s in settings.iter().filter(|s| s.before.is_some() && refs.contains(&s.name)) {
            let reason =
                format!("renames {id} ({kind}) by {} {} → {}: it is replaced, and what it holds stays in the old one", s.name, s.before.as_deref().unwrap_or_default(), s.after);
            if !out.iter().any(|r| r.contains(&format!(" {id} ("))) {
                out.push(reason);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = crate::template::SOLVER_TEMPLATE;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn change(action: &str, id: &str, kind: &str, replacement: Option<&str>) -> Change {
        Change { action: action.into(), logical_id: id.into(), resource_type: kind.into(), replacement: replacement.map(Into::into) }
    }

    #[test]
    fn a_changed_setting_names_the_resources_that_use_it() {
        let changes = setting_changes(&params(&[("BatchSize", "10"), ("QueueName", "q")]), &params(&[("BatchSize", "5"), ("QueueName", "q")]), TEMPLATE);
        assert_eq!(changes, vec![SettingChange { name: "BatchSize".into(), before: Some("10".into()), after: "5".into(), used_by: vec!["TriggerMapping".into()] }]);
        let users = parameter_users(TEMPLATE);
        assert!(users["QueueName"].contains(&"JobQueue".to_owned()) && users["QueueName"].contains(&"EventsDeadLetterQueue".to_owned()), "{users:?}");
    }

    #[test]
    fn renaming_the_queue_or_bucket_and_changing_iam_need_a_yes_on_an_existing_stack() {
        let settings = setting_changes(&params(&[("QueueName", "old-jobs"), ("BucketName", "b")]), &params(&[("QueueName", "new-jobs"), ("BucketName", "b")]), TEMPLATE);
        let iam = change("Modify", "TriggerRole", "AWS::IAM::Role", None);
        let asks = confirmations(false, std::slice::from_ref(&iam), &settings, TEMPLATE);
        assert!(asks.iter().any(|a| a.starts_with("renames JobQueue (AWS::SQS::Queue) by QueueName old-jobs → new-jobs")), "{asks:?}");
        assert!(asks.iter().any(|a| a.starts_with("changes IAM TriggerRole")), "{asks:?}");
        assert!(!asks.iter().any(|a| a.contains("ResultsBucket")), "the bucket keeps its name: {asks:?}");
        assert!(confirmations(true, &[iam], &settings, TEMPLATE).is_empty(), "a new stack asks nothing");
    }

    #[test]
    fn a_replacement_the_change_set_reports_needs_a_yes_and_an_update_in_place_does_not() {
        let replaced = change("Modify", "ResultsBucket", "AWS::S3::Bucket", Some("True"));
        let in_place = change("Modify", "TriggerFunction", "AWS::Lambda::Function", Some("False"));
        let asks = confirmations(false, &[replaced, in_place.clone()], &[], TEMPLATE);
        assert_eq!(asks, vec!["replaces ResultsBucket (AWS::S3::Bucket): what it holds stays in the old one".to_owned()]);
        assert!(confirmations(false, &[in_place], &[], TEMPLATE).is_empty());
    }
}
