//! A job request as clients send it (`POST /runs`), validated field by field
//! so that every refusal names the field and says what to send instead.

use crate::flexible::{FlexibleJobShop, FlexibleOperation};
use crate::jobshop::{JobShop, JobShopResult, Operation};
use crate::{CheckError, ErrorInfo, RunId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const DEFAULT_TIME_LIMIT_S: f64 = 60.0;
/// A week: past this a limit is a typo (milliseconds for seconds), not a plan.
pub const MAX_TIME_LIMIT_S: f64 = 7.0 * 24.0 * 3600.0;

/// A validated request. `problem` is kept exactly as it came, because an
/// external solver receives it unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    pub problem: Value,
    pub time_limit_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// Attempts the job may use when its tasks are lost (1 to
    /// `lifecycle::MAX_ATTEMPTS_CAP`); the deploy's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// `on-demand`, `spot` or `spot-first`, within what the deploy allows;
    /// the deploy's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::CapacityPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub code: &'static str,
    pub field: String,
    pub message: String,
}

impl RequestError {
    fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code, field: field.into(), message: message.into() }
    }

    pub fn to_error_info(&self) -> ErrorInfo {
        ErrorInfo::new(self.code, self.to_string())
    }
}

const KNOWN_FIELDS: [&str; 5] = ["problem", "time_limit_s", "run_id", "max_attempts", "capacity"];

impl JobRequest {
    pub fn from_slice(body: &[u8]) -> Result<Self, RequestError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| RequestError::new("INVALID_JSON", "body", format!("the body is not valid JSON ({e})")))?;
        Self::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<Self, RequestError> {
        let Value::Object(mut obj) = value else {
            return Err(RequestError::new("INVALID_REQUEST", "body", "expected a JSON object with `problem` and `time_limit_s`"));
        };
        if let Some(unknown) = obj.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
            return Err(RequestError::new("UNKNOWN_FIELD", unknown.clone(), format!("unknown field; a job request has only {}", KNOWN_FIELDS.join(", "))));
        }
        let problem = obj
            .remove("problem")
            .ok_or_else(|| RequestError::new("MISSING_FIELD", "problem", "missing: give the problem to solve, e.g. {\"kind\": \"jobshop\", \"jobs\": [...]}"))?;
        let time_limit_s = match obj.remove("time_limit_s") {
            None | Some(Value::Null) => DEFAULT_TIME_LIMIT_S,
            Some(Value::Number(n)) => {
                let t = n.as_f64().unwrap_or(f64::NAN);
                if !(t > 0.0 && t <= MAX_TIME_LIMIT_S) {
                    return Err(RequestError::new("INVALID_FIELD", "time_limit_s", format!("{n} is out of range: give seconds, more than 0 and at most {MAX_TIME_LIMIT_S}")));
                }
                t
            }
            Some(other) => return Err(RequestError::new("INVALID_FIELD", "time_limit_s", format!("expected a number of seconds, found {}", type_name(&other)))),
        };
        let run_id = match obj.remove("run_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(RunId::parse(&s).map_err(|e| RequestError::new("INVALID_RUN_ID", "run_id", e.to_string()))?),
            Some(other) => return Err(RequestError::new("INVALID_RUN_ID", "run_id", format!("expected a string, found {}", type_name(&other)))),
        };
        let cap = crate::lifecycle::MAX_ATTEMPTS_CAP;
        let max_attempts = match obj.remove("max_attempts") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|n| (1..=u64::from(cap)).contains(n))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| RequestError::new("INVALID_FIELD", "max_attempts", format!("expected a whole number from 1 to {cap}, found {v}")))?,
            ),
        };
        let capacity = match obj.remove("capacity") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(crate::CapacityPolicy::parse)
                    .ok_or_else(|| RequestError::new("INVALID_FIELD", "capacity", format!("expected {}, found {v}", crate::CapacityPolicy::NAMES)))?,
            ),
        };
        let request = Self { problem, time_limit_s, run_id, max_attempts, capacity };
        request.problem()?;
        Ok(request)
    }

    /// The instance this request describes, validated.
    pub fn problem(&self) -> Result<Problem, RequestError> {
        let Value::Object(p) = &self.problem else {
            return Err(RequestError::new("INVALID_PROBLEM", "problem", format!("expected an object, found {}", type_name(&self.problem))));
        };
        let kinds = "use \"jobshop\" or \"flexible_jobshop\"";
        let flexible = match p.get("kind") {
            Some(Value::String(k)) if k == "jobshop" => false,
            Some(Value::String(k)) if k == "flexible_jobshop" => true,
            Some(Value::String(k)) => {
                return Err(RequestError::new("UNSUPPORTED_PROBLEM", "problem.kind", format!("{k:?} is not a problem kind this service solves; {kinds}")));
            }
            _ => return Err(RequestError::new("INVALID_PROBLEM", "problem.kind", format!("missing: set \"kind\"; {kinds}"))),
        };
        let invalid = |e: crate::jobshop::ProblemError| RequestError::new("INVALID_PROBLEM", e.location, e.message);
        let in_text = |e: crate::jobshop::ProblemError| RequestError::new("INVALID_PROBLEM", format!("problem.text {}", e.location), e.message);
        let text = |what: &str| match p.get("text") {
            Some(Value::String(text)) => Ok(text.as_str()),
            _ => Err(RequestError::new("INVALID_PROBLEM", "problem.text", format!("missing: the {what} instance as a string"))),
        };
        let format = match p.get("format") {
            None => "json",
            Some(Value::String(f)) if ["json", "orlib", "fjs"].contains(&f.as_str()) => f.as_str(),
            Some(other) => {
                let known = if flexible { "\"fjs\"" } else { "\"orlib\"" };
                return Err(RequestError::new("INVALID_PROBLEM", "problem.format", format!("{other} is not a known format; use {known} or leave it out for JSON jobs")));
            }
        };
        match (flexible, format) {
            (false, "orlib") => JobShop::parse_orlib(text("OR-Library")?).map(Problem::JobShop).map_err(in_text),
            (false, "json") => jobs_from_json(p).and_then(|(j, m)| JobShop::new(j, m).map(Problem::JobShop).map_err(invalid)),
            (true, "fjs") => FlexibleJobShop::parse_fjs(text("fjs")?).map(Problem::Flexible).map_err(in_text),
            (true, "json") => flexible_jobs_from_json(p).and_then(|(j, m)| FlexibleJobShop::new(j, m).map(Problem::Flexible).map_err(invalid)),
            (false, _) => {
                Err(RequestError::new("INVALID_PROBLEM", "problem.format", "\"fjs\" is the flexible job-shop's text: set \"kind\": \"flexible_jobshop\", or use \"orlib\""))
            }
            (true, _) => Err(RequestError::new("INVALID_PROBLEM", "problem.format", "\"orlib\" is the job-shop's text: set \"kind\": \"jobshop\", or use \"fjs\"")),
        }
    }

    /// The job-shop instance this request describes, validated; a flexible
    /// job-shop is refused here.
    pub fn jobshop(&self) -> Result<JobShop, RequestError> {
        match self.problem()? {
            Problem::JobShop(p) => Ok(p),
            Problem::Flexible(_) => Err(RequestError::new("UNSUPPORTED_PROBLEM", "problem.kind", "expected a \"jobshop\" problem, found \"flexible_jobshop\"")),
        }
    }
}

/// A validated instance, of one of the kinds the built-in solver solves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    JobShop(JobShop),
    Flexible(FlexibleJobShop),
}

impl Problem {
    /// Whether `result` is a real schedule of this problem.
    pub fn check(&self, result: &JobShopResult) -> Result<(), CheckError> {
        match self {
            Self::JobShop(p) => crate::check_schedule(p, result),
            Self::Flexible(p) => crate::check_flexible_schedule(p, result),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::JobShop(_) => "jobshop",
            Self::Flexible(_) => "flexible_jobshop",
        }
    }
}

fn jobs_from_json(p: &Map<String, Value>) -> Result<(Vec<Vec<Operation>>, Option<usize>), RequestError> {
    let machines = machines_from_json(p)?;
    let jobs = job_lists(p, "{\"machine\", \"duration\"}")?;
    let parsed = jobs
        .iter()
        .enumerate()
        .map(|(j, ops)| ops.iter().enumerate().map(|(k, op)| operation_from_json(op, &format!("problem.jobs[{j}][{k}]"))).collect())
        .collect::<Result<_, _>>()?;
    Ok((parsed, machines))
}

fn machines_from_json(p: &Map<String, Value>) -> Result<Option<usize>, RequestError> {
    match p.get("machines") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|m| usize::try_from(m).ok())
            .map(Some)
            .ok_or_else(|| RequestError::new("INVALID_PROBLEM", "problem.machines", format!("expected a positive whole number, found {v}"))),
    }
}

/// `problem.jobs` as lists of operations, each operation still JSON.
fn job_lists<'a>(p: &'a Map<String, Value>, operation: &str) -> Result<Vec<&'a Vec<Value>>, RequestError> {
    let bad = |field: String, msg: String| RequestError::new("INVALID_PROBLEM", field, msg);
    let Some(jobs) = p.get("jobs") else {
        return Err(bad("problem.jobs".into(), format!("missing: a list of jobs, each a list of {operation}")));
    };
    let Value::Array(jobs) = jobs else {
        return Err(bad("problem.jobs".into(), format!("expected a list of jobs, found {}", type_name(jobs))));
    };
    jobs.iter()
        .enumerate()
        .map(|(j, job)| match job {
            Value::Array(ops) => Ok(ops),
            other => Err(bad(format!("problem.jobs[{j}]"), format!("expected a list of operations, found {}", type_name(other)))),
        })
        .collect()
}

/// One `{"machine", "duration"}` at `at`.
fn operation_from_json(op: &Value, at: &str) -> Result<Operation, RequestError> {
    let bad = |field: String, msg: String| RequestError::new("INVALID_PROBLEM", field, msg);
    let Value::Object(o) = op else {
        return Err(bad(at.into(), format!("expected {{\"machine\", \"duration\"}}, found {}", type_name(op))));
    };
    let machine = match o.get("machine") {
        Some(v) => v.as_u64().and_then(|m| usize::try_from(m).ok()).ok_or_else(|| bad(format!("{at}.machine"), format!("expected a machine number from 0, found {v}")))?,
        None => return Err(bad(format!("{at}.machine"), "missing".into())),
    };
    let duration = match o.get("duration") {
        Some(v) => v.as_i64().ok_or_else(|| bad(format!("{at}.duration"), format!("expected a whole number, found {v}")))?,
        None => return Err(bad(format!("{at}.duration"), "missing".into())),
    };
    Ok(Operation { machine, duration })
}

fn flexible_jobs_from_json(p: &Map<String, Value>) -> Result<(Vec<Vec<FlexibleOperation>>, Option<usize>), RequestError> {
    let bad = |field: String, msg: String| RequestError::new("INVALID_PROBLEM", field, msg);
    let machines = machines_from_json(p)?;
    let jobs = job_lists(p, "{\"alternatives\": [{\"machine\", \"duration\"}, ...]}")?;
    let mut out = Vec::with_capacity(jobs.len());
    for (j, ops) in jobs.iter().enumerate() {
        let mut parsed = Vec::with_capacity(ops.len());
        for (k, op) in ops.iter().enumerate() {
            let at = format!("problem.jobs[{j}][{k}]");
            let Value::Object(o) = op else {
                return Err(bad(at, format!("expected {{\"alternatives\": [...]}}, found {}", type_name(op))));
            };
            if let Some(unknown) = o.keys().find(|k| k.as_str() != "alternatives") {
                let hint = if unknown == "machine" || unknown == "duration" { "; a flexible operation lists its machines under \"alternatives\"" } else { "" };
                return Err(bad(format!("{at}.{unknown}"), format!("unknown field{hint}")));
            }
            let alternatives = match o.get("alternatives") {
                Some(Value::Array(alts)) => alts.iter().enumerate().map(|(a, alt)| operation_from_json(alt, &format!("{at}.alternatives[{a}]"))).collect::<Result<Vec<_>, _>>()?,
                Some(other) => return Err(bad(format!("{at}.alternatives"), format!("expected a list of {{\"machine\", \"duration\"}}, found {}", type_name(other)))),
                None => return Err(bad(format!("{at}.alternatives"), "missing: the machines that can run the operation, each {\"machine\", \"duration\"}".into())),
            };
            parsed.push(FlexibleOperation { alternatives });
        }
        out.push(parsed);
    }
    Ok((out, machines))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(body: &str) -> (String, &'static str) {
        let e = JobRequest::from_slice(body.as_bytes()).unwrap_err();
        (e.field, e.code)
    }

    const OK: &str = r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":3},{"machine":1,"duration":2}],[{"machine":1,"duration":4},{"machine":0,"duration":1}]]},"time_limit_s":3600,"run_id":"client-1"}"#;

    #[test]
    fn accepts_both_forms_of_the_contract() {
        let r = JobRequest::from_slice(OK.as_bytes()).unwrap();
        assert_eq!(r.run_id.as_ref().unwrap().as_str(), "client-1");
        assert_eq!(r.jobshop().unwrap().machines, 2);
        let r = JobRequest::from_slice(br#"{"problem":{"kind":"jobshop","format":"orlib","text":"2 2\n0 3 1 2\n1 4 0 1\n"},"time_limit_s":60}"#).unwrap();
        assert_eq!(r.jobshop().unwrap().jobs[1][1].duration, 1);
        assert!(JobRequest::from_slice(br#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":1}]]}}"#).unwrap().time_limit_s > 0.0);
    }

    #[test]
    fn every_refusal_names_its_field() {
        assert_eq!(field_of("{"), ("body".into(), "INVALID_JSON"));
        assert_eq!(field_of("[]"), ("body".into(), "INVALID_REQUEST"));
        assert_eq!(field_of("{}"), ("problem".into(), "MISSING_FIELD"));
        assert_eq!(field_of(r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":1}]]},"time_limit":5}"#).0, "time_limit");
        assert_eq!(field_of(r#"{"problem":{"kind":"tsp"}}"#), ("problem.kind".into(), "UNSUPPORTED_PROBLEM"));
        assert_eq!(field_of(r#"{"problem":{"jobs":[]}}"#).0, "problem.kind");
        assert_eq!(field_of(r#"{"problem":{"kind":"jobshop","jobs":[]}}"#).0, "problem.jobs");
        assert_eq!(field_of(r#"{"problem":{"kind":"jobshop","jobs":"x"}}"#).0, "problem.jobs");
        assert_eq!(field_of(r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":"0","duration":1}]]}}"#).0, "problem.jobs[0][0].machine");
        assert_eq!(field_of(r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":-1,"duration":1}]]}}"#).0, "problem.jobs[0][0].machine");
        assert_eq!(field_of(r#"{"problem":{"kind":"jobshop","machines":2,"jobs":[[{"machine":5,"duration":1}]]}}"#).0, "problem.jobs[0][0].machine");
        assert_eq!(field_of(r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":1.5}]]}}"#).0, "problem.jobs[0][0].duration");
        for t in ["-1", "0", "1e12", "\"60\"", "true"] {
            let body = format!(r#"{{"problem":{{"kind":"jobshop","jobs":[[{{"machine":0,"duration":1}}]]}},"time_limit_s":{t}}}"#);
            assert_eq!(field_of(&body).0, "time_limit_s", "{t}");
        }
        for id in ["\"../x\"", "\"ünï\"", "5", &format!("\"{}\"", "a".repeat(1024))] {
            let body = format!(r#"{{"problem":{{"kind":"jobshop","jobs":[[{{"machine":0,"duration":1}}]]}},"run_id":{id}}}"#);
            assert_eq!(field_of(&body), ("run_id".into(), "INVALID_RUN_ID"), "{id}");
        }
        assert_eq!(field_of(r#"{"problem":{"kind":"jobshop","format":"orlib","text":"2 2\n0 1 1 1\n"}}"#).0, "problem.text line 3");
        assert_eq!(field_of(r#"{"problem":{"kind":"jobshop","jobs":[[{"machine":0,"duration":1}]]},"capacity":"cheap"}"#), ("capacity".into(), "INVALID_FIELD"));
        for n in ["0", "11", "1.5", "\"3\""] {
            let body = format!(r#"{{"problem":{{"kind":"jobshop","jobs":[[{{"machine":0,"duration":1}}]]}},"max_attempts":{n}}}"#);
            assert_eq!(field_of(&body), ("max_attempts".into(), "INVALID_FIELD"), "{n}");
        }
    }

    #[test]
    fn accepts_both_forms_of_the_flexible_contract() {
        let json = r#"{"problem":{"kind":"flexible_jobshop","jobs":[[{"alternatives":[{"machine":0,"duration":3},{"machine":2,"duration":5}]},{"alternatives":[{"machine":1,"duration":2}]}]]},"time_limit_s":600}"#;
        let text = r#"{"problem":{"kind":"flexible_jobshop","format":"fjs","text":"1 3\n2 2 0 3 2 5 1 1 2\n"},"time_limit_s":600}"#;
        let (Problem::Flexible(a), Problem::Flexible(b)) =
            (JobRequest::from_slice(json.as_bytes()).unwrap().problem().unwrap(), JobRequest::from_slice(text.as_bytes()).unwrap().problem().unwrap())
        else {
            panic!("both are flexible job-shops");
        };
        assert_eq!(a, b, "DESIGN.md's two examples are one problem");
        assert_eq!(JobRequest::from_slice(json.as_bytes()).unwrap().jobshop().unwrap_err().code, "UNSUPPORTED_PROBLEM");
    }

    #[test]
    fn every_flexible_refusal_names_its_field() {
        let flex = |jobs: &str| format!(r#"{{"problem":{{"kind":"flexible_jobshop","jobs":{jobs}}}}}"#);
        let cases = [
            (flex("[]"), "problem.jobs"),
            (flex("[[]]"), "problem.jobs[0]"),
            (flex("[3]"), "problem.jobs[0]"),
            (flex("[[{}]]"), "problem.jobs[0][0].alternatives"),
            (flex(r#"[[{"alternatives":[]}]]"#), "problem.jobs[0][0].alternatives"),
            (flex(r#"[[{"alternatives":{"machine":0}}]]"#), "problem.jobs[0][0].alternatives"),
            (flex(r#"[[{"machine":0}]]"#), "problem.jobs[0][0].machine"),
            (
                flex(r#"[[{"alternatives":[{"machine":0,"duration":1}]},{"alternatives":[{"machine":0,"duration":1},{"machine":-2,"duration":1}]}]]"#),
                "problem.jobs[0][1].alternatives[1].machine",
            ),
            (flex(r#"[[{"alternatives":[{"machine":0,"duration":-1}]}]]"#), "problem.jobs[0][0].alternatives[0].duration"),
            (flex(r#"[[{"alternatives":[{"machine":0}]}]]"#), "problem.jobs[0][0].alternatives[0].duration"),
            (flex(r#"[[{"alternatives":[{"machine":1,"duration":1},{"machine":1,"duration":2}]}]]"#), "problem.jobs[0][0].alternatives[1]"),
            (
                r#"{"problem":{"kind":"flexible_jobshop","machines":2,"jobs":[[{"alternatives":[{"machine":2,"duration":1}]}]]}}"#.into(),
                "problem.jobs[0][0].alternatives[0].machine",
            ),
            (r#"{"problem":{"kind":"flexible_jobshop","format":"fjs","text":"1 2\n1 1 2 3\n"}}"#.into(), "problem.text line 2"),
            (r#"{"problem":{"kind":"flexible_jobshop","format":"fjs"}}"#.into(), "problem.text"),
            (r#"{"problem":{"kind":"flexible_jobshop","format":"orlib","text":"1 1\n0 1\n"}}"#.into(), "problem.format"),
            (r#"{"problem":{"kind":"jobshop","format":"fjs","text":"1 1\n1 1 0 1\n"}}"#.into(), "problem.format"),
            (r#"{"problem":{"kind":"flexible_jobshop","format":"xml"}}"#.into(), "problem.format"),
        ];
        for (body, field) in cases {
            assert_eq!(field_of(&body), (field.to_string(), "INVALID_PROBLEM"), "{body}");
        }
        let many = format!("[{}]", vec![r#"[{"alternatives":[{"machine":0,"duration":1}]}]"#; crate::jobshop::MAX_JOBS + 1].join(","));
        assert_eq!(field_of(&flex(&many)), ("problem.jobs".into(), "INVALID_PROBLEM"), "the size cap");
    }
}
