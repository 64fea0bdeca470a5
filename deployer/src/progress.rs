//! Stack events as the user sees them: one line per resource with its latest
//! status, redrawn in place on a terminal, printed as plain lines otherwise
//! (CI logs, pipes). Always on stderr, `--json` too, so its stdout stays
//! one JSON document while a deploy still shows what it does.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;

pub struct ResourceProgress {
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
}

impl ResourceProgress {
    pub fn on_stderr() -> Self {
        let bars = std::io::stderr().is_terminal().then(|| (MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), HashMap::new()));
        Self { bars }
    }

    pub fn resource(&mut self, logical_id: &str, resource_type: &str, status: &str, reason: Option<&str>) {
        let line = format!("{logical_id:<24} {resource_type:<34} {status}{}", reason.map(|r| format!("  {r}")).unwrap_or_default());
        match &mut self.bars {
            Some((multi, bars)) => {
                let bar = bars.entry(logical_id.to_owned()).or_insert_with(|| {
                    let b = multi.add(ProgressBar::new_spinner());
                    b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
                    b.enable_steady_tick(std::time::Duration::from_millis(120));
                    b
                });
                if status.ends_with("_IN_PROGRESS") {
                    bar.set_message(line);
                } else {
                    bar.finish_with_message(line);
                }
            }
            None => eprintln!("  {line}"),
        }
    }

    pub fn note(&self, text: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    pub fn finish(self) {
        if let Some((_, bars)) = self.bars {
            for bar in bars.values() {
                if !bar.is_finished() {
                    bar.finish();
                }
            }
        }
    }
}
