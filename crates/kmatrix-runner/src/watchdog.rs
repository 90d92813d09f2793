//! Recognising a dying kernel from its console.
//!
//! The watchdog reads every console line and ends the VM at once on a panic, an oops, an RCU
//! stall or a soft lockup, instead of waiting for `--timeout`. Only lines the kernel itself prints
//! at high severity are matched, and program output never reaches the console (it travels over
//! the report channel), so a program printing "Kernel panic" cannot end its own VM.

use std::collections::VecDeque;

/// Why the watchdog ended a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal {
    /// What was recognised, e.g. "kernel panic".
    pub kind: &'static str,
    /// The console line that showed it.
    pub line: String,
}

/// Console patterns that mean the guest is dead or dying, with a short name for each.
const FATAL_PATTERNS: &[(&str, &str)] = &[
    ("Kernel panic - not syncing", "kernel panic"),
    ("Oops: ", "kernel oops"),
    ("BUG: unable to handle", "kernel oops"),
    ("BUG: kernel NULL pointer dereference", "kernel oops"),
    ("general protection fault", "kernel oops"),
    ("watchdog: BUG: soft lockup", "soft lockup"),
    ("watchdog: Watchdog detected hard LOCKUP", "hard lockup"),
    ("detected stalls on CPUs", "RCU stall"),
    ("self-detected stall on CPU", "RCU stall"),
];

/// Returns the fatal condition a console line shows, if any.
pub fn check_line(line: &str) -> Option<Fatal> {
    FATAL_PATTERNS
        .iter()
        .find(|(pattern, _)| line.contains(pattern))
        .map(|(_, kind)| Fatal {
            kind,
            line: line.trim_end().to_string(),
        })
}

/// The last lines of the console, kept for the report of a crashed or hung guest.
#[derive(Debug)]
pub struct ConsoleTail {
    lines: VecDeque<String>,
    capacity: usize,
}

impl ConsoleTail {
    /// Keeps at most `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        ConsoleTail {
            lines: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Adds a line, dropping the oldest when full.
    pub fn push(&mut self, line: &str) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line.trim_end().to_string());
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_panic_oops_stall_and_lockup_lines() {
        let cases = [
            (
                "[    3.1] Kernel panic - not syncing: sysrq triggered crash",
                "kernel panic",
            ),
            ("[    2.0] Oops: 0002 [#1] PREEMPT SMP NOPTI", "kernel oops"),
            (
                "[    2.0] BUG: kernel NULL pointer dereference, address: 0000000000000000",
                "kernel oops",
            ),
            (
                "[   30.0] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [spin:77]",
                "soft lockup",
            ),
            (
                "[   60.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
                "RCU stall",
            ),
            (
                "[   60.0] rcu: INFO: rcu_sched self-detected stall on CPU",
                "RCU stall",
            ),
        ];
        for (line, kind) in cases {
            assert_eq!(check_line(line).map(|f| f.kind), Some(kind), "{line}");
        }
    }

    #[test]
    fn ordinary_boot_lines_are_not_fatal() {
        for line in [
            "[    0.000000] Linux version 6.1.0-50-cloud-amd64",
            "[    1.2] sysrq: Trigger a crash",
            "[    0.5] Spectre V2 : Mitigation: Retpolines",
            "[    0.9] RCU Tasks: Setting shift to 0 and lim to 1 rcu_task_cb_adjust=1.",
        ] {
            assert_eq!(check_line(line), None, "{line}");
        }
    }

    #[test]
    fn tail_keeps_the_newest_lines() {
        let mut tail = ConsoleTail::new(2);
        for line in ["a\n", "b\n", "c\r\n"] {
            tail.push(line);
        }
        assert_eq!(tail.lines(), vec!["b".to_string(), "c".to_string()]);
    }
}
