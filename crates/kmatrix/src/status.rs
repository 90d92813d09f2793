//! The status board: on a terminal, one live line per kernel (what it is doing, for how long),
//! kept at the bottom of the screen while other output scrolls above it.
//!
//! Off a terminal the board is disabled and the reporter prints full, prefixed lines instead,
//! which is what logs and CI systems want.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct Line {
    spec: String,
    status: String,
    since: Instant,
}

#[derive(Default)]
struct Board {
    lines: Vec<Option<Line>>,
    drawn: usize,
    finished: bool,
}

/// A live status board on stderr; every method is a no-op when disabled.
#[derive(Clone)]
pub struct StatusBoard {
    board: Option<Arc<Mutex<Board>>>,
}

impl StatusBoard {
    /// A board on stderr when `enabled` (stderr is a terminal), redrawn every second so elapsed
    /// times move even while a long test runs.
    pub fn new(enabled: bool) -> StatusBoard {
        if !enabled {
            return StatusBoard { board: None };
        }
        let board = Arc::new(Mutex::new(Board::default()));
        let ticker = Arc::clone(&board);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let mut board = lock(&ticker);
                if board.finished {
                    return;
                }
                redraw(&mut board);
            }
        });
        StatusBoard { board: Some(board) }
    }

    /// Whether the board is shown (a terminal).
    pub fn enabled(&self) -> bool {
        self.board.is_some()
    }

    /// Sets kernel `index`'s status line.
    pub fn set(&self, index: usize, spec: &str, status: &str) {
        if let Some(board) = &self.board {
            let mut board = lock(board);
            if board.lines.len() <= index {
                board.lines.resize_with(index + 1, || None);
            }
            let keep_since = board.lines[index]
                .as_ref()
                .filter(|l| l.status == status)
                .map(|l| l.since);
            board.lines[index] = Some(Line {
                spec: spec.to_string(),
                status: status.to_string(),
                since: keep_since.unwrap_or_else(Instant::now),
            });
            redraw(&mut board);
        }
    }

    /// Prints `bytes` (whole lines) above the board, to stderr or stdout.
    pub fn print_above(&self, to_stderr: bool, bytes: &[u8]) {
        let write = |bytes: &[u8]| {
            // A closed pipe (e.g. `| head`) must not abort the run.
            if to_stderr {
                let _ = std::io::stderr().lock().write_all(bytes);
            } else {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(bytes);
                let _ = out.flush();
            }
        };
        match &self.board {
            Some(board) => {
                let mut board = lock(board);
                clear(&mut board);
                write(bytes);
                redraw(&mut board);
            }
            None => write(bytes),
        }
    }

    /// Removes the board for good (before the summary is printed).
    pub fn finish(&self) {
        if let Some(board) = &self.board {
            let mut board = lock(board);
            clear(&mut board);
            board.finished = true;
        }
    }
}

fn lock(board: &Mutex<Board>) -> MutexGuard<'_, Board> {
    board.lock().unwrap_or_else(|p| p.into_inner())
}

fn clear(board: &mut Board) {
    let mut err = std::io::stderr().lock();
    for _ in 0..board.drawn {
        // Up one line, erase it.
        let _ = err.write_all(b"\x1b[1A\x1b[2K");
    }
    board.drawn = 0;
}

fn redraw(board: &mut Board) {
    if board.finished {
        return;
    }
    clear(board);
    let width = board
        .lines
        .iter()
        .flatten()
        .map(|l| l.spec.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    let mut drawn = 0;
    for line in board.lines.iter().flatten() {
        let secs = line.since.elapsed().as_secs();
        text.push_str(&format!(
            "  {:<width$}  {} ({secs}s)\n",
            line.spec, line.status
        ));
        drawn += 1;
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    board.drawn = drawn;
}
