//! The pipeline on 200 seeded 8 MP scenes whose true corners are known.

use doc_camera::scene::seeded as scene;
use docscan::{Options, ScanError, process};
use rayon::prelude::*;

const WIDTH: u32 = 3264;
const HEIGHT: u32 = 2448;

struct Outcome {
    seed: u64,
    error: Option<f64>,
    sharp: bool,
    glare: bool,
    blurred_truth: bool,
    glare_truth: bool,
    /// Turned from how it was laid (every page of this set is laid upright).
    turned: bool,
}

#[test]
fn corners_within_one_percent_of_the_diagonal_on_95_percent_of_200_scenes() {
    let count: u64 = std::env::var("SCENES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let outcomes: Vec<Outcome> = (0..count)
        .into_par_iter()
        .map(|i| {
            let s = scene(i);
            let jpeg = s.render_jpeg(WIDTH, HEIGHT);
            let truth = s.corners(WIDTH, HEIGHT);
            let result = process(&jpeg, &Options::default());
            let turned = result.as_ref().is_ok_and(|s| s.orientation.turns != 0);
            let (error, sharp, glare) = match &result {
                Ok(scan) => {
                    let mean = scan
                        .corners
                        .0
                        .iter()
                        .zip(&truth.0)
                        .map(|(a, b)| a.dist(*b))
                        .sum::<f64>()
                        / 4.0;
                    (
                        Some(mean / truth.diagonal()),
                        scan.quality.sharp,
                        scan.quality.glare,
                    )
                }
                Err(ScanError::NoPage) => (None, true, false),
                Err(e) => panic!("scene {i}: {e}"),
            };
            Outcome {
                seed: s.seed,
                error,
                sharp,
                glare,
                blurred_truth: s.faults.blur > 0.0,
                glare_truth: s.faults.glare,
                turned,
            }
        })
        .collect();
    let good = outcomes
        .iter()
        .filter(|o| o.error.is_some_and(|e| e < 0.01))
        .count();
    let mut errors: Vec<f64> = outcomes.iter().filter_map(|o| o.error).collect();
    errors.sort_by(f64::total_cmp);
    eprintln!(
        "{good}/{} scenes within 1% of the diagonal; median error {:.4}%, worst {:.3}%",
        outcomes.len(),
        errors.get(errors.len() / 2).copied().unwrap_or(f64::NAN) * 100.0,
        errors.last().copied().unwrap_or(f64::NAN) * 100.0
    );
    for o in &outcomes {
        if !o.error.is_some_and(|e| e < 0.01)
            || o.sharp == o.blurred_truth
            || o.glare != o.glare_truth
        {
            eprintln!(
                "seed {}: error {:?} sharp {} (blurred {}) glare {} (truth {})",
                o.seed, o.error, o.sharp, o.blurred_truth, o.glare, o.glare_truth
            );
        }
    }
    assert!(
        good * 100 >= outcomes.len() * 95,
        "{good} of {} within 1%",
        outcomes.len()
    );
    let found: Vec<&Outcome> = outcomes.iter().filter(|o| o.error.is_some()).collect();
    let missed_blur = found.iter().filter(|o| o.blurred_truth && o.sharp).count();
    let false_blur = found
        .iter()
        .filter(|o| !o.blurred_truth && !o.sharp)
        .count();
    let missed_glare = found.iter().filter(|o| o.glare_truth && !o.glare).count();
    let false_glare = found.iter().filter(|o| !o.glare_truth && o.glare).count();
    eprintln!(
        "blur missed {missed_blur}, false {false_blur}; glare missed {missed_glare}, false {false_glare}"
    );
    assert_eq!(missed_blur, 0, "every blurred scene is flagged");
    assert_eq!(missed_glare, 0, "every glared scene is flagged");
    assert!(
        false_blur + false_glare <= found.len() / 50,
        "at most 2% false alarms"
    );
    let turned: Vec<u64> = outcomes
        .iter()
        .filter(|o| o.turned)
        .map(|o| o.seed)
        .collect();
    assert!(turned.is_empty(), "upright pages turned: {turned:?}");
}
