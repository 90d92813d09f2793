//! Running a matrix: for each kernel, prepare it, pack the programs, boot, collect.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kmatrix_wire::{Job, Program};

use crate::error::{ErrorClass, PrepareError};
use crate::events::{Event, EventSink, KernelId};
use crate::initramfs::RunPart;
use crate::outcome::{KernelOutcome, KernelResult, Report};
use crate::prepare::{Mirror, PrepareContext, PreparedKernel};
use crate::programs::{ProgramRequest, ResolvedProgram, machine_name};
use crate::qemu::{
    AccelChoice, ArchProfile, VmConfig, channel_socket_path, interrupted_by, resolve_accel,
};
use crate::session::{Session, console_log_path};
use crate::spec::KernelSpec;
use crate::units::{Unit, all_passed, fold};

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Kernels to boot, in order.
    pub kernels: Vec<KernelSpec>,
    /// Programs to run in each guest, in order.
    pub programs: Vec<ProgramRequest>,
    /// Accelerator choice.
    pub accel: AccelChoice,
    /// Limit for each VM, from start to power-off.
    pub timeout: Duration,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Guest CPUs.
    pub cpus: u32,
    /// Kernels run at the same time.
    pub jobs: usize,
    /// Lock file pinning `debian:` specs (`kmatrix.lock`), if any.
    pub lock: Option<PathBuf>,
    /// Run from the lock file and the cache only.
    pub offline: bool,
    /// Resolve `debian:` specs in the archive even if they were resolved within the hour.
    pub refresh: bool,
    /// OpenPGP keyring for the archive's signatures (default: the system's Debian keyring).
    pub keyring: Option<PathBuf>,
    /// Matrix position of `kernels[0]`: non-zero when this run is one shard of a larger matrix.
    pub index_offset: usize,
    /// Cache directory.
    pub cache_dir: PathBuf,
    /// Debian mirror.
    pub mirror: Mirror,
    /// Extra environment for the programs.
    pub env: Vec<(OsString, OsString)>,
    /// Kernel modules (names or aliases) the guest loads before the first program.
    pub modules: Vec<String>,
    /// Extra host files copied into the guest: (host path, absolute guest path).
    pub files: Vec<(PathBuf, PathBuf)>,
}

impl RunOptions {
    /// Options with the defaults: auto accelerator, 300 s timeout, 1 GiB, 2 CPUs, the user's
    /// cache directory and the system's Debian mirror.
    pub fn new(kernels: Vec<KernelSpec>, programs: Vec<ProgramRequest>) -> RunOptions {
        RunOptions {
            kernels,
            programs,
            accel: AccelChoice::Auto,
            timeout: Duration::from_secs(300),
            memory_mib: 1024,
            cpus: 2,
            jobs: 1,
            index_offset: 0,
            lock: None,
            offline: false,
            refresh: false,
            keyring: None,
            cache_dir: crate::cache::default_cache_dir(),
            mirror: Mirror::System,
            env: Vec::new(),
            modules: Vec::new(),
            files: Vec::new(),
        }
    }
}

/// A problem that stops the whole run before any kernel is tried.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program to run does not exist.
    #[error("program not found: {}", .0.display())]
    ProgramNotFound(PathBuf),
    /// The program path names a directory or a device.
    #[error("program is not a regular file: {}", .0.display())]
    ProgramNotAFile(PathBuf),
    /// The program is not a usable ELF executable, or a library it needs is missing.
    #[error(transparent)]
    Program(kmatrix_elf::ElfError),
    /// The lock file is unreadable.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    /// A directory or file kmatrix needs could not be created or read.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    /// The exit-status class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            RunError::ProgramNotFound(_) | RunError::ProgramNotAFile(_) | RunError::Program(_) => {
                ErrorClass::Usage
            }
            RunError::Lock(_) => ErrorClass::Usage,
            RunError::Io { .. } => ErrorClass::Environment,
        }
    }
}

/// Runs every program on every kernel, `options.jobs` kernels at a time. Results come back in
/// matrix order whatever the order of completion.
pub fn run(options: &RunOptions, sink: &dyn EventSink) -> Result<Report, RunError> {
    let programs = options
        .programs
        .iter()
        .map(crate::programs::resolve)
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = programs.iter().map(|p| p.name.clone()).collect();
    let units = crate::units::units(&options.programs, &names);
    let matrix = Matrix {
        options,
        programs,
        names,
        units,
        context: prepare_context(options)?,
        log_dir: run_log_dir(&options.cache_dir)?,
        sink,
        fallback_shown: AtomicBool::new(false),
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<KernelResult>>> = Mutex::new(vec![None; options.kernels.len()]);
    let workers = options.jobs.clamp(1, options.kernels.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(spec) = options.kernels.get(index) else {
                        break;
                    };
                    let result = matrix.kernel(index, spec);
                    results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(result);
                }
            });
        }
    });
    let kernels = results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect();
    Ok(Report { kernels })
}

fn prepare_context(options: &RunOptions) -> Result<PrepareContext, RunError> {
    let mut context = PrepareContext::new(options.cache_dir.clone(), options.mirror.clone())
        .offline(options.offline)
        .refresh(options.refresh)
        .with_keyring(options.keyring.clone());
    if let Some(lock) = &options.lock {
        context = context.with_lock(lock.clone())?;
    }
    Ok(context)
}

/// What every kernel of one run shares.
struct Matrix<'a> {
    options: &'a RunOptions,
    programs: Vec<ResolvedProgram>,
    /// Display name of each program.
    names: Vec<String>,
    /// The processes each guest runs.
    units: Vec<Unit>,
    context: PrepareContext,
    log_dir: PathBuf,
    sink: &'a dyn EventSink,
    /// The KVM fallback is one fact about this machine: say it once, not once per kernel.
    fallback_shown: AtomicBool,
}

impl Matrix<'_> {
    fn kernel(&self, index: usize, spec: &KernelSpec) -> KernelResult {
        let id = KernelId {
            index,
            spec: spec.display.clone(),
        };
        let result = if interrupted_by().is_some() {
            KernelResult::error(
                &spec.display,
                ErrorClass::Environment,
                format!("{spec}: not started, interrupted"),
            )
        } else {
            self.run_kernel(&id, spec)
        };
        let mut result = result;
        result.index = self.options.index_offset + index;
        self.sink.event(Event::KernelFinished {
            kernel: id,
            result: Box::new(result.clone()),
        });
        result
    }

    fn run_kernel(&self, id: &KernelId, spec: &KernelSpec) -> KernelResult {
        let (options, programs, log_dir, sink) = (
            self.options,
            &self.programs,
            self.log_dir.as_path(),
            self.sink,
        );
        let context = &self.context;
        let error = |err: PrepareError| {
            KernelResult::error(&spec.display, err.class(), crate::error::one_line(&err))
        };
        // A debian: spec names its architecture: refuse a foreign program before downloading.
        if let crate::spec::KernelSource::Debian { arch, .. } = &spec.source
            && let Some(program) = programs.iter().find(|p| !p.runs_on(*arch))
        {
            return error(PrepareError::WrongArch {
                spec: spec.display.clone(),
                program: program.host_path.clone(),
                program_arch: machine_name(program.elf.machine),
                kernel_arch: arch.to_string(),
            });
        }
        let kernel = match context.prepare(id, spec, log_dir, sink) {
            Ok(kernel) => kernel,
            Err(err) => return error(err),
        };
        let result_if_error = |err: PrepareError| {
            let mut result = error(err);
            result.release = Some(kernel.release.clone());
            result.arch = Some(kernel.arch.to_string());
            result
        };
        for program in programs {
            if !program.runs_on(kernel.arch) {
                return result_if_error(PrepareError::WrongArch {
                    spec: spec.display.clone(),
                    program: program.host_path.clone(),
                    program_arch: machine_name(program.elf.machine),
                    kernel_arch: kernel.arch.to_string(),
                });
            }
        }
        let profile = ArchProfile::for_arch(kernel.arch);
        let qemu = match profile.locate() {
            Ok(qemu) => qemu,
            Err(err) => {
                let mut result = result_if_error(PrepareError::Io {
                    spec: spec.display.clone(),
                    action: "looking for",
                    path: profile.binary.into(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, err.to_string()),
                });
                if let Some(problem) = &mut result.problem {
                    problem.message = format!("{spec}: {err}");
                }
                return result;
            }
        };
        let initrd = log_dir.join(format!("{:02}-{}.initramfs", id.index, spec.slug()));
        if let Err(err) = write_initramfs(
            options,
            programs,
            &self.units,
            &kernel,
            &initrd,
            &spec.display,
        ) {
            return result_if_error(err);
        }
        let accel = match resolve_accel(
            options.accel,
            &qemu,
            kernel.arch,
            &kernel.vmlinuz,
            &options.cache_dir,
        ) {
            Ok((accel, notice)) => {
                if let Some(reason) = notice
                    && !self.fallback_shown.swap(true, Ordering::SeqCst)
                {
                    sink.event(Event::AccelFallback { reason });
                }
                accel
            }
            Err(message) => {
                let _ = std::fs::remove_file(&initrd);
                return KernelResult::error(
                    &spec.display,
                    ErrorClass::Environment,
                    format!("{spec}: {message}"),
                );
            }
        };
        let firmware = profile.firmware();
        let vm = VmConfig {
            qemu,
            profile,
            accel,
            kernel: kernel.vmlinuz.clone(),
            initrd: initrd.clone(),
            memory_mib: options.memory_mib,
            cpus: options.cpus,
            channel_socket: channel_socket_path(&id.index.to_string()),
            firmware,
        };
        let session = Session {
            kernel: id,
            vm: &vm,
            release: &kernel.release,
            program_names: self.units.iter().map(|u| u.name.clone()).collect(),
            timeout: options.timeout,
            console_log: console_log_path(log_dir, id.index, &spec.slug()),
            sink,
        };
        let (mut result, captured) = session.run();
        let _ = std::fs::remove_file(&initrd);
        if captured.len() == self.units.len() {
            result.programs = fold(
                &options.programs,
                &self.names,
                &self.units,
                &result.programs,
                &captured,
            );
            // The session judged the units; judge the folded programs (skips, ignored tests).
            if matches!(
                result.outcome,
                KernelOutcome::Passed | KernelOutcome::Failed
            ) {
                result.outcome = if all_passed(&result.programs) {
                    KernelOutcome::Passed
                } else {
                    KernelOutcome::Failed
                };
            }
        }
        result
    }
}

/// Writes kernel part + run part into one file for `-initrd`.
fn write_initramfs(
    options: &RunOptions,
    programs: &[ResolvedProgram],
    units: &[Unit],
    kernel: &PreparedKernel,
    out: &std::path::Path,
    spec: &str,
) -> Result<(), PrepareError> {
    let io = |action, path: &std::path::Path, source| PrepareError::Io {
        spec: spec.to_string(),
        action,
        path: path.to_path_buf(),
        source,
    };
    let init = crate::guest::init_for(kernel.arch).map_err(|hint| PrepareError::NoGuestInit {
        spec: spec.to_string(),
        arch: kernel.arch.to_string(),
        hint,
    })?;
    let mut job = Job {
        env: options
            .env
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
        ..Job::default()
    };
    let mut part = RunPart::new(init);
    let mut guest_paths = Vec::new();
    for (index, program) in programs.iter().enumerate() {
        let closure = program.closure().map_err(|source| PrepareError::Program {
            spec: spec.to_string(),
            source: Box::new(source),
        })?;
        let guest = program
            .add_to(index, &closure, &mut part)
            .map_err(|source| io("reading", &program.host_path, source))?;
        guest_paths.push(guest);
    }
    for unit in units {
        job.programs.push(Program {
            name: unit.name.clone(),
            path: guest_paths[unit.program].clone().into_bytes(),
            args: unit.args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            timeout_ms: unit
                .timeout
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
        });
    }
    job.modules = options.modules.clone();
    for (host, guest) in &options.files {
        part.add_host_file(&guest.to_string_lossy(), host)
            .map_err(|source| io("reading", host, source))?;
    }
    part.set_job(&job.encode());
    let file = File::create(out).map_err(|source| io("creating", out, source))?;
    let mut writer = BufWriter::new(file);
    let mut kernel_part = File::open(&kernel.kernel_cpio)
        .map_err(|source| io("reading", &kernel.kernel_cpio, source))?;
    std::io::copy(&mut kernel_part, &mut writer).map_err(|source| io("writing", out, source))?;
    part.write(&mut writer)
        .map_err(|source| PrepareError::Cpio {
            spec: spec.to_string(),
            source: source.into(),
        })?;
    writer.flush().map_err(|source| io("writing", out, source))
}

/// A fresh directory for this run's console logs and scratch files; old runs are pruned.
fn run_log_dir(cache_dir: &std::path::Path) -> Result<PathBuf, RunError> {
    const KEEP_RUNS: usize = 20;
    let logs = cache_dir.join("logs");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let dir = logs.join(format!("{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Io {
        action: "creating",
        path: dir.clone(),
        source,
    })?;
    if let Ok(entries) = std::fs::read_dir(&logs) {
        let mut runs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        runs.sort();
        let excess = runs.len().saturating_sub(KEEP_RUNS);
        for old in runs.into_iter().take(excess) {
            let _ = std::fs::remove_dir_all(old);
        }
    }
    Ok(dir)
}

/// How many VMs to run at once by default: one per CPU, but never more guests than fit in the
/// memory available now (each guest's memory plus QEMU's own overhead).
pub fn default_jobs(memory_mib: u32) -> usize {
    const QEMU_OVERHEAD_MIB: u64 = 256;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let available_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map(|kib| kib / 1024);
    let by_memory = match available_mib {
        Some(mib) => {
            usize::try_from(mib / (u64::from(memory_mib) + QEMU_OVERHEAD_MIB)).unwrap_or(usize::MAX)
        }
        None => cpus,
    };
    cpus.min(by_memory).max(1)
}
