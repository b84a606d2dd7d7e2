//! What a render shows while it runs, on stderr: indicatif bars on a terminal (a bar per
//! download with bytes, rate and ETA; one for installing and one for packing each arch), one
//! plain line per finished step when stderr is not a terminal (CI logs), and nothing but
//! warnings with `-q`; nothing at all once [`silence`]d (a signal is ending the process).
//! Also the tracing set-up behind `-v` and `RUST_LOG`.
//!
//! It decides nothing about what is fetched or built: `fetch`, `render` and `pack` report to
//! it. The hot path is a `Task::inc` per chunk (an atomic add, and a redraw at most ~10 times a
//! second); plain and quiet modes do nothing per chunk.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `-q`: only warnings (retries) and errors.
    Quiet,
    /// One line per finished step: stderr is not a terminal, or a log is being written.
    Plain,
    /// indicatif bars, redrawn in place: stderr is a terminal.
    Bars,
}

impl Mode {
    /// The mode for this process: quiet wins; bars only on a terminal and without a log
    /// (`-v`/`RUST_LOG` lines would tear the bars apart).
    pub fn for_stderr(quiet: bool, logging: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if logging || !std::io::stderr().is_terminal() {
            Mode::Plain
        } else {
            Mode::Bars
        }
    }
}

/// The progress display of one command; cheap to clone (the bars are shared).
#[derive(Debug, Clone)]
pub struct Progress {
    mode: Mode,
    multi: Option<MultiProgress>,
}

impl Default for Progress {
    /// Plain lines: what a library caller that chose nothing gets.
    fn default() -> Self {
        Progress::new(Mode::Plain)
    }
}

/// Every bar display of the process, for [`silence`].
static DISPLAYS: Mutex<Vec<MultiProgress>> = Mutex::new(Vec::new());
static SILENCED: AtomicBool = AtomicBool::new(false);

/// Clears every bar from the terminal and draws nothing more, lines and warnings included:
/// the process is about to exit on a signal, whose line must be the last one.
pub fn silence() {
    SILENCED.store(true, Ordering::SeqCst);
    let displays = DISPLAYS.lock().unwrap_or_else(PoisonError::into_inner);
    for multi in displays.iter() {
        let _ = multi.clear();
        multi.set_draw_target(ProgressDrawTarget::hidden());
    }
}

fn silenced() -> bool {
    SILENCED.load(Ordering::SeqCst)
}

impl Progress {
    pub fn new(mode: Mode) -> Progress {
        let multi = (mode == Mode::Bars).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            DISPLAYS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(multi.clone());
            multi
        });
        Progress { mode, multi }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A line about a finished step (`fetched ...`, `rendered ...`): above the bars on a
    /// terminal, as is in a log, not at all with `-q`.
    pub fn line(&self, text: &str) {
        match (&self.multi, self.mode) {
            _ if silenced() => {}
            (_, Mode::Quiet) => {}
            (Some(multi), _) => multi.suspend(|| eprintln!("{text}")),
            (None, _) => eprintln!("{text}"),
        }
    }

    /// A warning (a retry, a changed cache entry): shown in every mode, `-q` included.
    pub fn warn(&self, text: &str) {
        if silenced() {
            return;
        }
        match &self.multi {
            Some(multi) => multi.suspend(|| eprintln!("{text}")),
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{text}");
            }
        }
    }

    /// A download: "waiting" until the response arrives, then bytes, rate and ETA
    /// (`Task::set_length`).
    pub fn download(&self, label: String) -> Task {
        self.task(label, 0, WAITING_STYLE)
    }

    /// A step counted in `total` units of `unit` (installing artifacts).
    pub fn steps(&self, label: String, total: u64) -> Task {
        self.task(label, total, STEPS_STYLE)
    }

    /// A step counted in bytes out of an estimated `total` (packing).
    pub fn bytes(&self, label: String, total: u64) -> Task {
        self.task(label, total, BYTES_STYLE)
    }

    fn task(&self, label: String, total: u64, template: &str) -> Task {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new(total).with_style(style(template)));
            bar.set_message(label.clone());
            // Redraw on a timer too, so a stalled download still shows its rate falling.
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Task {
            bar,
            start: Instant::now(),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

const WAITING_STYLE: &str = "{msg:32!} {spinner} waiting for the server {elapsed}";
// Decimal units (kB, MB), as the lines printed when a step ends ([`size_text`]).
const BYTES_STYLE: &str = "{msg:32!} [{bar:30}] {decimal_bytes:>10}/{decimal_total_bytes:<10} {decimal_bytes_per_sec:>12} ETA {eta}";
const STREAM_STYLE: &str = "{msg:32!} {spinner} {decimal_bytes:>10} {decimal_bytes_per_sec:>12}";
const STEPS_STYLE: &str = "{msg:32!} [{bar:30}] {pos}/{len} {elapsed}";

/// One step under way. Dropping it removes its bar.
#[derive(Debug)]
pub struct Task {
    bar: Option<ProgressBar>,
    start: Instant,
}

impl Task {
    /// A task that shows nothing (tests, and callers without a display).
    pub fn hidden() -> Task {
        Task {
            bar: None,
            start: Instant::now(),
        }
    }

    /// The total is known (a download's Content-Length): the bar shows bytes, rate and ETA.
    pub fn set_length(&self, len: u64) {
        if let Some(bar) = &self.bar {
            bar.set_style(style(BYTES_STYLE));
            bar.set_length(len);
        }
    }

    /// Bytes arrive without a known total: bytes and rate, no bar.
    pub fn set_unknown_length(&self) {
        if let Some(bar) = &self.bar {
            bar.set_style(style(STREAM_STYLE));
        }
    }

    /// Back to zero (a retried download starts over).
    pub fn restart(&self) {
        if let Some(bar) = &self.bar {
            bar.set_position(0);
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Time since the task began.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A size in progress lines, in decimal units like the bars (`decimal_bytes`) and the README's
/// figures, with the unit that gives it a digit before the point: `512 B`, `12.3 kB`,
/// `88.1 MB`, `1.2 GB`.
pub fn size_text(bytes: u64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    UNITS
        .iter()
        .find(|(scale, _)| bytes as f64 >= *scale)
        .map_or_else(
            || format!("{bytes} B"),
            |(scale, unit)| format!("{:.1} {unit}", bytes as f64 / scale),
        )
}

/// `1.2 s`; under a tenth of a second `40 ms`.
pub fn secs(d: Duration) -> String {
    if d < Duration::from_millis(100) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// What a download line says of size and time: `88.1 MB in 4.2 s, 21.0 MB/s`; the rate only
/// when the transfer took long enough (a tenth of a second) for it to mean something.
pub fn transfer(bytes: u64, took: Duration) -> String {
    if took < Duration::from_millis(100) {
        format!("{} in {}", size_text(bytes), secs(took))
    } else {
        let rate = (bytes as f64 / took.as_secs_f64()) as u64;
        format!(
            "{} in {}, {}/s",
            size_text(bytes),
            secs(took),
            size_text(rate)
        )
    }
}

/// Sets up the log behind `-v` and `RUST_LOG` (tracing, on stderr): `-v` shows builder's
/// debug events (each request, retry and cache decision); otherwise `RUST_LOG` decides
/// (`RUST_LOG=builder=debug`, or `trace`, or per-module filters); without either, no log.
/// Returns whether a log is on (then progress is printed as plain lines).
pub fn init_log(verbose: bool) -> bool {
    use tracing_subscriber::EnvFilter;
    let filter = if verbose {
        EnvFilter::new("builder=debug")
    } else {
        match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => EnvFilter::new(v),
            _ => return false,
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(crate::util::stdout::colour_on(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .try_init()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_plain_tasks_draw_nothing() {
        let t = Task::hidden();
        t.set_length(10);
        t.inc(5);
        t.restart();
        let p = Progress::new(Mode::Plain);
        assert!(p.download("x".into()).bar.is_none());
        assert!(Progress::new(Mode::Quiet)
            .steps("x".into(), 3)
            .bar
            .is_none());
        assert_eq!(p.mode(), Mode::Plain);
    }

    #[test]
    fn quiet_wins_and_a_log_turns_bars_into_lines() {
        assert_eq!(Mode::for_stderr(true, false), Mode::Quiet);
        assert_eq!(Mode::for_stderr(true, true), Mode::Quiet);
        // Under `cargo test` stderr may or may not be a terminal; with a log it never is Bars.
        assert_eq!(Mode::for_stderr(false, true), Mode::Plain);
    }

    #[test]
    fn figures() {
        assert_eq!(size_text(88_100_000), "88.1 MB");
        assert_eq!(size_text(1_234_000_000), "1.2 GB");
        assert_eq!(size_text(12_345), "12.3 kB");
        assert_eq!(size_text(999), "999 B");
        assert_eq!(size_text(0), "0 B");
        assert_eq!(secs(Duration::from_millis(1250)), "1.2 s");
        assert_eq!(secs(Duration::from_millis(40)), "40 ms");
    }

    #[test]
    fn a_transfer_gives_a_rate_only_when_it_took_a_while() {
        assert_eq!(transfer(1_420, Duration::from_millis(3)), "1.4 kB in 3 ms");
        assert_eq!(
            transfer(42_000_000, Duration::from_secs(2)),
            "42.0 MB in 2.0 s, 21.0 MB/s"
        );
    }
}
