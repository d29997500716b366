//! Progress on standard error for the work that takes a second or more: the key store's
//! Argon2id unlock, the space-hard table of a large key's export, the Chow-style compilers.
//!
//! `WBGEN_PROGRESS` says when: `auto` (the default) draws only when standard error is a
//! terminal, so scripts and logs see nothing new; `always` draws on a terminal as `auto` does
//! and elsewhere writes plain lines (what is being done, then every tenth of a bar), for logs
//! that want them; `never` draws nothing. The library reports how far its work is through
//! callbacks and draws nothing itself: everything that touches the terminal is here.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Show {
    /// Not at all.
    Nothing,
    /// indicatif's bars and spinners, redrawn in place on the terminal.
    Terminal,
    /// One line per step on standard error (`always` where it is no terminal).
    Lines,
}

/// The progress of one `wbgen` command: at most one bar or spinner at a time, cleared when the
/// next one starts, when [`Progress::clear`] is called, and on drop.
pub struct Progress {
    show: Show,
    current: RefCell<Option<ProgressBar>>,
    /// [`Show::Lines`]: the current bar's message and the last tenth written.
    line: Cell<Option<(&'static str, u64)>>,
}

impl Progress {
    /// As `WBGEN_PROGRESS` says.
    ///
    /// # Errors
    /// A message naming the variable when it holds anything but `auto`, `always`, `never`
    /// (any case) or nothing.
    pub fn from_env() -> Result<Progress, String> {
        let value = std::env::var("WBGEN_PROGRESS").unwrap_or_default();
        // indicatif's own test: a terminal, and not TERM=dumb.
        let terminal = !ProgressDrawTarget::stderr().is_hidden();
        let show = match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" if terminal => Show::Terminal,
            "" | "auto" => Show::Nothing,
            "always" if terminal => Show::Terminal,
            "always" => Show::Lines,
            "never" => Show::Nothing,
            _ => return Err("WBGEN_PROGRESS must be auto, always or never".to_owned()),
        };
        Ok(Progress {
            show,
            current: RefCell::new(None),
            line: Cell::new(None),
        })
    }

    /// Starts a spinner saying `message` (work of unknown length), replacing the current one.
    pub fn spinner(&self, message: &'static str) {
        self.clear();
        match self.show {
            Show::Nothing => {}
            Show::Lines => eprintln!("wbgen: {message}…"),
            Show::Terminal => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} wbgen: {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(message);
                bar.enable_steady_tick(Duration::from_millis(100));
                *self.current.borrow_mut() = Some(bar);
            }
        }
    }

    /// Starts a bar saying `message`, replacing the current one; [`Progress::update`] moves
    /// it.
    pub fn bar(&self, message: &'static str) {
        self.clear();
        match self.show {
            Show::Nothing => {}
            Show::Lines => {
                eprintln!("wbgen: {message}…");
                self.line.set(Some((message, 0)));
            }
            Show::Terminal => {
                let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "wbgen: {msg} [{bar:30}] {percent:>3}% ({elapsed}, about {eta} left)",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_message(message);
                *self.current.borrow_mut() = Some(bar);
            }
        }
    }

    /// The current bar's position: `done` of `total` (a library callback's arguments).
    pub fn update(&self, done: u64, total: u64) {
        if let Some(bar) = self.current.borrow().as_ref() {
            if bar.length() != Some(total) {
                bar.set_length(total);
            }
            bar.set_position(done);
        }
        if let Some((message, written)) = self.line.get() {
            let tenth = done.saturating_mul(10) / total.max(1);
            if tenth > written {
                eprintln!("wbgen: {message}: {}%", tenth * 10);
                self.line.set(Some((message, tenth)));
            }
        }
    }

    /// Clears what is drawn: the work it showed is over.
    pub fn clear(&self) {
        if let Some(bar) = self.current.borrow_mut().take() {
            bar.finish_and_clear();
        }
        self.line.set(None);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}
