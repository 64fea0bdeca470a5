//! The console in a real browser (headless Chromium, driven over WebDriver
//! by chromedriver) against the local system: a job submitted through the
//! form runs to SUCCEEDED and its schedule is drawn bar by bar where the
//! result puts it; the progress chart has points; an invalid instance shows
//! the API's own message; a running job is cancelled from its page.
//! Screenshots go to `SCREENSHOT_DIR` (default: a temporary folder).

#![allow(clippy::unwrap_used)] // a test states its expectations by unwrapping

mod common;

use local_plane::http;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session on a chromedriver of its own, spoken to over plain
/// HTTP with the local plane's client (WebDriver is JSON over HTTP).
struct Browser {
    driver: Child,
    addr: String,
    session: String,
}

impl Browser {
    async fn start() -> Self {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        assert!(
            std::path::Path::new(&chromium).exists() && std::path::Path::new(&chromedriver).exists(),
            "{chromium} or {chromedriver} missing: `cargo xtask test` installs them (Debian: apt-get install chromium chromium-driver)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(&chromedriver).arg(format!("--port={port}")).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        let addr = format!("127.0.0.1:{port}");
        testkit::eventually("chromedriver to listen", Duration::from_secs(30), || async { http::call(&addr, "GET", "/status", None).await.ok().filter(|(s, _)| *s == 200) }).await;
        let profile = std::env::temp_dir().join(testkit::unique("chromium-profile"));
        // The flags this machine needs: no sandbox as root, and none of
        // Chromium's own connections out (the network is closed here).
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1900",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": chromium, "args": args}}}});
        let mut browser = Self { driver, addr, session: String::new() };
        let answer = browser.send("POST", "/session", Some(caps)).await;
        browser.session = answer["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {answer}")).to_owned();
        browser
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let (status, bytes) = http::call(&self.addr, method, path, body.as_deref().map(str::as_bytes)).await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!(status, 200, "WebDriver {method} {path}: {v}");
        v["value"].clone()
    }

    async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        self.send(method, &format!("/session/{}{path}", self.session), Some(body)).await
    }

    async fn go(&self, url: &str) {
        self.cmd("POST", "/url", json!({"url": url})).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self.cmd("POST", "/element", json!({"using": "css selector", "value": css})).await;
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {v}")).to_owned()
    }

    /// Types into a field as a person would, after emptying it.
    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/clear"), json!({})).await;
        self.cmd("POST", &format!("/element/{id}/value"), json!({"text": text})).await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/click"), json!({})).await;
    }

    async fn eval(&self, script: &str) -> Value {
        self.cmd("POST", "/execute/sync", json!({"script": script, "args": []})).await
    }

    async fn text(&self, css: &str) -> String {
        self.eval(&format!("return document.querySelector({css:?}).textContent")).await.as_str().unwrap_or_default().to_owned()
    }

    async fn wait_text(&self, css: &str, wanted: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.text(css).await;
            if now == wanted {
                return;
            }
            assert!(Instant::now() < deadline, "{css} says {now:?}, not {wanted:?}, after {within:?}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn screenshot(&self, dir: &std::path::Path, name: &str) {
        use base64::Engine;
        let png = self.send("GET", &format!("/session/{}/screenshot", self.session), None).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_submits_watches_draws_the_schedule_and_cancels() {
    job_store::init_logging();
    let shots: PathBuf = std::env::var_os("SCREENSHOT_DIR").map_or_else(|| std::env::temp_dir().join(testkit::unique("console-screenshots")), PathBuf::from);
    std::fs::create_dir_all(&shots).unwrap();
    let (_moto, _dist, system) = common::local_system("local-console", None).await;
    let api = system.api_addr.clone();
    let console = format!("http://{api}/");
    let browser = Browser::start().await;

    // ft06 through the form, followed to its end.
    browser.go(&console).await;
    browser.type_into("#problem-text", &testkit::instance("ft06")).await;
    browser.type_into("#time-limit", "2").await;
    browser.click("#submit").await;
    browser.wait_text("#job-state", "SUCCEEDED", Duration::from_secs(120)).await;
    let run_id = browser.text("#job-id").await;
    let (_, body) = http::call(&api, "GET", &format!("/runs/{run_id}/result"), None).await.unwrap();
    let result: job_model::JobShopResult = serde_json::from_slice(&body).unwrap();

    // The Gantt chart: 36 bars, each where the result puts its operation.
    let bars = testkit::eventually("the schedule drawn", Duration::from_secs(20), || async {
        let bars = browser.eval("return [...document.querySelectorAll('#gantt rect.op')].map(r => ['job','op','machine','start','end'].map(k => +r.dataset[k]).concat([+r.getAttribute('x'), +r.getAttribute('width')]))").await;
        bars.as_array().filter(|b| b.len() == 36).cloned()
    })
    .await;
    let (left, width) = (40.0, 1000.0 - 40.0 - 10.0);
    for bar in &bars {
        let n: Vec<f64> = bar.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let op = result.schedule[n[0] as usize][n[1] as usize];
        assert_eq!((n[2] as usize, n[3] as i64, n[4] as i64), (op.machine, op.start, op.start + op.duration), "bar {n:?}");
        let scale = width / result.makespan as f64;
        assert!(
            (n[5] - (left + scale * op.start as f64)).abs() < 0.01 && (n[6] - (scale * op.duration as f64).max(0.5)).abs() < 0.01,
            "bar {n:?} is drawn at its start and length"
        );
    }
    // Hovering a bar names its job, operation, start and end.
    let hover = browser.eval("const r = document.querySelector('#gantt rect.op'); return [+r.dataset.job, +r.dataset.op, r.querySelector('title').textContent]").await;
    let (j, k) = (hover[0].as_u64().unwrap() as usize, hover[1].as_u64().unwrap() as usize);
    let op = result.schedule[j][k];
    assert_eq!(hover[2], format!("job {j}, operation {k}: {}–{} on machine {}", op.start, op.start + op.duration, op.machine));
    assert!(browser.text("#gantt-note").await.contains(&format!("makespan {}", result.makespan)));
    let points = browser.eval("return document.querySelectorAll('#progress-chart circle.pt').length").await;
    assert!(points.as_u64().unwrap() >= 1, "the progress chart has a point: {points}");
    browser.screenshot(&shots, "finished-job.png").await;

    // An invalid instance: the API's own message, not a blank page.
    let invalid = "2 2\n0 3 1\n1 4 0 1\n";
    let (status, answer) =
        http::call(&api, "POST", "/runs", Some(json!({"problem": {"kind": "jobshop", "format": "orlib", "text": invalid}, "time_limit_s": 2}).to_string().as_bytes()))
            .await
            .unwrap();
    assert_eq!(status, 400);
    let message = serde_json::from_slice::<Value>(&answer).unwrap()["error"]["message"].as_str().unwrap().to_owned();
    browser.go(&console).await;
    browser.type_into("#problem-text", invalid).await;
    browser.type_into("#time-limit", "2").await;
    browser.click("#submit").await;
    testkit::eventually("the API's message shown", Duration::from_secs(20), || async { browser.text("#submit-error").await.contains(&message).then_some(()) }).await;

    // A long job, cancelled from its page while it runs.
    browser.type_into("#problem-text", &testkit::instance("ft10")).await;
    browser.type_into("#time-limit", "300").await;
    browser.click("#submit").await;
    browser.wait_text("#job-state", "RUNNING", Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    browser.screenshot(&shots, "running-job.png").await;
    browser.click("#cancel").await;
    browser.wait_text("#job-state", "CANCELLED", Duration::from_secs(60)).await;

    // The list, newest first: the cancelled job, then the finished one.
    browser.go(&format!("{console}#/")).await;
    let rows = testkit::eventually("the list", Duration::from_secs(20), || async {
        let rows = browser.eval("return [...document.querySelectorAll('#runs tr')].map(r => r.dataset.runId)").await;
        rows.as_array().filter(|r| r.len() >= 2).cloned()
    })
    .await;
    assert_eq!(rows[1], json!(run_id), "{rows:?}");
    browser.screenshot(&shots, "job-list.png").await;

    // On a phone's width the finished job still fits: nothing wider than the screen.
    browser.cmd("POST", "/window/rect", json!({"width": 412, "height": 915})).await;
    browser.go(&format!("{console}#/runs/{run_id}")).await;
    browser.wait_text("#job-state", "SUCCEEDED", Duration::from_secs(20)).await;
    testkit::eventually("the schedule drawn on a phone", Duration::from_secs(20), || async {
        (browser.eval("return document.querySelectorAll('#gantt rect.op').length").await == json!(36)).then_some(())
    })
    .await;
    let widths = browser.eval("return [document.documentElement.scrollWidth, window.innerWidth]").await;
    assert!(widths[0].as_u64() <= widths[1].as_u64(), "the page is wider than the phone's screen: {widths}");
    browser.screenshot(&shots, "phone-finished-job.png").await;
    eprintln!("console screenshots in {}", shots.display());
    system.shutdown().await;
}
