//! Live maps in the app's state (no window): settle playback of real t-SNE frames, images
//! joining and leaving a watched map, autosave effects.

mod common;

use image_tsne_live::app::playback::max_distance;
use image_tsne_live::app::protocol::{atlas_plan, AnalyzeJob, GrowJob, JobRequest, Msg, Source};
use image_tsne_live::app::state::{Action, AppState, Effect, JobKind};
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
            if p.iteration.is_multiple_of(5) || p.iteration + 1 == p.iterations {
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
            Effect::StartJob(JobRequest::Analyze(AnalyzeJob { job, .. })) => Some(*job),
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

/// A map of `n` images in clusters, as an analysis leaves it (synthetic features).
fn small_map(n: usize) -> image_tsne_live::map::MapState {
    use image_tsne_live::grid::{GridAssignment, GridShape};
    use image_tsne_live::map::{Frame, MapState};
    use image_tsne_live::pca::PcaBasis;
    let d = 8;
    let features = Array2::from_shape_fn((n, d), |(i, j)| {
        ((i % 3 == j % 3) as u8 as f32) * 2.0 + ((i * 7 + j * 3) % 5) as f32 * 0.1
    });
    let pca = image_tsne_live::pca::pca(features.view(), 4);
    let basis = PcaBasis::from_scores(features.view(), pca.scores.view());
    let embedding: Vec<[f32; 2]> = (0..n)
        .map(|i| {
            let c = (i % 3) as f32 * 4.0;
            [
                c + (i as f32 * 0.37).sin(),
                c * 0.5 + (i as f32 * 0.71).cos(),
            ]
        })
        .collect();
    let frame = Frame::of(&embedding);
    let points: Vec<[f32; 2]> = embedding.iter().map(|&p| frame.apply(p)).collect();
    let shape = GridShape::for_count(n, 1.0);
    let grid = image_tsne_live::grid::assign(
        &points
            .iter()
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect::<Vec<_>>(),
        shape,
        image_tsne_live::grid::Solver::Auto,
        None,
    )
    .unwrap();
    let _: &GridAssignment = &grid;
    MapState {
        paths: paths(n),
        points,
        embedding,
        frame,
        reduced: pca.scores,
        known: vec![true; n],
        basis,
        feature_key: "test".into(),
        preprocess: Default::default(),
        aspect: 1.0,
        grid: Some(grid),
    }
}

#[test]
fn new_images_fly_in_old_ones_stay_removed_ones_leave() {
    let n = 24;
    let mut s = AppState::new([800.0, 600.0]);
    s.settle_seconds = 2.0;
    s.growing.autosave = Some(PathBuf::from("/tmp/never-written.json"));
    s.gallery.set_enabled(true, 0.0);
    let map = small_map(n);
    let job = analysis_until_tsne(&mut s, n);
    s.handle(Msg::TsneDone {
        job,
        points: map.points.clone(),
    });
    let g = map.grid.clone().unwrap();
    s.handle(Msg::Grid {
        job,
        cols: g.shape.cols as u32,
        rows: g.shape.rows as u32,
        cells: g.cells.clone(),
    });
    s.handle(Msg::Map {
        job,
        map: Arc::new(map.clone()),
    });
    s.handle(Msg::Done { job });
    let effects = s.drain_effects();
    // the analysis' own playback ends first
    let mut t = 0.0;
    while s.settling() {
        t += 0.1;
        s.update(t);
    }
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Autosave(r) if r.entries.len() == n && r.map.is_some())),
        "an analysis is autosaved with its map"
    );
    // watching: a new file and a deleted one
    s.set_watch(true);
    assert!(s
        .drain_effects()
        .iter()
        .any(|e| matches!(e, Effect::StartWatch { dir, .. } if dir == &PathBuf::from("/imgs"))));
    let newcomer = PathBuf::from("/imgs/new.png");
    s.handle(Msg::Watched {
        added: vec![newcomer.clone(), PathBuf::from("/imgs/0.png")], // 0.png is on the map
        removed: vec![PathBuf::from("/imgs/5.png")],
    });
    s.update(10.0);
    let request = s
        .drain_effects()
        .into_iter()
        .find_map(|e| match e {
            Effect::StartJob(JobRequest::Grow(GrowJob {
                job,
                add,
                remove,
                map,
                ..
            })) => Some((job, add, remove, map)),
            _ => None,
        })
        .expect("a grow job starts");
    let (job, add, remove, given) = request;
    assert_eq!(
        add,
        vec![newcomer.clone()],
        "images on the map are not added again"
    );
    assert_eq!(remove, vec![5]);
    assert_eq!(s.job.as_ref().map(|j| j.kind), Some(JobKind::Grow));
    // what the worker does: MapState::remove + add
    let mut grown = (*given.expect("the scene's map is given")).clone();
    grown.remove(&remove);
    let feats = Array2::from_shape_fn((1, 8), |(_, j)| (j % 3 == 0) as u8 as f32 * 2.0);
    let report = grown
        .add(
            add.clone(),
            feats.view(),
            &Default::default(),
            None,
            &mut |_, _| ControlFlow::Continue(()),
        )
        .unwrap();
    let before: Vec<[f32; 2]> = s.shown().unwrap().points.clone();
    s.handle(Msg::Grown {
        job,
        map: Arc::new(grown.clone()),
        removed: remove.clone(),
        added: report.added.len(),
        moved: report.grid.map_or(0, |g| g.changed),
    });
    s.handle(Msg::Done { job });
    let scene = s.shown().unwrap().clone();
    assert_eq!(scene.len(), n + 1);
    assert_eq!(scene.paths[n], newcomer);
    assert!(!scene.used[5], "the removed image left the layout");
    assert_eq!(scene.used_count(), n);
    for i in (0..n).filter(|&i| i != 5) {
        assert_eq!(
            scene.points[i].map(f32::to_bits),
            before[i].map(f32::to_bits),
            "old image {i} did not move"
        );
    }
    let effects = s.drain_effects();
    // the atlas was planned for exactly n: a larger one (with room to spare), all cells again
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::CreateScene { plan, .. } if plan.count >= n + 1 + 16)));
    assert!(effects.iter().any(|e| matches!(e, Effect::LoadCells { cells, .. } if cells.len() == n + 1 && cells.contains(&(n, newcomer.clone())))));
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::Visibility { index, visible: true, .. } if *index == n)));
    assert!(effects.iter().any(|e| matches!(e, Effect::Autosave(r) if r.entries.len() == n && r.entries.iter().any(|e| e.path == newcomer))));
    assert!(
        s.status_line(60.0).contains("1 new image joined the map"),
        "{}",
        s.status_line(60.0)
    );
    // it flies in (played back), highlighted, and the tour goes to it next
    assert!(s.settling());
    assert_eq!(s.highlights(), vec![n]);
    assert_eq!(s.gallery.to_visit(), 1);
    let id = scene.id;
    let start = s.displayed_points(id).unwrap();
    let end = scene.points[n];
    let d0 = (start[n][0] - end[0]).hypot(start[n][1] - end[1]);
    assert!(d0 > 0.2, "it starts away from its place: {d0}");
    let mut now = 10.0;
    let mut last = d0;
    let mut hidden = false;
    let mut faded = vec![];
    while s.settling() || now < 13.0 {
        now += 1.0 / 30.0;
        s.update(now);
        let shown = s.displayed_points(id).unwrap();
        for i in (0..n).filter(|&i| i != 5) {
            assert_eq!(
                shown[i], before[i],
                "old image {i} stays put while it flies in"
            );
        }
        let d = (shown[n][0] - end[0]).hypot(shown[n][1] - end[1]);
        assert!(d <= last + 1e-6, "comes closer");
        last = d;
        let effects = s.drain_effects();
        hidden |= effects.iter().any(|e| {
            matches!(
                e,
                Effect::Visibility {
                    index: 5,
                    visible: false,
                    ..
                }
            )
        });
        faded.extend(effects.iter().filter_map(|e| match e {
            Effect::Opacity {
                index: 5, opacity, ..
            } => Some(*opacity),
            _ => None,
        }));
        assert!(now < 20.0);
    }
    assert_eq!(last, 0.0, "arrived");
    assert!(hidden, "the removed image is hidden once it has left");
    assert!(faded.len() >= 10, "it fades out over the frames: {faded:?}");
    assert!(
        faded.windows(2).all(|w| w[1] <= w[0]) && faded[0] > 0.9 && *faded.last().unwrap() < 0.1,
        "from opaque to transparent, never back: {faded:?}"
    );
    assert!(
        s.highlighted().is_some(),
        "still highlighted after the flight"
    );
    s.update(10.0 + image_tsne_live::app::state::HIGHLIGHT_SECONDS + 1.0);
    assert!(s.highlighted().is_none(), "for a few seconds only");
}
