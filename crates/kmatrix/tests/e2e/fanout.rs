//! Parallel VMs, CI matrices, shards and merged reports.

use crate::harness::{KERNEL, kmatrix, run};

#[test]
fn parallel_run_gives_the_same_results_as_a_sequential_one() {
    let outcomes = |jobs: &str| {
        let done = run(&[
            "--jobs",
            jobs,
            "-k",
            "debian:5.10",
            "-k",
            KERNEL,
            "-k",
            "debian:6.12",
            "--",
            "/bin/uname",
            "-r",
        ]);
        assert_eq!(done.code, Some(0), "{done:?}");
        let kernels = done.json.as_ref().unwrap()["kernels"]
            .as_array()
            .unwrap()
            .clone();
        kernels
            .iter()
            .map(|k| {
                let program = &k["programs"][0];
                (
                    k["spec"].clone(),
                    k["release"].clone(),
                    k["outcome"].clone(),
                    program["outcome"].clone(),
                    program["exit_code"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let sequential = outcomes("1");
    assert_eq!(sequential.len(), 3);
    assert_eq!(outcomes("3"), sequential);
}

#[test]
fn matrix_prints_the_kernels_and_shards_for_a_ci_matrix() {
    let output = kmatrix()
        .args(["matrix", "--format", "github"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "kernel": ["debian:5.10", "debian:6.1", "debian:6.12"] })
    );
    let output = kmatrix()
        .args([
            "matrix",
            "--shards",
            "2",
            "-k",
            "debian:6.1",
            "-k",
            "debian:6.12",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json, serde_json::json!({ "shard": ["1/2", "2/2"] }));
}

#[test]
fn shard_reports_merge_into_the_unsharded_report() {
    let matrix = ["-k", "debian:5.10", "-k", KERNEL, "-k", "debian:6.12"];
    let essentials = |report: &serde_json::Value| {
        report["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                let programs: Vec<_> = k["programs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        (
                            p["name"].clone(),
                            p["outcome"].clone(),
                            p["exit_code"].clone(),
                        )
                    })
                    .collect();
                (
                    k["index"].clone(),
                    k["spec"].clone(),
                    k["release"].clone(),
                    k["outcome"].clone(),
                    programs,
                )
            })
            .collect::<Vec<_>>()
    };
    let mut whole_args = matrix.to_vec();
    whole_args.extend(["--", "/bin/uname", "-r"]);
    let whole = run(&whole_args);
    assert_eq!(whole.code, Some(0), "{whole:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut shard_reports = Vec::new();
    for shard in ["2/2", "1/2"] {
        let mut args = matrix.to_vec();
        args.extend(["--shard", shard, "--", "/bin/uname", "-r"]);
        let done = run(&args);
        assert_eq!(done.code, Some(0), "{done:?}");
        let path = dir.path().join(format!("shard-{}.json", &shard[..1]));
        std::fs::write(
            &path,
            serde_json::to_vec(done.json.as_ref().unwrap()).unwrap(),
        )
        .unwrap();
        shard_reports.push(path);
    }
    let merged_json = dir.path().join("merged.json");
    let output = kmatrix()
        .args(["report", "merge", "--json"])
        .arg(&merged_json)
        .args(&shard_reports)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let merged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&merged_json).unwrap()).unwrap();
    assert_eq!(
        essentials(&merged),
        essentials(whole.json.as_ref().unwrap())
    );
}
