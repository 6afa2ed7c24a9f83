//! The Open Contracting Partnership's own checker, run on the OCDS packages the story tests
//! export (issue 20: 0 validation errors on the shipped SUA workflows' exports).

use procedo_engine::model::Actor;
use procedo_engine::{Engine, InstanceId};
use serde_json::{Value, json};

/// A case's OCDS release package, under the test prefix.
pub async fn package(engine: &Engine, actor: &Actor, id: InstanceId) -> Value {
    engine
        .ocds(
            actor,
            id,
            "ocds-pr0ced",
            "https://procedo.test/api/v1/instances/x/ocds",
        )
        .await
        .expect("an OCDS package")
}

/// Runs the Open Contracting Partnership's own checker (`libcoveocds`, from PyPI) on the
/// package, offline, with the OCDS 1.1.5 standard as a ZIP (`PROCEDO_OCDS_STANDARD_ZIP`, else
/// `/work/ocds/standard-1__1__5.zip`); without either it says SKIPPED.
pub fn checked_by_the_ocp(package: &Value) {
    let zip = std::env::var("PROCEDO_OCDS_STANDARD_ZIP")
        .unwrap_or_else(|_| "/work/ocds/standard-1__1__5.zip".into());
    let tool = std::process::Command::new("libcoveocds")
        .arg("--help")
        .output();
    if tool.is_err() || !std::path::Path::new(&zip).exists() {
        eprintln!(
            "SKIPPED OCDS validation: needs `libcoveocds` (pip install libcoveocds) and the standard ZIP at {zip}"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "procedo-ocds-{}-{}",
        std::process::id(),
        package["releases"].as_array().map_or(0, Vec::len)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("package.json");
    std::fs::write(&file, serde_json::to_vec_pretty(package).expect("json")).expect("write");
    let out = std::process::Command::new("libcoveocds")
        .args(["--standard-zip", &zip, "-s", "1.1", "-o"])
        .arg(dir.join("out"))
        .arg(&file)
        .output()
        .expect("libcoveocds runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "libcoveocds said: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report["validation_errors"], json!([]), "{report:#}");
    assert_eq!(
        report["additional_closed_codelist_values"],
        json!({}),
        "{report:#}"
    );
    assert_eq!(report["version_used"], json!("1.1"));
}

/// Each release's tag and the tender's status in it, in the package's order.
pub fn stages(package: &Value) -> Vec<(&str, &str)> {
    package["releases"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["tag"][0].as_str().unwrap_or_default(),
                r["tender"]["status"].as_str().unwrap_or_default(),
            )
        })
        .collect()
}
