//! `kioskctl scan` and `kioskctl sim camera`: the document camera from the command line.

use clap::{Args, Subcommand};
use doc_camera::autocapture::Verdict;
use doc_camera::scene::{seeded, seeded_turned};
use doc_camera::sim::SimCamera;
use doc_camera::v4l2::V4l2Camera;
use doc_camera::{CaptureError, DocCamera, FrameSource};
use docscan::{Options, Render, Scan, ScanError};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Exit status when the frame holds no page.
const NO_PAGE: i32 = 2;

#[derive(Subcommand)]
pub enum ScanCommand {
    /// Turn one camera frame into a flat, cropped 300 dpi page.
    Process {
        /// The frame (JPEG).
        #[arg(long)]
        input: PathBuf,
        /// Where to write the page (JPEG).
        #[arg(long)]
        output: PathBuf,
        /// Print the corners, size, quality checks and time as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        options: PageArgs,
    },
    /// Watch the camera until a page lies still with no hand over it, then take it.
    Capture {
        /// The camera's V4L2 node.
        #[arg(long, required_unless_present = "simulate")]
        device: Option<PathBuf>,
        /// Use the simulated camera with a page laid under it (for demos).
        #[arg(long)]
        simulate: bool,
        /// Where to write the page (JPEG).
        #[arg(long)]
        output: PathBuf,
        /// Give up after this many seconds without a page.
        #[arg(long, default_value_t = 30)]
        timeout_s: u64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        options: PageArgs,
    },
    /// Join pages (JPEGs from `scan process`) into one PDF, one page each at its real size.
    Pdf {
        /// The pages, in order.
        #[arg(required = true)]
        pages: Vec<PathBuf>,
        /// Where to write the PDF.
        #[arg(long)]
        output: PathBuf,
    },
}

/// How pages are made.
#[derive(Args)]
pub struct PageArgs {
    /// Millimetres the camera's frame covers across its width at the base plate.
    #[arg(long, default_value_t = docscan::DEFAULT_FIELD_WIDTH_MM)]
    field_width_mm: f64,
    /// Largest page JPEG in bytes.
    #[arg(long, default_value_t = Options::default().budget_bytes)]
    budget: usize,
    /// Force colour (photos, ID card copies) or grey; decided by the page otherwise.
    #[arg(long, value_parser = ["colour", "grey"])]
    render: Option<String>,
}

impl PageArgs {
    fn options(&self) -> Options {
        Options {
            field_width_mm: self.field_width_mm,
            budget_bytes: self.budget,
            render: self.render.as_deref().map(|r| {
                if r == "colour" {
                    Render::Colour
                } else {
                    Render::Grey
                }
            }),
            ..Options::default()
        }
    }
}

/// Generated scenes.
#[derive(Args)]
pub struct SimCameraArgs {
    /// Directory to write `scene-NNNN.jpg` and `scene-NNNN.json` (the true corners) into.
    #[arg(long)]
    out: PathBuf,
    /// How many scenes.
    #[arg(long, default_value_t = 10)]
    count: u64,
    /// The first scene of the fixed seeded set.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Frame width (the height is ¾ of it).
    #[arg(long, default_value_t = 3264)]
    width: u32,
    /// Pages laid any way round (the orientation set): each a quarter turn more than the one
    /// before.
    #[arg(long)]
    turned: bool,
}

pub fn scan(command: ScanCommand) -> Result<i32, String> {
    match command {
        ScanCommand::Process {
            input,
            output,
            json,
            options,
        } => {
            let jpeg = std::fs::read(&input).map_err(|e| format!("{}: {e}", input.display()))?;
            let started = Instant::now();
            let result = docscan::process(&jpeg, &options.options());
            finish(result.map_err(CaptureError::from), started, &output, json)
        }
        ScanCommand::Capture {
            device,
            simulate,
            output,
            timeout_s,
            json,
            options,
        } => {
            let deadline = Duration::from_secs(timeout_s);
            if simulate {
                let (sim, control) = SimCamera::new(1, true);
                control.lay_page(2, doc_camera::scene::Faults::default());
                capture(
                    DocCamera::new(sim, options.options()),
                    deadline,
                    &output,
                    json,
                )
            } else {
                let path = device.ok_or("--device is required")?;
                let camera = V4l2Camera::open(&path).map_err(|e| e.to_string())?;
                capture(
                    DocCamera::new(camera, options.options()),
                    deadline,
                    &output,
                    json,
                )
            }
        }
        ScanCommand::Pdf { pages, output } => {
            let mut files = Vec::new();
            for p in &pages {
                let jpeg = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let header = turbojpeg_header(&jpeg)
                    .ok_or_else(|| format!("{}: not a JPEG", p.display()))?;
                files.push((jpeg, header));
            }
            let pdf_pages: Vec<docscan::pdf::PdfPage> = files
                .iter()
                .map(|(jpeg, (w, h, grey))| docscan::pdf::PdfPage {
                    jpeg,
                    width: *w,
                    height: *h,
                    grey: *grey,
                    dpi: 300,
                })
                .collect();
            write(&output, &docscan::pdf::document(&pdf_pages))?;
            Ok(0)
        }
    }
}

fn turbojpeg_header(jpeg: &[u8]) -> Option<(usize, usize, bool)> {
    let picture = docscan::Picture::decode(jpeg).ok()?;
    Some((picture.width(), picture.height(), picture.chroma.is_none()))
}

fn capture<S: FrameSource>(
    mut camera: DocCamera<S>,
    within: Duration,
    output: &Path,
    json: bool,
) -> Result<i32, String> {
    let started = Instant::now();
    camera.start_preview().map_err(|e| e.to_string())?;
    let mut last = None;
    while started.elapsed() < within {
        let preview = camera.preview().map_err(|e| e.to_string())?;
        if last != Some(preview.verdict) {
            tracing::info!(verdict = ?preview.verdict, "preview");
            last = Some(preview.verdict);
        }
        if let Verdict::Capture(_) = preview.verdict {
            let taken = Instant::now();
            return finish(camera.capture(), taken, output, json);
        }
    }
    camera.stop();
    Err(format!("no page laid still within {} s", within.as_secs()))
}

fn finish(
    result: Result<Scan, CaptureError>,
    started: Instant,
    output: &Path,
    json: bool,
) -> Result<i32, String> {
    let scan = match result {
        Ok(scan) => scan,
        Err(CaptureError::Scan(ScanError::NoPage)) => {
            let reason = ScanError::NoPage.to_string();
            if json {
                println!("{}", json!({ "error": "noPage", "reason": reason }));
            }
            eprintln!("kioskctl: {reason}");
            return Ok(NO_PAGE);
        }
        Err(e) => return Err(e.to_string()),
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    write(output, &scan.jpeg)?;
    if json {
        let problems: Vec<_> = scan
            .quality
            .problems()
            .iter()
            .map(|p| json!({ "problem": p, "zh": p.zh(), "en": p.en() }))
            .collect();
        let report = json!({
            "corners": scan.corners.0.iter().map(|p| [round2(p.x), round2(p.y)]).collect::<Vec<_>>(),
            "width": scan.width,
            "height": scan.height,
            "orientation": scan.orientation,
            "quality": scan.quality,
            "problems": problems,
            "render": scan.render,
            "bytes": scan.jpeg.len(),
            "jpegQuality": scan.jpeg_quality,
            "ms": round2(ms),
        });
        println!("{report}");
    } else {
        println!(
            "{}: {}×{} page, {} bytes, {:.0} ms",
            output.display(),
            scan.width,
            scan.height,
            scan.jpeg.len(),
            ms
        );
        for p in scan.quality.problems() {
            println!("  {}", p.zh());
        }
    }
    Ok(0)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    durable_fs::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn sim_camera(args: SimCameraArgs) -> Result<i32, String> {
    durable_fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let (w, h) = (args.width, args.width * 3 / 4);
    for i in args.first..args.first + args.count {
        let scene = if args.turned {
            seeded_turned(i)
        } else {
            seeded(i)
        };
        let name = format!("scene-{i:04}");
        write(
            &args.out.join(format!("{name}.jpg")),
            &scene.render_jpeg(w, h),
        )?;
        let truth = serde_json::to_vec_pretty(&scene.truth(w, h)).map_err(|e| e.to_string())?;
        write(&args.out.join(format!("{name}.json")), &truth)?;
        println!("{}", args.out.join(format!("{name}.jpg")).display());
    }
    Ok(0)
}
