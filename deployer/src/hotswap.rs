//! `deploy --hotswap`: when the only thing that changed since the last
//! deploy is Lambda code, the functions are updated directly (seconds,
//! `execute::functions`) instead of through a change set (a minute or more
//! on AWS), and the deploy is recorded so that the next full deploy sees
//! nothing to do. Whether it can is decided here, purely.
//!
//! The stack's own parameters then still name the old code keys: the next
//! change set that changes anything else sets the new ones, which is the
//! code already running, so nothing drifts in what runs.

use crate::config::Names;
use std::collections::BTreeMap;

/// The code parameters of the template, and whose code each is.
fn functions(names: &Names) -> [(&'static str, String); 2] {
    [("ApiCodeKey", names.api_function.clone()), ("TriggerCodeKey", names.trigger_function.clone())]
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// The functions to update, each with its new code key.
    Code(Vec<(String, String)>),
    /// Why a change set is needed instead.
    ChangeSet(String),
}

/// Pure: the last deploy's parameters and template against this one's.
pub fn decide(names: &Names, before: Option<&BTreeMap<String, String>>, template_unchanged: bool, after: &BTreeMap<String, String>) -> Decision {
    let Some(before) = before else { return Decision::ChangeSet("no record of the last deploy's settings (the stack was deployed by an older deploy, or never)".into()) };
    if !template_unchanged {
        return Decision::ChangeSet("the template changed".into());
    }
    let code: Vec<&str> = functions(names).iter().map(|(p, _)| *p).collect();
    let others: Vec<&String> = after.iter().filter(|(k, v)| before.get(*k) != Some(*v) && !code.contains(&k.as_str())).map(|(k, _)| k).collect();
    if !others.is_empty() {
        return Decision::ChangeSet(format!("settings besides the code changed: {}", others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
    }
    Decision::Code(functions(names).into_iter().filter(|(p, _)| before.get(*p) != after.get(*p)).filter_map(|(p, f)| Some((f, after.get(p)?.clone()))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        crate::config::Settings::load(std::path::Path::new("/nonexistent/deploy.yaml"), None).unwrap().names
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn only_code_changed_updates_just_the_changed_functions() {
        let before = params(&[("ApiCodeKey", "a1"), ("TriggerCodeKey", "t1"), ("BatchSize", "10")]);
        let after = params(&[("ApiCodeKey", "a2"), ("TriggerCodeKey", "t1"), ("BatchSize", "10")]);
        assert_eq!(decide(&names(), Some(&before), true, &after), Decision::Code(vec![("scheduling-solver-api".into(), "a2".into())]));
        assert_eq!(decide(&names(), Some(&before), true, &before), Decision::Code(vec![]), "nothing to update");
    }

    #[test]
    fn anything_else_changed_needs_a_change_set_and_says_what() {
        let before = params(&[("ApiCodeKey", "a1"), ("BatchSize", "10")]);
        let after = params(&[("ApiCodeKey", "a2"), ("BatchSize", "5")]);
        assert_eq!(decide(&names(), Some(&before), true, &after), Decision::ChangeSet("settings besides the code changed: BatchSize".into()));
        assert_eq!(decide(&names(), Some(&before), false, &before), Decision::ChangeSet("the template changed".into()));
        assert!(matches!(decide(&names(), None, true, &after), Decision::ChangeSet(why) if why.starts_with("no record")));
    }
}
