//! Progress of long jobs: named stages, each with counted steps. [`Bars`] shows them as
//! progress bars on standard error; [`Quiet`] shows nothing.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

/// Reports a job's progress: named stages, each with counted steps.
pub trait Progress: Sync {
    /// A new stage begins.
    fn stage(&self, name: &str);
    /// A counted task of `len` steps begins within the stage (`unit` "bytes" counts bytes).
    fn start(&self, len: u64, unit: &str);
    /// `n` steps done.
    fn inc(&self, n: u64);
    /// A short status, e.g. a rate, shown beside the count.
    fn message(&self, _text: &str) {}
    /// The counted task is done.
    fn finish(&self);
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn stage(&self, _: &str) {}
    fn start(&self, _: u64, _: &str) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

/// Passes on to `parent` only the steps of tasks counted in `unit`, so a caller's one bar can
/// count, say, the random keys of many tests while each test also counts bytes read.
pub struct OnlyUnit<'a> {
    parent: &'a dyn Progress,
    unit: &'a str,
    active: std::sync::atomic::AtomicBool,
}

impl<'a> OnlyUnit<'a> {
    /// Forwards `unit`'s steps to `parent`.
    pub fn new(parent: &'a dyn Progress, unit: &'a str) -> Self {
        Self {
            parent,
            unit,
            active: Default::default(),
        }
    }
}

impl Progress for OnlyUnit<'_> {
    fn stage(&self, _: &str) {}
    fn start(&self, _: u64, unit: &str) {
        let on = unit == self.unit;
        self.active.store(on, std::sync::atomic::Ordering::Relaxed);
    }
    fn inc(&self, n: u64) {
        if self.active.load(std::sync::atomic::Ordering::Relaxed) {
            self.parent.inc(n);
        }
    }
    fn finish(&self) {
        self.active
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Progress bars on standard error; hidden entirely when `hidden` (e.g. with `--json`).
#[derive(Debug)]
pub struct Bars {
    hidden: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars, or none at all when `hidden`.
    pub fn new(hidden: bool) -> Self {
        Self {
            hidden,
            bar: Mutex::new(None),
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self.bar.lock().expect("progress lock").as_ref() {
            f(bar);
        }
    }
}

impl Progress for Bars {
    fn stage(&self, name: &str) {
        if !self.hidden {
            eprintln!("{name}");
        }
    }

    fn start(&self, len: u64, unit: &str) {
        let bar = if self.hidden {
            ProgressBar::hidden()
        } else {
            let template = if unit == "bytes" {
                "  {bar:30} {bytes}/{total_bytes} read  {bytes_per_sec}  eta {eta}  {msg}"
                    .to_string()
            } else {
                format!("  {{bar:30}} {{pos}}/{{len}} {unit}  {{per_sec}}  eta {{eta}}  {{msg}}")
            };
            ProgressBar::new(len)
                .with_style(ProgressStyle::with_template(&template).expect("valid template"))
        };
        if let Some(old) = self.bar.lock().expect("progress lock").replace(bar) {
            old.finish_and_clear();
        }
    }

    fn inc(&self, n: u64) {
        self.with_bar(|bar| bar.inc(n));
    }

    fn message(&self, text: &str) {
        let text = text.to_string();
        self.with_bar(|bar| bar.set_message(text));
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}
