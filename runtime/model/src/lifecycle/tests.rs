use super::*;
use crate::RunId;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

fn at(s: i64) -> OffsetDateTime {
    T0 + Duration::seconds(s)
}

fn err(code: &str) -> ErrorInfo {
    ErrorInfo::new(code, "x")
}

fn queued() -> StatusDoc {
    StatusDoc::queued(RunId::parse("r1").unwrap(), T0).with_limits(100.0, 3)
}

fn run(doc: &StatusDoc, events: &[(i64, Event)]) -> StatusDoc {
    events.iter().fold(doc.clone(), |d, (s, e)| d.apply(e, at(*s)).unwrap_or_else(|r| panic!("{e:?} on {}: {r}", d.state)))
}

fn launched() -> StatusDoc {
    run(&queued(), &[(1, Event::Claim), (2, Event::Launched { task_arn: "t1".into(), capacity: None, memory_mib: None, slot: None })])
}

fn running() -> StatusDoc {
    run(&launched(), &[(3, Event::Started { task_arn: Some("t1".into()), takeover: false, checkpoint: false })])
}

/// One document in each distinct situation the rules tell apart.
fn situations() -> Vec<(&'static str, StatusDoc)> {
    let claimed = run(&queued(), &[(1, Event::Claim)]);
    let waiting = run(&claimed, &[(2, Event::LaunchFailed { error: err("THROTTLED"), retry_in: Some(Duration::seconds(30)) })]);
    let requeued = run(&running(), &[(10, Event::TaskStopped { task_arn: Some("t1".into()), error: err("TASK_STOPPED"), checkpoint: true })]);
    let cancelling = run(&running(), &[(5, Event::CancelRequested { checkpoint: false })]);
    vec![
        ("queued", queued()),
        ("claimed", claimed),
        ("waiting to relaunch", waiting),
        ("requeued", requeued),
        ("launched", launched()),
        ("running", running()),
        ("cancelling", cancelling),
        ("succeeded", run(&running(), &[(9, Event::Succeeded { result_key: "k".into(), progress: None })])),
        ("failed", run(&running(), &[(9, Event::Failed { error: err("INVALID_INPUT") })])),
        ("cancelled", run(&queued(), &[(9, Event::CancelRequested { checkpoint: false })])),
    ]
}

fn events() -> Vec<Event> {
    let p = Some(Progress { best_objective: Some(5), lower_bound: Some(4), elapsed_s: 1.0 });
    let mut all = vec![
        Event::Claim,
        Event::Launched { task_arn: "t1".into(), capacity: None, memory_mib: None, slot: None },
        Event::Launched { task_arn: "t9".into(), capacity: None, memory_mib: None, slot: None },
        Event::LaunchFailed { error: err("THROTTLED"), retry_in: Some(Duration::seconds(30)) },
        Event::LaunchFailed { error: err("AccessDeniedException"), retry_in: None },
        Event::Heartbeat { progress: p.clone() },
        Event::Succeeded { result_key: "k".into(), progress: p },
        Event::Failed { error: err("SOLVER_FAILED") },
        Event::Cancelled { result_key: None },
        Event::Resent,
        Event::Waiting { reason: "waiting for capacity: 2 of 2 running".into(), retry_in: Duration::seconds(30) },
    ];
    for checkpoint in [false, true] {
        for takeover in [false, true] {
            for task in [None, Some("t1"), Some("t9")] {
                all.push(Event::Started { task_arn: task.map(Into::into), takeover, checkpoint });
            }
        }
        for task in [None, Some("t1"), Some("t9")] {
            all.push(Event::TaskStopped { task_arn: task.map(Into::into), error: err("TASK_STOPPED"), checkpoint });
        }
        all.push(Event::CancelRequested { checkpoint });
        all.push(Event::DeadlinePassed { checkpoint });
    }
    all
}

fn order(d: &StatusDoc) -> (u32, u8) {
    (d.attempt, d.state.rank())
}

#[test]
fn every_state_and_event_keeps_the_invariants() {
    let mut applied = 0;
    for (name, doc) in situations() {
        for event in events() {
            // A clock both behind and ahead of the document's stamps.
            for now in [T0, at(1_000_000)] {
                match doc.apply(&event, now) {
                    Ok(next) => {
                        applied += 1;
                        assert!(!doc.state.is_terminal(), "{name}: {event:?} changed a final job");
                        assert!(order(&next) >= order(&doc), "{name}: {event:?} went back: {:?} -> {:?}", order(&doc), order(&next));
                        assert!(next.updated_at >= doc.updated_at, "{name}: {event:?} moved updated_at back");
                        assert!(next.solved_s >= doc.solved_s, "{name}: {event:?} lost solving time");
                        assert!(next.attempt <= next.max_attempts, "{name}: {event:?} ran past max_attempts");
                        assert_eq!(
                            next.attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
                            {
                                let mut v: Vec<u32> = next.attempts.iter().map(|a| a.attempt).collect();
                                v.dedup();
                                v
                            },
                            "{name}: {event:?} duplicated an attempt record"
                        );
                        if next.state.is_terminal() {
                            assert!(next.lease_until.is_none() && next.claimed_until.is_none(), "{name}: {event:?} left a lease on a final job");
                        }
                        if next.state == State::Running {
                            assert!(next.task_arn.is_some() || matches!(event, Event::Started { task_arn: None, .. } | Event::Heartbeat { .. }), "{name}: {event:?}");
                        }
                    }
                    Err(Refusal::Final(s)) => assert_eq!(s, doc.state, "{name}: {event:?}"),
                    Err(_) => assert!(!doc.state.is_terminal(), "{name}: a final job must refuse with Final"),
                }
                if doc.state.is_terminal() {
                    assert_eq!(doc.apply(&event, now), Err(Refusal::Final(doc.state)), "{name}: {event:?}");
                }
            }
        }
    }
    assert!(applied > 100, "only {applied} applications succeeded: the table is not exercised");
}

#[test]
fn a_claim_is_taken_once_until_its_lease_ends_or_its_launch_fails() {
    let claimed = queued().apply(&Event::Claim, at(1)).unwrap();
    assert_eq!(claimed.state, State::Starting);
    assert_eq!(claimed.apply(&Event::Claim, at(2)), Err(Refusal::LaunchInProgress));
    let again = claimed.apply(&Event::Claim, at(1 + 121)).unwrap();
    assert_eq!(again.launches, 2, "a new claim gets a new RunTask token");
    let failed = claimed.apply(&Event::LaunchFailed { error: err("THROTTLED"), retry_in: Some(Duration::seconds(60)) }, at(3)).unwrap();
    assert_eq!((failed.state, failed.error.as_ref().map(|e| e.code.as_str())), (State::Starting, Some("THROTTLED")));
    assert!(failed.apply(&Event::Claim, at(4)).is_ok(), "a failed launch is retried at the next delivery");
    assert_eq!(launched().apply(&Event::Claim, at(9)), Err(Refusal::AlreadyLaunched("t1".into())));
}

#[test]
fn a_permanent_launch_failure_fails_the_job_at_once() {
    let claimed = queued().apply(&Event::Claim, at(1)).unwrap();
    let d = claimed.apply(&Event::LaunchFailed { error: err("InvalidParameterException"), retry_in: None }, at(2)).unwrap();
    assert_eq!((d.state, d.error.unwrap().code.as_str()), (State::Failed, "InvalidParameterException"));
}

#[test]
fn a_lost_task_starts_a_new_attempt_until_none_is_left() {
    let mut d = running();
    for attempt in 1..=3u32 {
        assert_eq!(d.attempt, attempt);
        let arn = d.task_arn.clone();
        d = d.apply(&Event::TaskStopped { task_arn: arn, error: err("OUT_OF_MEMORY"), checkpoint: false }, at(i64::from(attempt) * 20)).unwrap();
        if attempt < 3 {
            assert_eq!((d.state, d.attempt, d.task_arn.as_deref()), (State::Starting, attempt + 1, None));
            let t = format!("t{}", attempt + 1);
            let s = i64::from(attempt) * 20;
            d = run(
                &d,
                &[
                    (s + 1, Event::Claim),
                    (s + 2, Event::Launched { task_arn: t.clone(), capacity: None, memory_mib: None, slot: None }),
                    (s + 3, Event::Started { task_arn: Some(t), takeover: false, checkpoint: false }),
                ],
            );
        }
    }
    assert_eq!(d.state, State::Failed);
    let e = d.error.unwrap();
    assert_eq!(e.code, "OUT_OF_MEMORY");
    assert!(e.message.contains("attempt 3 of 3"), "{}", e.message);
    assert_eq!(d.attempts.len(), 3);
    assert!(d.attempts.iter().all(|a| a.end.as_ref().is_some_and(|e| e.code == "OUT_OF_MEMORY") && a.ran_s == Some(17.0)), "{:?}", d.attempts);
    assert_eq!(d.solved_s, 51.0);
}

#[test]
fn a_stop_event_of_an_older_task_changes_nothing() {
    let requeued = running().apply(&Event::TaskStopped { task_arn: Some("t1".into()), error: err("X"), checkpoint: false }, at(10)).unwrap();
    assert_eq!(requeued.apply(&Event::TaskStopped { task_arn: Some("t1".into()), error: err("X"), checkpoint: false }, at(11)), Err(Refusal::NotTheCurrentTask("t1".into())));
    assert_eq!(launched().apply(&Event::TaskStopped { task_arn: Some("t9".into()), error: err("X"), checkpoint: false }, at(11)), Err(Refusal::NotTheCurrentTask("t9".into())));
}

#[test]
fn the_time_already_solved_counts_and_a_spent_limit_ends_with_the_checkpoint() {
    let d = queued().with_limits(10.0, 3);
    let d = run(
        &d,
        &[
            (1, Event::Claim),
            (2, Event::Launched { task_arn: "t1".into(), capacity: None, memory_mib: None, slot: None }),
            (3, Event::Started { task_arn: Some("t1".into()), takeover: false, checkpoint: false }),
        ],
    );
    let d = d.apply(&Event::TaskStopped { task_arn: Some("t1".into()), error: err("SPOT_INTERRUPTION"), checkpoint: true }, at(9)).unwrap();
    assert_eq!((d.state, d.remaining_s()), (State::Starting, Some(4.0)));
    let d = run(
        &d,
        &[
            (30, Event::Claim),
            (31, Event::Launched { task_arn: "t2".into(), capacity: None, memory_mib: None, slot: None }),
            (32, Event::Started { task_arn: Some("t2".into()), takeover: false, checkpoint: true }),
        ],
    );
    let d = d.apply(&Event::TaskStopped { task_arn: Some("t2".into()), error: err("TASK_STOPPED"), checkpoint: true }, at(37)).unwrap();
    assert_eq!((d.state, d.result_key.as_deref(), d.error.as_ref()), (State::Succeeded, Some("jobs/r1/result.json"), None));
    assert!(d.ends_from_checkpoint(&Event::TaskStopped { task_arn: Some("t2".into()), error: err("TASK_STOPPED"), checkpoint: true }));
}

#[test]
fn cancel_ends_a_waiting_job_at_once_and_asks_a_running_one() {
    let d = queued().apply(&Event::CancelRequested { checkpoint: false }, at(1)).unwrap();
    assert_eq!((d.state, d.error.unwrap().code.as_str()), (State::Cancelled, "CANCELLED"));
    let d = running().apply(&Event::CancelRequested { checkpoint: false }, at(5)).unwrap();
    assert_eq!((d.state, d.cancel_requested), (State::Running, true));
    // The worker stops and keeps its best; or its task dies and the stop ends it.
    assert_eq!(d.apply(&Event::Cancelled { result_key: Some("k".into()) }, at(6)).unwrap().state, State::Cancelled);
    // A worker that runs without a task ARN (a polling worker off ECS) is asked too.
    let taskless = run(&queued(), &[(3, Event::Started { task_arn: None, takeover: true, checkpoint: false })]);
    assert!(taskless.apply(&Event::CancelRequested { checkpoint: false }, at(5)).unwrap().cancel_requested);
    let stopped = d.apply(&Event::TaskStopped { task_arn: Some("t1".into()), error: err("TASK_STOPPED"), checkpoint: true }, at(6)).unwrap();
    assert_eq!((stopped.state, stopped.result_key.as_deref()), (State::Cancelled, Some("jobs/r1/result.json")));
    // A launch claimed before the cancel: the task is told at its start.
    let claimed = queued().apply(&Event::Claim, at(1)).unwrap().apply(&Event::CancelRequested { checkpoint: false }, at(2)).unwrap();
    let started = run(
        &claimed,
        &[
            (3, Event::Launched { task_arn: "t1".into(), capacity: None, memory_mib: None, slot: None }),
            (4, Event::Started { task_arn: Some("t1".into()), takeover: false, checkpoint: false }),
        ],
    );
    assert_eq!(started.state, State::Cancelled);
}

#[test]
fn a_second_worker_never_runs_a_running_attempt_unless_taking_over() {
    let d = running();
    assert_eq!(d.apply(&Event::Started { task_arn: Some("t9".into()), takeover: false, checkpoint: false }, at(5)), Err(Refusal::RunningElsewhere("t1".into())));
    let taken = d.apply(&Event::Started { task_arn: Some("t9".into()), takeover: true, checkpoint: false }, at(5)).unwrap();
    assert_eq!((taken.attempt, taken.task_arn.as_deref(), taken.attempts.len()), (2, Some("t9"), 2));
}

#[test]
fn a_deadline_ends_a_job_without_a_task_and_waits_for_a_running_task_to_stop() {
    let d = running();
    let deadline = d.deadline.expect("set when it started");
    assert_eq!(deadline, deadline_for(at(3), 100.0));
    assert!(matches!(d.apply(&Event::DeadlinePassed { checkpoint: true }, deadline), Err(Refusal::RunningElsewhere(_))));
    let after = (deadline - T0).whole_seconds() + 1;
    let stopped = d.apply(&Event::TaskStopped { task_arn: Some("t1".into()), error: err("TASK_STOPPED"), checkpoint: true }, at(after)).unwrap();
    assert_eq!((stopped.state, stopped.error.unwrap().code.as_str()), (State::Failed, "TIMEOUT"));
}

#[test]
fn waiting_for_capacity_costs_no_attempt_and_ends_at_the_claim() {
    let d = queued().apply(&Event::Waiting { reason: "waiting for capacity: 2 of 2 running".into(), retry_in: Duration::seconds(30) }, at(1)).unwrap();
    assert_eq!((d.state, d.attempt, d.launches, d.waiting.as_deref()), (State::Queued, 1, 0, Some("waiting for capacity: 2 of 2 running")));
    assert_eq!(d.lease_until, Some(at(31) + LEASE_SLACK), "the reconciler waits for the wake-up");
    let claimed = d.apply(&Event::Claim, at(40)).unwrap();
    assert_eq!((claimed.state, claimed.waiting), (State::Starting, None));
    assert!(running().apply(&Event::Waiting { reason: "x".into(), retry_in: Duration::seconds(30) }, at(9)).is_err());
}

#[test]
fn resends_only_for_a_job_waiting_for_a_trigger() {
    let d = queued().apply(&Event::Resent, at(301)).unwrap();
    assert_eq!((d.resends, d.lease_until), (1, Some(at(301) + RESEND_LEASE)));
    assert!(running().apply(&Event::Resent, at(301)).is_err());
}

#[test]
fn retry_delays_grow_to_a_ceiling() {
    let seq: Vec<i64> = (2..=6).map(|n| retry_delay(n).whole_seconds()).collect();
    assert_eq!(seq, [15, 60, 240, 900, 900]);
}

fn progress(best: i64, bound: i64, elapsed_s: f64) -> Event {
    Event::Heartbeat { progress: Some(Progress { best_objective: Some(best), lower_bound: Some(bound), elapsed_s }) }
}

#[test]
fn the_history_keeps_each_change_over_the_job_s_solving_time_and_stays_bounded() {
    let d = run(&running(), &[(4, progress(100, 80, 0.5)), (5, progress(100, 80, 1.5)), (6, progress(95, 80, 2.0))]);
    let points: Vec<(Option<i64>, f64)> = d.history.iter().map(|p| (p.best_objective, p.elapsed_s)).collect();
    assert_eq!(points, [(Some(100), 0.5), (Some(95), 2.0)], "a point per change, not per heartbeat");

    // A second attempt's time counts on from the first's.
    let mut d = run(&d, &[(10, Event::TaskStopped { task_arn: Some("t1".into()), error: err("SPOT_INTERRUPTION"), checkpoint: true })]);
    d = run(&d, &[(11, Event::Claim), (12, Event::Launched { task_arn: "t2".into(), capacity: None, memory_mib: None, slot: None })]);
    d = run(&d, &[(13, Event::Started { task_arn: Some("t2".into()), takeover: false, checkpoint: true }), (14, progress(90, 85, 1.0))]);
    let last = d.history.last().unwrap();
    assert_eq!(last.best_objective, Some(90));
    assert!((last.elapsed_s - (d.solved_s + 1.0)).abs() < 1e-9 && d.solved_s > 0.0, "{last:?} after {} s solved", d.solved_s);

    // However long it runs, the history stays bounded and keeps its ends.
    for i in 0..1000 {
        d = d.apply(&progress(89 - i, 85, 2.0 + i as f64), at(15 + i)).unwrap();
    }
    assert!(d.history.len() <= MAX_HISTORY, "{}", d.history.len());
    assert_eq!(d.history.first().unwrap().best_objective, Some(100));
    assert_eq!(d.history.last().unwrap().best_objective, Some(89 - 999));
    assert!(d.history.windows(2).all(|w| w[0].elapsed_s <= w[1].elapsed_s));
}
