//! How long library work reports to its caller: log lines and step counts per stage. The library
//! never prints; the command line turns these into progress bars on a terminal and plain log lines
//! otherwise. A caller stops long work by answering a step with [`Interrupted`].

/// The caller asked the work to stop (Ctrl-C in a notebook). Work passes it up unchanged, so the
/// caller can tell a stop it asked for from a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Receives what a long computation wants a person to see.
pub trait Progress {
    /// Something worth one log line: a stage starts, a choice was made.
    fn line(&mut self, text: &str);
    /// Something that went wrong but did not stop the work (a fallback, a doubtful result): shown
    /// even when progress is not.
    fn warn(&mut self, text: &str);
    /// `done` of `total` steps of `stage` are finished; `total` is 0 when it is not known ahead.
    /// [`Interrupted`] asks the work to stop here.
    fn step(&mut self, stage: &str, done: usize, total: usize) -> Result<(), Interrupted>;
}

/// Reports nowhere: for tests, benchmarks and callers that only want the result.
pub struct Silent;

impl Progress for Silent {
    fn line(&mut self, _text: &str) {}
    fn warn(&mut self, _text: &str) {}
    fn step(&mut self, _stage: &str, _done: usize, _total: usize) -> Result<(), Interrupted> {
        Ok(())
    }
}
