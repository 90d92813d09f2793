//! The guest side of kmatrix: PID 1 (`/init`) of the test VM, and, when started as
//! `modprobe` (the initramfs links `/sbin/modprobe` to `/init`), the module loader the
//! kernel calls.
//!
//! Init mounts the usual filesystems, opens the report channel ([`CHANNEL_DEVICE`]), says
//! hello, reads the job, loads its modules, runs its programs one by one, reporting their
//! output and exit as framed [`Message`]s, and powers off. It never panics on purpose; a
//! bug that panics anyway is reported as [`Message::InitFailed`], and every path ends in a
//! power-off.

mod channel;
mod modprobe;
mod mounts;
mod power;
mod run;
mod sys;

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use kmatrix_wire::{CHANNEL_DEVICE, JOB_PATH, Job, Level, Message, PROTOCOL_VERSION, encode_frame};

use channel::{Channel, Reporter};
use modprobe::{Modprobe, Outcome};
use mounts::MountFailure;

const TAG: &str = "kmatrix-init";

/// How long the output pipes may stay open after a program's process group is killed.
const STRAGGLER_GRACE: Duration = Duration::from_secs(2);

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|arg0| Path::new(arg0).file_name())
        .and_then(|name| name.to_str());
    if invoked_as == Some("modprobe") {
        std::process::exit(modprobe::main(args.get(1..).unwrap_or_default()));
    }
    init_main()
}

/// What the steps share.
#[derive(Default)]
struct Init {
    reporter: Option<Reporter<Channel>>,
    /// Mounts that failed before the channel was open to report them.
    mount_failures: Vec<MountFailure>,
    job: Job,
}

type Step = fn(&mut Init) -> Result<(), String>;

/// Init, in order. A step's error is fatal: it is reported as InitFailed.
const STEPS: &[(&str, Step)] = &[
    ("mount filesystems", mount_filesystems),
    ("open the channel", open_channel),
    ("say hello", say_hello),
    ("report mounts", report_mounts),
    ("read the job", read_job),
    ("load modules", load_modules),
    ("run programs", run_programs),
    ("say done", say_done),
];

/// A second handle on the channel for the panic hook, which must not wait for a lock.
static PANIC_CHANNEL: OnceLock<File> = OnceLock::new();

fn init_main() -> ! {
    panic::set_hook(Box::new(|info| {
        let message = format!("init panicked: {info}");
        sys::kmsg(TAG, Level::Error, &message);
        eprintln!("{TAG}: {message}");
        if let Some(mut file) = PANIC_CHANNEL.get() {
            let _ = file.write_all(&encode_frame(&Message::InitFailed { message }));
        }
    }));
    let mut init = Init::default();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        STEPS
            .iter()
            .try_for_each(|(name, step)| step(&mut init).map_err(|e| format!("{name}: {e}")))
    }));
    // A panic (Err) has been reported by the hook already.
    if let Ok(Err(message)) = outcome {
        sys::kmsg(TAG, Level::Error, &message);
        match &init.reporter {
            Some(reporter) => {
                let _ = reporter.send(&Message::InitFailed { message });
            }
            None => eprintln!("{TAG}: {message}"),
        }
    }
    if let Some(reporter) = &init.reporter {
        reporter.with_writer(|channel| channel.drain());
    }
    power::power_off()
}

fn reporter(init: &Init) -> Result<&Reporter<Channel>, String> {
    init.reporter
        .as_ref()
        .ok_or_else(|| format!("{CHANNEL_DEVICE} is not open"))
}

fn mount_filesystems(init: &mut Init) -> Result<(), String> {
    init.mount_failures = mounts::mount_all();
    for failure in &init.mount_failures {
        let level = if failure.mount.essential {
            Level::Error
        } else {
            Level::Warn
        };
        sys::kmsg(TAG, level, &failure.describe());
    }
    Ok(())
}

fn open_channel(init: &mut Init) -> Result<(), String> {
    let channel = Channel::open()?;
    if let Ok(file) = channel.try_clone_file() {
        let _ = PANIC_CHANNEL.set(file);
    }
    init.reporter = Some(Reporter::new(channel, true));
    Ok(())
}

fn say_hello(init: &mut Init) -> Result<(), String> {
    let uptime_ms = sys::boottime_ms();
    let release = sys::kernel_release().unwrap_or_else(|e| format!("unknown ({e})"));
    sys::kmsg(
        TAG,
        Level::Info,
        &format!("up after {uptime_ms} ms on {release}"),
    );
    reporter(init)?
        .send(&Message::Hello {
            protocol: PROTOCOL_VERSION,
            release,
            uptime_ms,
        })
        .map_err(|e| format!("cannot write to {CHANNEL_DEVICE}: {}", sys::describe(&e)))
}

fn report_mounts(init: &mut Init) -> Result<(), String> {
    let reporter = reporter(init)?;
    let mut essential = Vec::new();
    for failure in &init.mount_failures {
        let text = failure.describe();
        let level = if failure.mount.essential {
            essential.push(text.clone());
            Level::Error
        } else {
            Level::Warn
        };
        // Already noted in /dev/kmsg by mount_filesystems.
        let _ = reporter.send(&Message::Log { level, text });
    }
    match essential.is_empty() {
        true => Ok(()),
        false => Err(essential.join("; ")),
    }
}

fn read_job(init: &mut Init) -> Result<(), String> {
    let bytes = std::fs::read(JOB_PATH)
        .map_err(|e| format!("cannot read {JOB_PATH}: {}", sys::describe(&e)))?;
    init.job = Job::decode(&bytes).map_err(|e| format!("cannot decode {JOB_PATH}: {e}"))?;
    Ok(())
}

fn load_modules(init: &mut Init) -> Result<(), String> {
    let reporter = reporter(init)?;
    if let Err(e) = std::fs::write("/proc/sys/kernel/modprobe", "/sbin/modprobe") {
        let why = sys::describe(&e);
        reporter.log(
            Level::Warn,
            format!("cannot set /proc/sys/kernel/modprobe: {why}"),
        );
    }
    if init.job.modules.is_empty() {
        return Ok(());
    }
    let modprobe = match Modprobe::open_running() {
        Ok(modprobe) => modprobe,
        Err(e) => {
            let modules = init.job.modules.join(", ");
            reporter.log(Level::Error, format!("cannot load {modules}: {e}"));
            return Ok(());
        }
    };
    for request in &init.job.modules {
        // "name param=value ..." passes parameters, as on modprobe's command line.
        let mut words = request.split_whitespace();
        let name = words.next().unwrap_or_default();
        let params: Vec<String> = words.map(str::to_string).collect();
        match modprobe.load(name, &params) {
            Ok(loaded) => reporter.log(Level::Info, describe_loaded(name, &loaded)),
            Err(e) => reporter.log(Level::Error, e.to_string()),
        }
    }
    Ok(())
}

fn describe_loaded(request: &str, loaded: &[Outcome]) -> String {
    let parts: Vec<String> = loaded.iter().map(Outcome::to_string).collect();
    format!("module {request}: {}", parts.join(", "))
}

fn run_programs(init: &mut Init) -> Result<(), String> {
    let reporter = reporter(init)?;
    // Programs inherit init's directory (see run::spawn for why it is not set per program).
    if let Err(e) = std::env::set_current_dir("/tmp") {
        reporter.log(
            Level::Warn,
            format!("cannot enter /tmp: {}", sys::describe(&e)),
        );
    }
    if let Err(e) = std::fs::create_dir_all("/root") {
        reporter.log(
            Level::Warn,
            format!("cannot create /root: {}", sys::describe(&e)),
        );
    }
    let options = run::RunOptions {
        straggler_grace: Some(STRAGGLER_GRACE),
    };
    for (i, program) in init.job.programs.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        sys::kmsg(
            TAG,
            Level::Info,
            &format!("program {i} ({}) starts", program.name),
        );
        let status = run::run_program(reporter, index, program, &init.job.env, &options);
        let note = format!("program {i} ({}) ended: {status:?}", program.name);
        sys::kmsg(TAG, Level::Info, &note);
        run::reap_orphans();
    }
    Ok(())
}

fn say_done(init: &mut Init) -> Result<(), String> {
    sys::kmsg(TAG, Level::Info, "done, powering off");
    reporter(init)?
        .send(&Message::Done)
        .map_err(|e| format!("cannot write to {CHANNEL_DEVICE}: {}", sys::describe(&e)))
}
