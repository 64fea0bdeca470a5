//! Does a role's policy grant an action on a resource? Enough of IAM's
//! evaluation for `deploy doctor` to tell "the trigger's role cannot
//! RunTask" from a working role, without `iam:SimulatePrincipalPolicy`
//! (which the emulator does not implement, and which a read-only operator
//! may not hold).
//!
//! What is evaluated: `Allow`/`Deny`, `Action`/`NotAction`,
//! `Resource`/`NotResource`, `*` and `?` wildcards (actions without regard to
//! case, resources with). Conditions are not: an `Allow` with a condition
//! counts as a grant (the stack's own statements carry conditions that hold
//! for the trigger's calls), and a `Deny` with one is assumed not to apply,
//! so the answer is "granted unless explicitly denied outright". Permission
//! boundaries, SCPs and session policies are out of reach of a role's own
//! documents; the check says what it read.

use serde_json::Value;

/// The outcome for one action on one resource over a set of documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows it (IAM's implicit deny).
    NotAllowed,
    /// A statement without conditions denies it.
    Denied,
}

pub fn decide(documents: &[Value], action: &str, resource: &str) -> Decision {
    let mut allowed = false;
    for statement in documents.iter().flat_map(statements) {
        if !applies(statement, action, resource) {
            continue;
        }
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") if statement.get("Condition").is_none() => return Decision::Denied,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if allowed { Decision::Allowed } else { Decision::NotAllowed }
}

fn statements(document: &Value) -> Vec<&Value> {
    match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

fn applies(statement: &Value, action: &str, resource: &str) -> bool {
    let action_matches = |patterns: &Value| strings(patterns).iter().any(|p| wildcard(&p.to_ascii_lowercase(), &action.to_ascii_lowercase()));
    let resource_matches = |patterns: &Value| strings(patterns).iter().any(|p| wildcard(p, resource));
    let action_ok = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(a), _) => action_matches(a),
        (None, Some(not)) => !action_matches(not),
        (None, None) => false,
    };
    let resource_ok = match (statement.get("Resource"), statement.get("NotResource")) {
        (Some(r), _) => resource_matches(r),
        (None, Some(not)) => !resource_matches(not),
        (None, None) => false,
    };
    action_ok && resource_ok
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// IAM's glob: `*` any run of characters, `?` any one.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A policy document as IAM returns it: URL-encoded JSON (RFC 3986) from
/// AWS, plain JSON from the emulator.
///
/// The emulator returns an inline policy that CloudFormation created as the
/// Python repr of its dict (`{'Version': '2012-10-17', ...}`), which no JSON
/// parser reads; that form is converted as a last resort. AWS never sends
/// it, so on AWS this fallback is never reached.
pub fn parse_document(text: &str) -> anyhow::Result<Value> {
    let decoded = if text.trim_start().starts_with('{') { text.to_owned() } else { percent_decode(text)? };
    serde_json::from_str(&decoded)
        .or_else(|e| python_literal_to_json(&decoded).and_then(|json| serde_json::from_str(&json).ok()).ok_or(e))
        .map_err(|e| anyhow::anyhow!("a policy document is not JSON ({e})"))
}

/// `{'a': ['b', True]}` → `{"a": ["b", true]}`; `None` when the text has a
/// form this does not know.
fn python_literal_to_json(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\\' => s.push(match chars.next()? {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        }),
                        end if end == c => break,
                        other => s.push(other),
                    }
                }
                out.push_str(&serde_json::to_string(&s).ok()?);
            }
            c if c.is_ascii_alphabetic() => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek().filter(|n| n.is_ascii_alphanumeric()) {
                    word.push(next);
                    chars.next();
                }
                out.push_str(match word.as_str() {
                    "True" => "true",
                    "False" => "false",
                    "None" => "null",
                    _ => return None,
                });
            }
            other => out.push(other),
        }
    }
    Some(out)
}

fn percent_decode(text: &str) -> anyhow::Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or_else(|| anyhow::anyhow!("a policy document has a broken %-escape"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| anyhow::anyhow!("a policy document has a broken %-escape %{hex}"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| anyhow::anyhow!("a policy document is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TASK_DEF: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/solver-worker:7";

    #[test]
    fn the_stack_s_trigger_statements_grant_run_task_on_the_family_only() {
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": "arn:aws:ecs:us-east-1:123456789012:task-definition/solver-worker:*",
             "Condition": {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/c"}}},
            {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": ["arn:aws:iam::123456789012:role/task", "arn:aws:iam::123456789012:role/exec"]}
        ]});
        assert_eq!(decide(std::slice::from_ref(&policy), "ecs:RunTask", TASK_DEF), Decision::Allowed);
        assert_eq!(decide(std::slice::from_ref(&policy), "ECS:runtask", TASK_DEF), Decision::Allowed, "actions ignore case");
        assert_eq!(decide(std::slice::from_ref(&policy), "ecs:RunTask", "arn:aws:ecs:us-east-1:123456789012:task-definition/other:1"), Decision::NotAllowed);
        assert_eq!(decide(std::slice::from_ref(&policy), "iam:PassRole", "arn:aws:iam::123456789012:role/exec"), Decision::Allowed);
        assert_eq!(decide(std::slice::from_ref(&policy), "iam:PassRole", "arn:aws:iam::123456789012:role/Exec"), Decision::NotAllowed, "resources keep case");
        assert_eq!(decide(&[], "ecs:RunTask", TASK_DEF), Decision::NotAllowed);
    }

    #[test]
    fn wildcards_not_forms_and_an_outright_deny() {
        let admin = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
        let no_iam = json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]});
        let deny = json!({"Statement": [{"Effect": "Deny", "Action": "ecs:Run?ask", "Resource": "*"}]});
        let conditional_deny = json!({"Statement": [{"Effect": "Deny", "Action": "ecs:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        assert_eq!(decide(std::slice::from_ref(&admin), "ecs:RunTask", TASK_DEF), Decision::Allowed);
        assert_eq!(decide(std::slice::from_ref(&no_iam), "iam:PassRole", "arn:aws:iam::1:role/x"), Decision::NotAllowed);
        assert_eq!(decide(std::slice::from_ref(&no_iam), "ecs:RunTask", TASK_DEF), Decision::Allowed);
        assert_eq!(decide(&[admin.clone(), deny], "ecs:RunTask", TASK_DEF), Decision::Denied);
        assert_eq!(decide(&[admin, conditional_deny], "ecs:RunTask", TASK_DEF), Decision::Allowed);
        assert!(wildcard("a*b*c", "axxbyyc") && !wildcard("a*b*c", "axxbyy") && wildcard("*", "") && !wildcard("a?", "a"));
    }

    #[test]
    fn documents_come_url_encoded_or_plain() {
        let plain = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        assert_eq!(parse_document(plain).unwrap(), parse_document(encoded).unwrap());
        assert!(parse_document("%7B%2").unwrap_err().to_string().contains("%-escape"));
        let python = r#"{'Statement': [{'Effect': 'Allow', 'Action': 's3:*', 'Resource': '*', 'Sid': "it's"}], 'X': True}"#;
        assert_eq!(
            parse_document(python).unwrap()["Statement"],
            parse_document(plain).unwrap()["Statement"]
                .as_array()
                .map(|s| {
                    let mut s = s[0].clone();
                    s["Sid"] = Value::from("it's");
                    Value::Array(vec![s])
                })
                .unwrap()
        );
        assert!(parse_document("{'a': undefined}").unwrap_err().to_string().contains("not JSON"));
    }
}
