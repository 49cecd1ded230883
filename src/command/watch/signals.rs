//! The one table of what a signal means to a watch, per mode, and the listener that turns
//! every signal in it into one stream. A signal that is not in the table is left at its
//! default; every signal whose default would end osenv (and so skip the token's revocation
//! and the temp file's removal) is in it, apart from the ones no process can catch and the
//! ones that mean a fault in osenv itself (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS,
//! SIGTRAP).

use rustix::process::Signal;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// What a signal asks of a watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// End the watch: `exec` sends the command this signal (then SIGKILL after `--grace`) and
    /// ends with its status; `render`/`env` end at once (after their hook), with 0.
    Stop(Signal),
    /// Check every value now, and apply a change at once (no spread delay).
    CheckNow,
    /// `exec`: pass it on to the command. `render`/`env`: ignored.
    Forward,
}

/// Every signal a watch listens for, and what it means.
pub(crate) const TABLE: &[(Signal, &str, Meaning)] = &[
    (Signal::TERM, "TERM", Meaning::Stop(Signal::TERM)),
    (Signal::INT, "INT", Meaning::Stop(Signal::INT)),
    (Signal::QUIT, "QUIT", Meaning::Stop(Signal::QUIT)),
    (Signal::HUP, "HUP", Meaning::CheckNow),
    (Signal::USR1, "USR1", Meaning::Forward),
    (Signal::USR2, "USR2", Meaning::Forward),
    // Ended by default, and never a request to reload: a stop, passed on as SIGTERM.
    (Signal::ALARM, "ALRM", Meaning::Stop(Signal::TERM)),
    (Signal::VTALARM, "VTALRM", Meaning::Stop(Signal::TERM)),
    (Signal::PROF, "PROF", Meaning::Stop(Signal::TERM)),
    (Signal::XCPU, "XCPU", Meaning::Stop(Signal::TERM)),
    (Signal::XFSZ, "XFSZ", Meaning::Stop(Signal::TERM)),
    (Signal::IO, "IO", Meaning::Stop(Signal::TERM)),
    (Signal::POWER, "PWR", Meaning::Stop(Signal::TERM)),
    (Signal::STKFLT, "STKFLT", Meaning::Stop(Signal::TERM)),
];

/// The meaning of `signal` (`None`: not one the watch listens for).
pub(crate) fn meaning(signal: Signal) -> Option<Meaning> {
    TABLE.iter().find(|(s, _, _)| *s == signal).map(|(_, _, m)| *m)
}

/// `TERM`, `HUP`, …: how messages name a signal.
pub(crate) fn name(signal: Signal) -> String {
    TABLE
        .iter()
        .find(|(s, _, _)| *s == signal)
        .map_or_else(|| format!("signal {}", signal.as_raw()), |(_, n, _)| (*n).to_owned())
}

/// The signal `--restart-signal` names (the CLI accepts only names in the table).
pub(crate) fn named(name: &str) -> Signal {
    TABLE
        .iter()
        .find(|(_, n, _)| *n == name)
        .map_or(Signal::TERM, |(s, _, _)| *s)
}

/// Listen for every signal in the table; each arrives on the returned channel. Must run
/// inside the runtime, before any process is started, so none is missed.
pub(crate) fn listen() -> std::io::Result<mpsc::UnboundedReceiver<Signal>> {
    let (tx, rx) = mpsc::unbounded_channel();
    for (sig, _, _) in TABLE {
        let mut stream = signal(SignalKind::from_raw(sig.as_raw()))?;
        let tx = tx.clone();
        let sig = *sig;
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if tx.send(sig).is_err() {
                    return;
                }
            }
        });
    }
    Ok(rx)
}

/// SIGCHLD: a child of osenv changed state.
pub(crate) fn children() -> std::io::Result<tokio::signal::unix::Signal> {
    signal(SignalKind::child())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_that_ends_a_process_by_default_and_can_be_caught_is_in_the_table() {
        // signal(7): the "Term" and "Core" defaults, less the uncatchable and the faults.
        let ending = [
            Signal::HUP,
            Signal::INT,
            Signal::QUIT,
            Signal::USR1,
            Signal::USR2,
            Signal::ALARM,
            Signal::TERM,
            Signal::STKFLT,
            Signal::XCPU,
            Signal::XFSZ,
            Signal::VTALARM,
            Signal::PROF,
            Signal::IO,
            Signal::POWER,
        ];
        for signal in ending {
            assert!(meaning(signal).is_some(), "{}", signal.as_raw());
        }
        assert_eq!(meaning(Signal::HUP), Some(Meaning::CheckNow));
        assert_eq!(meaning(Signal::TERM), Some(Meaning::Stop(Signal::TERM)));
        assert_eq!(named("USR2"), Signal::USR2);
        assert_eq!(name(Signal::INT), "INT");
    }
}
