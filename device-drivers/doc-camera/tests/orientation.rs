//! Pages laid sideways and upside down come out upright: a seeded set of scenes, each page laid
//! a quarter turn more than the one before, through the whole pipeline.

use doc_camera::scene::{PageKind, seeded_turned};
use docscan::{Options, process};
use rayon::prelude::*;

/// 2 MP frames: the orientation is read from the detection copy, which is the same size as an
/// 8 MP frame's, and the test runs four times faster.
const WIDTH: u32 = 1632;
const HEIGHT: u32 = 1224;

struct Outcome {
    seed: u64,
    kind: PageKind,
    laid: u8,
    turns: u8,
    sure: bool,
    error: f64,
}

#[test]
fn pages_laid_any_way_round_come_out_upright() {
    let count: u64 = std::env::var("SCENES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let outcomes: Vec<Outcome> = (0..count)
        .into_par_iter()
        .map(|i| {
            let scene = seeded_turned(i);
            let laid = scene.turns;
            let jpeg = scene.render_jpeg(WIDTH, HEIGHT);
            let truth = scene.corners(WIDTH, HEIGHT);
            let scan = process(&jpeg, &Options::default()).expect("page found");
            let error = scan
                .corners
                .0
                .iter()
                .zip(&truth.0)
                .map(|(a, b)| a.dist(*b))
                .sum::<f64>()
                / 4.0
                / truth.diagonal();
            Outcome {
                seed: scene.seed,
                kind: scene.kind,
                laid,
                turns: scan.orientation.turns,
                sure: scan.orientation.sure,
                error,
            }
        })
        .collect();
    // Laid `laid` quarters clockwise, the page needs the rest of a full turn.
    let right = |o: &Outcome| o.sure && u32::from(o.turns) == (4 - u32::from(o.laid)) % 4;
    for o in outcomes.iter().filter(|o| !right(o)) {
        eprintln!(
            "seed {} {:?} laid {}: turns {} sure {}, corner error {:.2}%",
            o.seed,
            o.kind,
            o.laid,
            o.turns,
            o.sure,
            o.error * 100.0
        );
    }
    let text: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| matches!(o.kind, PageKind::Text | PageKind::Form))
        .collect();
    let text_right = text.iter().filter(|o| right(o)).count();
    let all_right = outcomes.iter().filter(|o| right(o)).count();
    let wrong = outcomes.iter().filter(|o| o.sure && !right(o)).count();
    eprintln!(
        "upright: {text_right}/{} text and form pages, {all_right}/{} in all; turned wrongly: {wrong}",
        text.len(),
        outcomes.len()
    );
    // Turned right, the corners are the page's own, from its top-left.
    for o in outcomes.iter().filter(|o| right(o)) {
        assert!(o.error < 0.01, "seed {}: corner error {}", o.seed, o.error);
    }
    assert!(
        text_right * 100 >= text.len() * 95,
        "text and form pages upright: {text_right} of {}",
        text.len()
    );
    assert!(
        all_right * 100 >= outcomes.len() * 85,
        "pages upright: {all_right} of {}",
        outcomes.len()
    );
    assert!(
        wrong * 100 <= outcomes.len(),
        "pages turned the wrong way: {wrong}"
    );
}
