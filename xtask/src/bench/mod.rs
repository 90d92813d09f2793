//! `cargo xtask bench`: kmatrix's wall time against the bare-QEMU floor and the alternatives.
//!
//! Single-kernel cases (all under TCG, same kernel, same QEMU command line):
//!
//! * `kmatrix` — `kmatrix run --accel tcg --kernel K -- /bin/true` with a warm cache;
//! * `floor` — a bare QEMU boot of the same `vmlinuz` with only the trivial init;
//! * `floor-qboot` — the same with QEMU's minimal qboot firmware instead of SeaBIOS (an idea
//!   for cutting the time before the kernel starts; skipped when QEMU does not ship it);
//! * `pipeline` — the starting point: every module decompressed into one uncompressed archive
//!   with the trivial init, rebuilt on every run (the build is inside the timing);
//! * `uncompressed`, `zstd`, `gzip`, `xz` — kmatrix's cached kernel part, as is or compressed
//!   as a whole, followed by the trivial init archive (boot time only; images built beforehand).
//!
//! Matrix cases: four kernels with `--jobs 1` and with kmatrix's default `--jobs`.

mod archives;
mod guest_init;
mod kmatrix;
mod measure;
mod qemu;
mod report;

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::BenchArgs;
use archives::Compression;
use kmatrix::Kmatrix;
use measure::{Case, Sample, run_round_robin};
use qemu::BareBoot;
use report::{Environment, mib};

/// The matrix when no `--matrix-kernel` is given: four amd64 kernels, so that one `/bin/true`
/// runs on all of them (an arm64 kernel would refuse the host's x86_64 program).
const DEFAULT_MATRIX: [&str; 4] = ["debian:5.10", "debian:6.1", "debian:6.12", "debian:7.2"];

/// Runs the benchmark; `Ok(false)` when some case failed (the report says which).
pub fn run(args: BenchArgs) -> anyhow::Result<bool> {
    let workspace = workspace_root()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let work_dir = target.join("bench-work");
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let load_start = report::load_average();
    if !args.no_build {
        kmatrix::build_release(&workspace)?;
    }
    let km = Kmatrix {
        binary: target.join("release/kmatrix"),
        cache_dir: args
            .cache_dir
            .clone()
            .unwrap_or_else(|| target.join("bench-cache")),
        work_dir: work_dir.clone(),
    };

    eprintln!(
        "xtask: preparing {} in {}",
        args.kernel,
        km.cache_dir.display()
    );
    let kernels = [args.kernel.clone()];
    let first = km
        .run_true(&kernels, None)
        .with_context(|| format!("kmatrix could not run /bin/true on {}", args.kernel))?;
    let release = first.releases.first().cloned().unwrap_or_default();
    let kernel_dir = km.kernel_dir(&release)?;
    let vmlinuz = kernel_dir.join("vmlinuz");
    let modules_dir = kernel_dir.join("modules").join(&release);
    let kernel_part_path = kernel_dir.join("kernel.cpio");
    let kernel_part = std::fs::read(&kernel_part_path)
        .with_context(|| format!("reading {}", kernel_part_path.display()))?;

    let init_path = guest_init::build(&workspace, &work_dir)?;
    let init =
        std::fs::read(&init_path).with_context(|| format!("reading {}", init_path.display()))?;
    let init_archive = guest_init::archive(&init)?;
    let init_archive_path = work_dir.join("init.cpio");
    std::fs::write(&init_archive_path, &init_archive)
        .with_context(|| format!("writing {}", init_archive_path.display()))?;

    let floor = BareBoot {
        kernel: vmlinuz.clone(),
        initrd: init_archive_path.clone(),
        expect_modules: false,
        firmware: None,
    };
    let pipeline_path = work_dir.join("pipeline.cpio");
    let pipeline = BareBoot {
        kernel: vmlinuz.clone(),
        initrd: pipeline_path.clone(),
        expect_modules: true,
        firmware: None,
    };
    let pipeline_size = Cell::new(0u64);
    let pipeline_builds = RefCell::new(Vec::new());
    let mut single = vec![
        Case::new(
            "kmatrix",
            "kmatrix, warm cache",
            String::new(),
            Box::new(|| km.run_true(&kernels, None).map(|outcome| outcome.sample)),
        ),
        Case::new(
            "floor",
            "floor: bare QEMU, trivial init",
            format!("initramfs {}", mib(init_archive.len() as u64)),
            Box::new(|| floor.run()),
        ),
        Case::new(
            "pipeline",
            "starting point: whole tree, rebuilt",
            String::new(),
            Box::new(|| {
                let started = Instant::now();
                let size = archives::write_pipeline_archive(
                    &modules_dir,
                    &release,
                    &init,
                    &pipeline_path,
                )?;
                pipeline_size.set(size);
                pipeline_builds.borrow_mut().push(started.elapsed());
                let boot = pipeline.run()?;
                Ok(Sample {
                    wall: started.elapsed(),
                    ..boot
                })
            }),
        ),
    ];
    let qboot = Path::new(qemu::QBOOT);
    let floor_qboot = BareBoot {
        firmware: Some(qboot.to_path_buf()),
        ..floor.clone()
    };
    if qboot.is_file() {
        // Next to the floor it is compared with.
        single.insert(
            2,
            Case::new(
                "floor-qboot",
                "floor with qboot firmware",
                format!("as the floor, plus `-bios {}`", qboot.display()),
                Box::new(move || floor_qboot.run()),
            ),
        );
    }
    for compression in Compression::ALL {
        let image = work_dir.join(format!("kernel-part-{}.img", compression.key()));
        eprintln!("xtask: writing {}", image.display());
        let size =
            archives::write_kernel_part_image(&kernel_part, compression, &init_archive, &image)?;
        let boot = BareBoot {
            kernel: vmlinuz.clone(),
            initrd: image,
            expect_modules: true,
            firmware: None,
        };
        single.push(Case::new(
            compression.key(),
            format!("kernel part {} + init", compression.key()),
            format!("{}: kernel part {}", compression.settings(), mib(size)),
            Box::new(move || boot.run()),
        ));
    }
    eprintln!("xtask: single-kernel cases on {release}");
    run_round_robin(&mut single, args.runs);
    if let Some(case) = single.iter_mut().find(|c| c.key == "pipeline") {
        // The warm-up's build is not a sample.
        let builds = pipeline_builds.borrow().iter().skip(1).copied().collect();
        case.note = format!(
            "archive build + boot; archive {} (modules decompressed), built in {} (median)",
            mib(pipeline_size.get()),
            measure::median(builds).map_or_else(|| "?".into(), report::secs)
        );
    }
    if let Some(case) = single.iter_mut().find(|c| c.key == "kmatrix") {
        case.note = format!("kernel part {}", mib(kernel_part.len() as u64));
    }

    let matrix_kernels: Vec<String> = if args.matrix_kernels.is_empty() {
        DEFAULT_MATRIX.iter().map(|s| s.to_string()).collect()
    } else {
        args.matrix_kernels.clone()
    };
    let matrix_releases = RefCell::new(Vec::new());
    let mut matrix = Vec::new();
    if !args.no_matrix {
        matrix.push(Case::new(
            "jobs1",
            "matrix, --jobs 1",
            String::new(),
            Box::new(|| km.run_true(&matrix_kernels, Some(1)).map(|o| o.sample)),
        ));
        matrix.push(Case::new(
            "jobs-default",
            "matrix, default --jobs",
            format!("{} CPUs", cpus()),
            Box::new(|| {
                let outcome = km.run_true(&matrix_kernels, None)?;
                *matrix_releases.borrow_mut() = outcome.releases;
                Ok(outcome.sample)
            }),
        ));
        eprintln!("xtask: matrix cases on {}", matrix_kernels.join(" "));
        run_round_robin(&mut matrix, args.matrix_runs);
    }

    let env = Environment {
        cpus: cpus(),
        qemu: qemu::version()?,
        host_kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        load_start,
        load_end: report::load_average(),
        kernel: format!("{} ({release})", args.kernel),
        matrix: describe_matrix(&matrix_kernels, &matrix_releases.borrow(), args.no_matrix),
        runs: args.runs,
        matrix_runs: args.matrix_runs,
    };
    let groups: [(&str, &[Case<'_>]); 2] = [
        ("One kernel, `/bin/true` (wall time)", &single),
        ("Four-kernel matrix, `/bin/true` (wall time)", &matrix),
    ];
    let text = report::render(&env, &groups);
    println!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    }
    // The large scratch images are not worth keeping.
    let _ = std::fs::remove_file(&pipeline_path);
    for compression in Compression::ALL {
        let _ =
            std::fs::remove_file(work_dir.join(format!("kernel-part-{}.img", compression.key())));
    }
    Ok(groups
        .iter()
        .all(|(_, cases)| cases.iter().all(|c| c.failure.is_none())))
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> anyhow::Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("the xtask crate has no parent directory")
}

/// CPUs available to this process.
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// "spec (release), …" for the report.
fn describe_matrix(specs: &[String], releases: &[String], skipped: bool) -> String {
    if skipped {
        return String::new();
    }
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| match releases.get(i) {
            Some(release) => format!("{spec} ({release})"),
            None => spec.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
