//! `kioskctl sim camera` and `kioskctl scan process` as operations scripts use them.

use std::process::Command;

fn kioskctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kioskctl"))
}

/// `kioskctl scan process --json` of `input` into `output`: its report.
fn scan_process(input: &std::path::Path, output: &std::path::Path) -> serde_json::Value {
    let run = kioskctl()
        .args(["scan", "process", "--json", "--input"])
        .arg(input)
        .arg("--output")
        .arg(output)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}

/// Each corner `scan process` reported within 5 pixels of the scene's true one, in order.
fn assert_corners_within_5_px(report: &serde_json::Value, truth: &serde_json::Value) {
    for (got, want) in report["corners"]
        .as_array()
        .unwrap()
        .iter()
        .zip(truth["corners"].as_array().unwrap())
    {
        let d = (got[0].as_f64().unwrap() - want[0].as_f64().unwrap())
            .hypot(got[1].as_f64().unwrap() - want[1].as_f64().unwrap());
        assert!(d < 5.0, "{got} vs {want}");
    }
}

#[test]
fn generated_scenes_are_processed_to_their_true_corners_and_no_page_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let scenes = dir.path().join("scenes");
    let ok = kioskctl()
        .args(["sim", "camera", "--count", "2", "--out"])
        .arg(&scenes)
        .status()
        .unwrap();
    assert!(ok.success());
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scenes.join("scene-0000.json")).unwrap()).unwrap();
    let out = dir.path().join("page.jpg");
    let report = scan_process(&scenes.join("scene-0000.jpg"), &out);
    assert_corners_within_5_px(&report, &truth);
    assert_eq!(
        (report["width"].as_u64(), report["height"].as_u64()),
        (Some(2480), Some(3508))
    );
    assert_eq!(report["quality"]["complete"], true);
    assert!(report["ms"].as_f64().unwrap() > 0.0);
    let page = std::fs::read(&out).unwrap();
    assert_eq!(&page[..2], &[0xFF, 0xD8]);
    assert_eq!(&page[13..16], &[1, 1, 44], "300 dpi in the JFIF header");

    // A frame with no page: exit 2 and the reason.
    let empty = dir.path().join("empty.jpg");
    std::fs::write(
        &empty,
        doc_camera::scene::Scene::generate(5, Default::default())
            .without_page()
            .render_jpeg(800, 600),
    )
    .unwrap();
    let run = kioskctl()
        .args(["scan", "process", "--json", "--input"])
        .arg(&empty)
        .arg("--output")
        .arg(dir.path().join("x.jpg"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no page"));
    assert!(!dir.path().join("x.jpg").exists());
}

#[test]
fn a_page_laid_upside_down_comes_out_upright() {
    let dir = tempfile::tempdir().unwrap();
    let scenes = dir.path().join("scenes");
    // Scene 2 of the orientation set is laid upside down.
    let ok = kioskctl()
        .args([
            "sim", "camera", "--turned", "--first", "2", "--count", "1", "--width", "1632",
        ])
        .arg("--out")
        .arg(&scenes)
        .status()
        .unwrap();
    assert!(ok.success());
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scenes.join("scene-0002.json")).unwrap()).unwrap();
    assert_eq!(truth["turns"], 2);
    let report = scan_process(&scenes.join("scene-0002.jpg"), &dir.path().join("page.jpg"));
    assert_eq!(
        report["orientation"],
        serde_json::json!({"turns": 2, "sure": true})
    );
    // The corners start from the page's own top-left, which lies at the bottom right.
    assert_corners_within_5_px(&report, &truth);
    assert_eq!(
        (report["width"].as_u64(), report["height"].as_u64()),
        (Some(2480), Some(3508))
    );
}
