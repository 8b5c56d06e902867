//! The document pipeline against the same steps in OpenCV, on the same 8 MP scenes, in one run.
//!
//! Both sides take the scene's JPEG bytes already in memory and produce the page's JPEG at the
//! same size and quality: decode, page detection (edges, outline, four corners), perspective
//! warp, illumination flattening and contrast, encode. OpenCV is `opencv-python-headless` from
//! PyPI, driven by `benches/opencv_pipeline.py` (the classic Canny → findContours →
//! approxPolyDP → warpPerspective scanner) with its default threads; ours uses rayon on the same
//! cores. Each image is timed three times and the median kept. Peak memory is measured in a
//! separate process per side, over its baseline after loading the images.
//!
//! `cargo bench -p doc-camera --bench vs_opencv [-- SCENES]` (default 12). Goal: faster than
//! OpenCV (ratio > 1).

use doc_camera::scene::seeded;
use docscan::{Options, Render, process};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const WIDTH: u32 = 3264;
const HEIGHT: u32 = 2448;
const REPEAT: usize = 3;

fn main() {
    if let Ok(dir) = std::env::var("VS_OPENCV_CHILD") {
        return child(Path::new(&dir));
    }
    let scenes: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut inputs = Vec::new();
    for i in 0..scenes {
        let path = dir.path().join(format!("scene-{i:03}.jpg"));
        std::fs::write(&path, seeded(i).render_jpeg(WIDTH, HEIGHT)).expect("write scene");
        inputs.push(path);
    }
    let options = Options::default();
    let mut manifest = Vec::new();
    let mut ours = Vec::new();
    for path in &inputs {
        let jpeg = std::fs::read(path).expect("read scene");
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..REPEAT {
            let t = Instant::now();
            let scan = process(&jpeg, &options).expect("page found");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            last = Some(scan);
        }
        let scan = last.expect("ran");
        times.sort_by(f64::total_cmp);
        ours.push(times[REPEAT / 2]);
        manifest.push(json!({
            "input": path,
            "width": scan.width,
            "height": scan.height,
            "quality": scan.jpeg_quality,
            "grey": scan.render == Render::Grey,
            "detect_scale": docscan::detect::detect_factor(WIDTH as usize),
        }));
    }
    let manifest_path = dir.path().join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json"))
        .expect("write manifest");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/opencv_pipeline.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&manifest_path)
        .args(["--repeat", &REPEAT.to_string()])
        .output()
        .expect("run python3");
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        panic!("the OpenCV baseline failed (pip install opencv-python-headless)");
    }
    let cv: Value = serde_json::from_slice(&out.stdout).expect("OpenCV JSON");
    let images = cv["images"].as_array().expect("images");
    println!("scene      grey  ours ms  OpenCV ms");
    for (i, (m, o)) in manifest.iter().zip(&ours).enumerate() {
        let c = images[i]["ms"].as_f64().unwrap_or(f64::NAN);
        println!(
            "scene-{i:03}  {:5}  {o:7.1}  {c:9.1}",
            m["grey"].as_bool().unwrap_or(false)
        );
        assert!(
            images[i]["found"].as_bool().unwrap_or(false),
            "OpenCV found no page in scene {i}"
        );
    }
    let ours_total: f64 = ours.iter().sum();
    let cv_total = cv["total_ms"].as_f64().expect("total");
    let n = ours.len() as f64;
    println!(
        "pipeline per 8 MP frame: ours {:.1} ms, OpenCV {} {:.1} ms ({} threads); OpenCV/ours = {:.2}× (goal > 1)",
        ours_total / n,
        cv["opencv"].as_str().unwrap_or("?"),
        cv_total / n,
        cv["threads"],
        cv_total / ours_total
    );
    let child = Command::new(std::env::current_exe().expect("exe"))
        .env("VS_OPENCV_CHILD", dir.path())
        .output()
        .expect("memory run");
    let mem: Value = serde_json::from_slice(&child.stdout).expect("child JSON");
    let ours_peak =
        mem["peak_rss_kb"].as_f64().unwrap_or(0.0) - mem["baseline_rss_kb"].as_f64().unwrap_or(0.0);
    let cv_peak =
        cv["peak_rss_kb"].as_f64().unwrap_or(0.0) - cv["baseline_rss_kb"].as_f64().unwrap_or(0.0);
    println!(
        "peak memory over baseline: ours {:.0} MB, OpenCV {:.0} MB (ratio {:.2})",
        ours_peak / 1024.0,
        cv_peak / 1024.0,
        cv_peak / ours_peak.max(1.0)
    );
}

/// The memory run: load every scene, note the resident size, process them all, report the peak.
fn child(dir: &Path) {
    let mut jpegs = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    for p in &paths {
        jpegs.push(std::fs::read(p).expect("read"));
    }
    let baseline = status_kb("VmRSS");
    for j in &jpegs {
        process(j, &Options::default()).expect("page");
    }
    println!(
        "{}",
        json!({ "baseline_rss_kb": baseline, "peak_rss_kb": status_kb("VmHWM") })
    );
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim_start_matches(':')
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
