//! Signals: Ctrl-C (SIGINT) and SIGTERM stop a run cleanly instead of killing it mid-write.
//! A signal only sets a flag; long work sees it through its cancel flag and stops, files being
//! written are finished (or their temporary file removed), and the process exits with the
//! conventional status: 130 for SIGINT, 143 for SIGTERM. A second Ctrl-C ends the process at
//! once (for a run that does not stop).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The exit status of the signal received (0: none; after both, the latest one's).
static STATUS: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

fn status_cell() -> &'static Arc<AtomicUsize> {
    STATUS.get_or_init(|| Arc::new(AtomicUsize::new(0)))
}

/// Route SIGINT and SIGTERM to flags: `cancel` is set (so a reporter's cancel flag stops the
/// work) and [`received`] tells the exit status. Safe to call more than once.
pub fn install(cancel: Option<Arc<AtomicBool>>) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        let status = status_cell().clone();
        // A second Ctrl-C while the first is being handled ends the process at once.
        let seen = Arc::new(AtomicBool::new(false));
        flag::register_conditional_shutdown(SIGINT, 130, seen.clone())?;
        flag::register(SIGINT, seen)?;
        flag::register_usize(SIGINT, status.clone(), 130)?;
        flag::register_usize(SIGTERM, status, 143)?;
        if let Some(c) = cancel {
            flag::register(SIGINT, c.clone())?;
            flag::register(SIGTERM, c)?;
        }
    }
    #[cfg(not(unix))]
    let _ = cancel;
    Ok(())
}

/// The exit status for the signal received (130 SIGINT, 143 SIGTERM), if any.
pub fn received() -> Option<i32> {
    match status_cell().load(Ordering::Relaxed) {
        0 => None,
        s => Some(s as i32),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn sigterm_sets_the_cancel_flag_and_status() {
        let cancel = Arc::new(AtomicBool::new(false));
        install(Some(cancel.clone())).unwrap();
        assert_eq!(received(), None);
        signal_hook::low_level::raise(signal_hook::consts::SIGTERM).unwrap();
        assert!(cancel.load(Ordering::Relaxed));
        assert_eq!(received(), Some(143));
    }
}
