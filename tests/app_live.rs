//! Live maps in the app's state (no window): settle playback of real t-SNE frames, images
//! joining and leaving a watched map, autosave effects.

mod common;

use image_tsne_live::app::playback::max_distance;
use image_tsne_live::app::state::{Action, AppState, Effect, JobKind, Source};
use image_tsne_live::app::worker::{atlas_plan, JobRequest, Msg};
use image_tsne_live::layout_io::normalize_points;
use image_tsne_live::tsne::{self, Phase, TsneParams};
use ndarray::Array2;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

fn paths(n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| PathBuf::from(format!("/imgs/{i}.png")))
        .collect()
}

/// Real t-SNE frames (every 5th iteration, normalised as the workers send them) of `n` points
/// in 4 blobs.
fn real_frames(n: usize) -> Vec<(usize, usize, Vec<[f32; 2]>)> {
    let data = Array2::from_shape_fn((n, 10), |(i, j)| {
        let blob = (i % 4) as f32;
        blob * 3.0 * ((j % 4 == i % 4) as u8 as f32) + ((i * 31 + j * 17) % 13) as f32 * 0.05
    });
    let params = TsneParams {
        perplexity: 20.0,
        iterations: 400,
        ..TsneParams::default()
    };
    let mut frames = vec![];
    tsne::tsne(data.view(), &params, &mut |p: &tsne::Progress| {
        if let Phase::Optimize = p.phase {
            if p.iteration % 5 == 0 || p.iteration + 1 == p.iterations {
                let raw: Vec<[f64; 2]> = p
                    .embedding
                    .iter()
                    .map(|q| [q[0] as f64, q[1] as f64])
                    .collect();
                frames.push((p.iteration, p.iterations, normalize_points(&raw)));
            }
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    frames
}

/// Start an analysis of `n` images and feed it up to its features; returns the job id.
fn analysis_until_tsne(s: &mut AppState, n: usize) -> u64 {
    s.act(Action::Analyze(PathBuf::from("/imgs")));
    let job = s
        .drain_effects()
        .iter()
        .find_map(|e| match e {
            Effect::StartJob(JobRequest::Analyze { job, .. }) => Some(*job),
            _ => None,
        })
        .unwrap();
    s.handle(Msg::Scanned {
        job,
        paths: paths(n),
        source: Source::Folder("/imgs".into()),
        plan: atlas_plan(n).unwrap(),
    });
    s.handle(Msg::Features {
        job,
        features: Arc::new(Array2::zeros((n, 4))),
        rows: (0..n).collect(),
    });
    job
}

fn positions_uploaded(s: &mut AppState) -> bool {
    s.drain_effects()
        .iter()
        .any(|e| matches!(e, Effect::Positions { .. }))
}

#[test]
fn settle_playback_is_eased_monotone_and_without_jumps() {
    let n = 200;
    let frames = real_frames(n);
    let mut s = AppState::new([800.0, 600.0]);
    assert_eq!(s.settle_seconds, 4.0, "the default");
    let job = analysis_until_tsne(&mut s, n);
    let spiral = s.displayed_points(s.shown().unwrap().id).unwrap();
    let id = s.shown().unwrap().id;
    // the whole run arrives within a few frames (as fast as our t-SNE computes)
    let fps = 60.0;
    let mut now = 1.0;
    let chunk = frames.len() / 3 + 1;
    let mut shown = vec![spiral.clone()];
    for part in frames.chunks(chunk) {
        for (it, its, pts) in part {
            s.handle(Msg::TsneFrame {
                job,
                iteration: *it,
                iterations: *its,
                points: pts.clone(),
            });
        }
        s.update(now);
        now += 1.0 / fps;
        shown.push(s.displayed_points(id).unwrap());
    }
    let last = frames.last().unwrap().2.clone();
    s.handle(Msg::TsneDone {
        job,
        points: last.clone(),
    });
    assert_eq!(
        s.shown().unwrap().points,
        last,
        "the scene holds the result at once"
    );
    while s.settling() {
        assert!(now < 30.0, "the playback ends");
        s.update(now);
        assert!(positions_uploaded(&mut s), "each frame uploads the sample");
        shown.push(s.displayed_points(id).unwrap());
        now += 1.0 / fps;
    }
    let seconds = shown.len() as f64 / fps;
    assert!((3.5..5.0).contains(&seconds), "played over ~4 s: {seconds}");
    assert_eq!(shown.last().unwrap(), &last, "ends exactly on the result");
    // no jump: every displayed frame moves every image by at most a small bound, also from
    // the spiral into the first frame (which is far from it)
    let first_jump = max_distance(&spiral, &frames[0].2);
    assert!(
        first_jump > 0.2,
        "the spiral is far from the first frame: {first_jump}"
    );
    let jumps: Vec<f32> = shown
        .windows(2)
        .map(|w| max_distance(&w[0], &w[1]))
        .collect();
    let worst = jumps.iter().copied().fold(0.0, f32::max);
    // the bound by design: the run's arc (sum of each computed frame's largest move) spread
    // over the duration at most MAX_SPEED times faster than even
    let mut arc = max_distance(&spiral, &frames[0].2) as f64;
    for w in frames.windows(2) {
        arc += max_distance(&w[0].2, &w[1].2) as f64;
    }
    let bound = image_tsne_live::app::playback::MAX_SPEED * arc / 4.0 / fps;
    eprintln!("arc {arc:.2}, largest displayed move {worst:.3}, bound {bound:.3}");
    assert!(
        f64::from(worst) <= bound * 1.01,
        "largest move between displayed frames: {worst} > {bound}"
    );
    // and in absolute terms, well below a jump (the raw frames move images by up to {first_jump})
    assert!(
        worst < 0.2,
        "largest move between displayed frames: {worst}"
    );
    // eased: it starts and ends slowly
    let mean = jumps.iter().sum::<f32>() / jumps.len() as f32;
    assert!(
        jumps[1] < mean * 0.3,
        "starts slowly: {} vs mean {mean}",
        jumps[1]
    );
    assert!(jumps[jumps.len() - 2] < mean * 0.3, "ends slowly");
    // monotone in time: displayed frames are ordered along the run — the distance to the
    // result never grows by more than noise
    let to_end: Vec<f32> = shown
        .iter()
        .map(|p| image_tsne_live::app::playback::mean_distance(p, &last) as f32)
        .collect();
    assert!(to_end[0] > 0.1);
    assert!(*to_end.last().unwrap() == 0.0);
}

#[test]
fn settle_seconds_zero_shows_frames_as_computed() {
    let n = 100;
    let frames = real_frames(n);
    let mut s = AppState::new([800.0, 600.0]);
    s.settle_seconds = 0.0;
    let job = analysis_until_tsne(&mut s, n);
    let id = s.shown().unwrap().id;
    s.drain_effects();
    for (it, its, pts) in &frames {
        s.handle(Msg::TsneFrame {
            job,
            iteration: *it,
            iterations: *its,
            points: pts.clone(),
        });
        assert!(positions_uploaded(&mut s), "uploaded at once");
        assert_eq!(&s.displayed_points(id).unwrap(), pts);
        assert!(!s.settling());
    }
    assert_eq!(s.job.as_ref().map(|j| j.kind), Some(JobKind::Analyze));
}
