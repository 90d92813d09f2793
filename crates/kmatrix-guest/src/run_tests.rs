use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use kmatrix_wire::{FrameDecoder, Level, Message, Program, ProgramStatus, Stream};

use super::{CHUNK, RunOptions, run_program};
use crate::channel::Reporter;

const OPTIONS: RunOptions = RunOptions {
    straggler_grace: None,
};

fn program(path: &str, args: &[&[u8]], timeout_ms: Option<u64>) -> Program {
    Program {
        name: "test".into(),
        path: path.as_bytes().to_vec(),
        args: args.iter().map(|a| a.to_vec()).collect(),
        timeout_ms,
    }
}

/// Runs `program` as index 3 and returns how it ended and every message sent.
fn run(program: &Program, env: &[(Vec<u8>, Vec<u8>)]) -> (ProgramStatus, Vec<Message>) {
    let reporter = Reporter::new(Vec::new(), false);
    let status = run_program(&reporter, 3, program, env, &OPTIONS);
    let mut decoder = FrameDecoder::new();
    decoder.push(&reporter.into_inner());
    let mut messages = Vec::new();
    while let Some(message) = decoder.next_message() {
        messages.push(message.expect("valid frame"));
    }
    assert_eq!(decoder.skipped_bytes(), 0);
    assert_eq!(
        messages.first(),
        Some(&Message::ProgramStarted { index: 3 })
    );
    match messages.last() {
        Some(Message::ProgramFinished {
            index: 3,
            status: s,
            ..
        }) => assert_eq!(*s, status),
        other => panic!("last message {other:?}"),
    }
    (status, messages)
}

fn output(messages: &[Message], wanted: Stream) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        if let Message::Output {
            index,
            stream,
            data,
        } = message
        {
            assert_eq!(*index, 3);
            assert!(data.len() <= CHUNK);
            if *stream == wanted {
                out.extend_from_slice(data);
            }
        }
    }
    out
}

#[test]
fn echo_gets_awkward_arguments_byte_for_byte() {
    let args: &[&[u8]] = &[
        b"two words",
        b"\"double\" 'single' $HOME *",
        b"\xff\xfe",
        b"",
    ];
    let (status, messages) = run(&program("/bin/echo", args, Some(10_000)), &[]);
    assert_eq!(status, ProgramStatus::Exited(0));
    assert_eq!(
        output(&messages, Stream::Stdout),
        b"two words \"double\" 'single' $HOME * \xff\xfe \n"
    );
    assert_eq!(output(&messages, Stream::Stderr), b"");
}

#[test]
fn sleep_past_its_timeout_is_killed() {
    let started = Instant::now();
    let (status, messages) = run(&program("/bin/sleep", &[b"10"], Some(200)), &[]);
    assert_eq!(status, ProgramStatus::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(5));
    match messages.last() {
        Some(Message::ProgramFinished { duration_ms, .. }) => {
            assert!((200..5000).contains(duration_ms), "{duration_ms}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn false_exits_with_one() {
    let (status, _) = run(&program("/bin/false", &[], None), &[]);
    assert_eq!(status, ProgramStatus::Exited(1));
}

#[test]
fn missing_program_is_a_spawn_failure_with_a_reason() {
    let (status, messages) = run(&program("/nonexistent/prog", &[], None), &[]);
    assert_eq!(status, ProgramStatus::SpawnFailed);
    match messages.get(1) {
        Some(Message::Log {
            level: Level::Error,
            text,
        }) => assert!(
            text.contains("/nonexistent/prog") && text.contains("ENOENT"),
            "{text}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn file_that_is_not_executable_format_is_enoexec_not_a_shell_script() {
    let dir = std::env::temp_dir().join(format!("kmatrix-guest-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("wrong-arch");
    // An ELF header for a machine nobody has, as a wrong-architecture binary would be.
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\xff\xff".to_vec();
    elf.resize(128, 0);
    std::fs::write(&path, elf).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (status, messages) = run(&program(path.to_str().expect("utf-8"), &[], None), &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status, ProgramStatus::SpawnFailed);
    assert!(matches!(messages.get(1), Some(Message::Log { text, .. }) if text.contains("ENOEXEC")));
}

#[test]
fn environment_is_clean_plus_job_env() {
    let env = vec![
        (b"FOO".to_vec(), b"bar baz".to_vec()),
        (b"HOME".to_vec(), b"/home/x".to_vec()),
    ];
    let (status, messages) = run(&program("/usr/bin/env", &[], Some(10_000)), &env);
    assert_eq!(status, ProgramStatus::Exited(0));
    let stdout = String::from_utf8(output(&messages, Stream::Stdout)).expect("utf-8");
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "FOO=bar baz",
            "HOME=/home/x",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "RUST_BACKTRACE=1",
        ]
    );
}

#[test]
fn stderr_and_exit_code_and_signals() {
    let (status, messages) = run(
        &program("/bin/sh", &[b"-c", b"echo out; echo err >&2; exit 3"], None),
        &[],
    );
    assert_eq!(status, ProgramStatus::Exited(3));
    assert_eq!(output(&messages, Stream::Stdout), b"out\n");
    assert_eq!(output(&messages, Stream::Stderr), b"err\n");

    let (status, _) = run(&program("/bin/sh", &[b"-c", b"kill -9 $$"], None), &[]);
    assert_eq!(status, ProgramStatus::Signaled(9));
}

#[test]
fn background_children_do_not_keep_the_program_alive() {
    let started = Instant::now();
    let (status, messages) = run(
        &program(
            "/bin/sh",
            &[b"-c", b"sleep 30 & echo started"],
            Some(20_000),
        ),
        &[],
    );
    assert_eq!(status, ProgramStatus::Exited(0));
    assert_eq!(output(&messages, Stream::Stdout), b"started\n");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn large_output_arrives_whole_in_bounded_chunks() {
    let (status, messages) = run(
        &program(
            "/bin/sh",
            &[b"-c", b"head -c 300000 /dev/zero | tr '\\0' x"],
            None,
        ),
        &[],
    );
    assert_eq!(status, ProgramStatus::Exited(0));
    assert_eq!(output(&messages, Stream::Stdout), vec![b'x'; 300_000]);
}
