use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

/// SIGTERM (a Fargate stop, a Spot interruption, a service scaled to 0): a
/// flag the solver thread polls, and a channel async code can wait on.
#[derive(Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self { flag: Arc::default(), tx: Arc::new(watch::channel(false).0) }
    }
}

impl Shutdown {
    pub fn on_sigterm() -> std::io::Result<Self> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let this = Self::default();
        let trigger = this.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::warn!("stop requested: finishing with the best answer so far");
            trigger.request();
        });
        Ok(this)
    }

    pub fn request(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.tx.send_replace(true);
    }

    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}
