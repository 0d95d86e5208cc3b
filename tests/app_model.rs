//! The live app's model without a window: feed it keys, GUI actions and background-job
//! messages, check the state transitions (toggle, cancel, load, save, live t-SNE, dialogs
//! fallback) — and once with real worker threads analysing real images.

mod common;

use image_tsne_live::app::protocol::{
    atlas_plan, AnalyzeJob, DialogKind, GridCells, JobRequest, LoadJob, Msg, RetsneJob, Source,
};
use image_tsne_live::app::state::{Action, AppState, Effect, JobKind};
use image_tsne_live::app::worker::Workers;
use image_tsne_live::app::{action_for_char, action_for_key};
use image_tsne_live::cache::Cache;
use image_tsne_live::layout_io;
use image_tsne_live::progress::Stage;
use nannou::winit::event::VirtualKeyCode as Key;
use ndarray::Array2;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn paths(n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| PathBuf::from(format!("/imgs/{i}.png")))
        .collect()
}

/// A thumbnail prepared for an atlas, as the workers send them.
fn cell(w: u32, h: u32) -> image_tsne_live::render::PreparedCell {
    let plan = atlas_plan(16).unwrap();
    image_tsne_live::render::prepare_cell(&plan, &image::RgbaImage::new(w, h)).unwrap()
}

fn scanned(job: u64, n: usize, source: Source) -> Msg {
    Msg::Scanned {
        job,
        paths: paths(n),
        source,
        plan: atlas_plan(n).unwrap(),
    }
}

fn press(state: &mut AppState, key: Key) {
    state.user_input();
    if let Some(a) = action_for_key(key, false) {
        state.act(a);
    }
}

/// Start an analysis and return its job id.
fn start_analysis(state: &mut AppState, dir: &str) -> u64 {
    state.act(Action::Analyze(PathBuf::from(dir)));
    let effects = state.drain_effects();
    let job = effects
        .iter()
        .find_map(|e| match e {
            Effect::StartJob(JobRequest::Analyze(AnalyzeJob { job, .. })) => Some(*job),
            _ => None,
        })
        .expect("an analysis job is started");
    assert_eq!(state.job.as_ref().map(|j| j.kind), Some(JobKind::Analyze));
    job
}

/// Feed a whole successful analysis of `n` images (image `skip` undecodable).
fn finish_analysis(state: &mut AppState, job: u64, n: usize, skip: Option<usize>) {
    state.handle(scanned(job, n, Source::Folder("/imgs".into())));
    state.handle(Msg::Stage {
        job,
        stage: Stage::Features,
        total: n as u64,
    });
    for i in 0..n {
        if Some(i) == skip {
            state.handle(Msg::Missing { job, index: i });
        } else {
            state.handle(Msg::Thumb {
                job,
                index: i,
                cell: cell(2, 1),
            });
        }
        state.handle(Msg::Advance {
            job,
            stage: Stage::Features,
            done: i as u64 + 1,
        });
    }
    let rows: Vec<usize> = (0..n).filter(|i| Some(*i) != skip).collect();
    let m = rows.len();
    state.handle(Msg::Features {
        job,
        features: Arc::new(Array2::zeros((m, 4))),
        rows,
    });
    let frame: Vec<[f32; 2]> = (0..m).map(|i| [i as f32 / m as f32, 0.5]).collect();
    state.handle(Msg::TsneFrame {
        job,
        iteration: 5,
        iterations: 1000,
        points: frame.clone(),
    });
    let done: Vec<[f32; 2]> = (0..m).map(|i| [0.5, i as f32 / m as f32]).collect();
    state.handle(Msg::TsneDone { job, points: done });
    let cols = (m as f64).sqrt().ceil() as u32;
    let cells: Vec<[u32; 2]> = (0..m as u32).map(|i| [i % cols, i / cols]).collect();
    state.handle(Msg::Grid {
        job,
        cols,
        rows: m.div_ceil(cols as usize) as u32,
        cells,
    });
    state.handle(Msg::Done { job });
}

#[test]
fn analysis_streams_in_then_g_glides_to_the_grid() {
    let mut s = AppState::new([800.0, 600.0]);
    let job = start_analysis(&mut s, "/imgs");
    assert!(s.shown().is_none());
    s.handle(scanned(job, 5, Source::Folder("/imgs".into())));
    let fx = s.drain_effects();
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::CreateScene { plan, .. } if plan.count == 5)));
    assert_eq!(
        s.shown().map(|sc| sc.len()),
        Some(5),
        "the new scene shows while it is built"
    );
    // thumbnails appear as they are decoded
    s.handle(Msg::Thumb {
        job,
        index: 3,
        cell: cell(4, 2),
    });
    let fx = s.drain_effects();
    assert!(matches!(fx.as_slice(), [Effect::Thumb { index: 3, .. }]));
    assert_eq!(s.shown().unwrap().aspects[3], 2.0);
    // live t-SNE frames move the quads (positions upload only)
    s.handle(Msg::Features {
        job,
        features: Arc::new(Array2::zeros((5, 2))),
        rows: (0..5).collect(),
    });
    s.handle(Msg::TsneFrame {
        job,
        iteration: 10,
        iterations: 1000,
        points: vec![[0.1, 0.2]; 5],
    });
    let fx = s.drain_effects();
    assert!(fx.iter().any(|e| matches!(e, Effect::Positions { .. })));
    assert_eq!(s.shown().unwrap().points[0], [0.1, 0.2]);
    // no grid yet: G does nothing but say so
    press(&mut s, Key::G);
    assert!(!s.view.view_as_grid);
    s.handle(Msg::Grid {
        job,
        cols: 3,
        rows: 2,
        cells: vec![[0, 0], [1, 0], [2, 0], [0, 1], [1, 1]],
    });
    assert!(s.grid_available());
    s.handle(Msg::Done { job });
    assert!(s.job.is_none() && s.pending.is_none() && s.current.is_some());
    // G glides over ~1 s
    s.update(10.0);
    press(&mut s, Key::G);
    assert!(s.view.view_as_grid);
    s.update(10.2);
    s.update(10.4);
    assert!(s.t > 0.3 && s.t < 0.5, "t = {}", s.t);
    for i in 0..10 {
        s.update(10.5 + i as f64 * 0.1);
    }
    assert_eq!(s.t, 1.0);
    press(&mut s, Key::G);
    for i in 0..12 {
        s.update(12.0 + i as f64 * 0.1);
    }
    assert_eq!(s.t, 0.0);
}

#[test]
fn cancel_keeps_the_previous_layout_intact() {
    let mut s = AppState::new([800.0, 600.0]);
    let first = start_analysis(&mut s, "/imgs");
    finish_analysis(&mut s, first, 4, None);
    let before = s.current.as_ref().unwrap().points.clone();
    let before_id = s.current.as_ref().unwrap().id;
    s.drain_effects();

    let second = start_analysis(&mut s, "/other");
    s.handle(scanned(second, 9, Source::Folder("/other".into())));
    assert_eq!(s.shown().unwrap().len(), 9);
    let cancel_flag = s.job.as_ref().unwrap().cancel.clone();
    press(&mut s, Key::Escape);
    assert!(
        cancel_flag.load(Ordering::Relaxed),
        "the worker is told to stop"
    );
    assert!(s.job.is_none() && s.pending.is_none());
    let fx = s.drain_effects();
    assert!(fx.iter().any(|e| matches!(e, Effect::DropScene { .. })));
    let shown = s.shown().unwrap();
    assert_eq!((shown.id, shown.len()), (before_id, 4));
    assert_eq!(shown.points, before);
    // late messages of the cancelled job are ignored
    s.handle(Msg::TsneFrame {
        job: second,
        iteration: 1,
        iterations: 1000,
        points: vec![[0.0, 0.0]; 9],
    });
    s.handle(Msg::Done { job: second });
    assert_eq!(s.shown().unwrap().id, before_id);
    assert_eq!(s.shown().unwrap().points, before);
}

#[test]
fn changing_perplexity_reruns_tsne_live_and_cancel_restores() {
    let mut s = AppState::new([800.0, 600.0]);
    let job = start_analysis(&mut s, "/imgs");
    finish_analysis(&mut s, job, 6, Some(2));
    let scene = s.current.as_ref().unwrap();
    assert_eq!(scene.used_count(), 5);
    let (points, grid) = (scene.points.clone(), scene.grid.clone());
    s.drain_effects();

    s.analysis.perplexity = 20.0;
    s.act(Action::TsneParamsChanged);
    let fx = s.drain_effects();
    let (re_job, settings) = fx
        .iter()
        .find_map(|e| match e {
            Effect::StartJob(JobRequest::Retsne(RetsneJob {
                job,
                features,
                paths,
                settings,
                ..
            })) => {
                assert!(
                    features.is_some(),
                    "re-run from the kept features, no re-extraction"
                );
                assert_eq!(paths.len(), 5);
                Some((*job, settings.clone()))
            }
            _ => None,
        })
        .expect("a re-run starts");
    assert_eq!(settings.lock().unwrap().perplexity, 20.0);
    assert!(!s.grid_available(), "grid waits for the new t-SNE");
    // moving the slider again while it runs updates the running job instead of stacking jobs
    s.analysis.perplexity = 30.0;
    s.act(Action::TsneParamsChanged);
    assert!(s
        .drain_effects()
        .iter()
        .all(|e| !matches!(e, Effect::StartJob(_))));
    assert_eq!(settings.lock().unwrap().perplexity, 30.0);
    s.handle(Msg::TsneFrame {
        job: re_job,
        iteration: 5,
        iterations: 1000,
        points: vec![[0.9, 0.9]; 5],
    });
    assert_eq!(s.current.as_ref().unwrap().points[0], [0.9, 0.9]);
    assert_eq!(
        s.current.as_ref().unwrap().points[2],
        points[2],
        "the skipped image is untouched"
    );
    // the re-run finds image 4 unusable now (say the file was deleted): hidden while it runs
    s.handle(Msg::Features {
        job: re_job,
        features: Arc::new(Array2::zeros((4, 2))),
        rows: vec![0, 1, 3, 5],
    });
    assert!(!s.current.as_ref().unwrap().used[4]);
    s.drain_effects();
    // saving is refused while the layout is being recomputed
    s.act(Action::Save(PathBuf::from("/tmp/x.json")));
    assert!(s
        .drain_effects()
        .iter()
        .all(|e| !matches!(e, Effect::SaveJson { .. })));
    s.act(Action::Cancel);
    let scene = s.current.as_ref().unwrap();
    assert_eq!(scene.points, points);
    assert_eq!(scene.grid, grid);
    assert!(scene.used[4] && !scene.used[2], "visibility restored");
    assert_eq!(
        s.analysis.perplexity, 50.0,
        "the sliders show the layout's settings again"
    );
    assert!(s.drain_effects().iter().any(|e| matches!(
        e,
        Effect::Visibility {
            index: 4,
            visible: true,
            ..
        }
    )));
    // letting a slider go where it was does not recompute anything
    s.act(Action::TsneParamsChanged);
    assert!(s.job.is_none());
    assert!(s.drain_effects().is_empty());
}

#[test]
fn tsne_settings_changed_while_loading_apply_once_loaded() {
    let mut s = AppState::new([800.0, 600.0]);
    s.act(Action::Load(PathBuf::from("/x/layout.json")));
    let job = s.job.as_ref().unwrap().id;
    s.drain_effects();
    s.handle(scanned(job, 3, Source::Json("/x/layout.json".into())));
    s.analysis.perplexity = 10.0;
    s.act(Action::TsneParamsChanged);
    s.handle(Msg::Done { job });
    assert!(s.drain_effects().iter().any(|e| matches!(
        e,
        Effect::StartJob(JobRequest::Retsne(RetsneJob { features: None, .. }))
    )));
    assert_eq!(s.job.as_ref().map(|j| j.kind), Some(JobKind::Retsne));
}

#[test]
fn save_writes_the_used_images_as_ml4a_json() {
    let mut s = AppState::new([800.0, 600.0]);
    s.act(Action::SaveDialog);
    assert!(s.drain_effects().is_empty(), "nothing to save yet");
    let job = start_analysis(&mut s, "/imgs");
    finish_analysis(&mut s, job, 5, Some(1));
    s.drain_effects();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("saved.json");
    s.act(Action::SaveDialog);
    assert!(matches!(
        s.drain_effects().as_slice(),
        [Effect::Dialog(DialogKind::SaveJson)]
    ));
    s.handle(Msg::DialogResult {
        kind: DialogKind::SaveJson,
        result: Ok(Some(out.clone())),
    });
    let fx = s.drain_effects();
    let entries = match fx.as_slice() {
        [Effect::SaveJson {
            path,
            entries,
            tsne,
            ..
        }] => {
            assert_eq!(path, &out);
            assert_eq!(
                *tsne,
                Some(layout_io::TsneSettings {
                    perplexity: s.analysis.perplexity,
                    theta: s.analysis.theta
                }),
                "the export records the settings that made the points"
            );
            entries.clone()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(entries.len(), 4, "the undecodable image is not exported");
    assert!(
        entries.iter().all(|e| e.grid.is_none()),
        "the export stores the t-SNE only"
    );
    layout_io::write_layout(&out, &entries, None).unwrap();
    let back = layout_io::read_layout(&out).unwrap();
    assert_eq!(back.entries.len(), 4);
    assert_eq!(back.entries[0].point, entries[0].point);
}

#[test]
fn loading_a_json_with_a_stored_grid_offers_the_grid_at_once() {
    let mut s = AppState::new([800.0, 600.0]);
    s.act(Action::Load(PathBuf::from("/x/layout.json")));
    let job = match s.drain_effects().as_slice() {
        [Effect::StartJob(JobRequest::Load(LoadJob { job, path, .. }))] => {
            assert_eq!(path, &PathBuf::from("/x/layout.json"));
            *job
        }
        other => panic!("{other:?}"),
    };
    s.handle(scanned(job, 2, Source::Json("/x/layout.json".into())));
    let entries = vec![
        layout_io::LayoutEntry {
            path: "/imgs/0.png".into(),
            point: [0.2, 0.3],
            grid: Some([0, 0]),
        },
        layout_io::LayoutEntry {
            path: "/imgs/1.png".into(),
            point: [0.8, 0.7],
            grid: Some([1, 0]),
        },
    ];
    s.handle(Msg::Layout {
        job,
        entries,
        grid: Some(GridCells {
            cols: 2,
            rows: 1,
            cells: vec![[0, 0], [1, 0]],
        }),
        tsne: None,
    });
    assert!(s.grid_available());
    assert_eq!(s.shown().unwrap().points[1], [0.8, 0.7]);
    s.handle(Msg::Missing { job, index: 1 });
    s.handle(Msg::Done { job });
    assert_eq!(s.current.as_ref().unwrap().missing, 1);
    assert!(
        s.status_line(60.0).contains("1 missing"),
        "{}",
        s.status_line(60.0)
    );
}

#[test]
fn failed_job_reports_and_keeps_what_was_shown() {
    let mut s = AppState::new([800.0, 600.0]);
    let job = start_analysis(&mut s, "/imgs");
    finish_analysis(&mut s, job, 3, None);
    let id = s.current.as_ref().unwrap().id;
    let job = start_analysis(&mut s, "/empty");
    s.handle(Msg::Failed {
        job,
        error: "no images found in /empty".into(),
    });
    assert!(s.job.is_none());
    assert_eq!(s.shown().unwrap().id, id);
    assert!(s
        .overlays
        .notices
        .iter()
        .any(|n| n.is_error && n.text.contains("no images found")));
}

#[test]
fn without_a_dialog_program_the_panel_asks_for_a_path() {
    let mut s = AppState::new([800.0, 600.0]);
    s.act(Action::AnalyzeDialog);
    assert!(matches!(
        s.drain_effects().as_slice(),
        [Effect::Dialog(DialogKind::AnalyzeFolder)]
    ));
    s.handle(Msg::DialogResult {
        kind: DialogKind::AnalyzeFolder,
        result: Err("no file dialog available".into()),
    });
    assert!(s.overlays.notices.iter().any(|n| n.is_error));
    let image_tsne_live::app::state::PathPrompt { kind, text } = s
        .overlays
        .path_prompt
        .as_mut()
        .expect("a path field instead");
    assert_eq!(*kind, DialogKind::AnalyzeFolder);
    text.push_str("/photos");
    s.submit_path_prompt();
    assert!(s.overlays.path_prompt.is_none());
    assert!(
        matches!(s.drain_effects().as_slice(), [Effect::StartJob(JobRequest::Analyze(AnalyzeJob { dir, .. }))] if dir == &Some(PathBuf::from("/photos")))
    );
}

#[test]
fn hotkeys_drive_gui_help_gallery_screenshot_and_camera() {
    let mut s = AppState::new([800.0, 600.0]);
    // effects are checked one by one: no settle playback uploading positions meanwhile
    s.settle_seconds = 0.0;
    let job = start_analysis(&mut s, "/imgs");
    finish_analysis(&mut s, job, 9, None);
    s.drain_effects();
    s.update(5.0);
    press(&mut s, Key::H);
    assert!(!s.overlays.gui_visible);
    s.act(action_for_char('?').unwrap());
    assert!(s.overlays.help_visible);
    press(&mut s, Key::Escape);
    assert!(!s.overlays.help_visible, "Esc closes the help first");
    press(&mut s, Key::S);
    assert!(
        matches!(s.drain_effects().as_slice(), [Effect::Screenshot { path }] if path.extension().unwrap() == "png")
    );
    press(&mut s, Key::P);
    assert!(matches!(
        s.drain_effects().as_slice(),
        [Effect::CaptureFrame { .. }]
    ));
    let zoom = s.camera.zoom;
    s.act(Action::Zoom(2.0, Some([100.0, 100.0])));
    assert!((s.camera.zoom / zoom - 2.0).abs() < 1e-4);
    assert!(!s.framing.fitted);
    press(&mut s, Key::F);
    for i in 0..20 {
        s.update(20.0 + i as f64 * 0.1);
    }
    assert!(
        (s.camera.zoom - zoom).abs() / zoom < 1e-3,
        "fit restores the overview"
    );
    press(&mut s, Key::Space);
    assert!(s.gallery.enabled);
    s.update(30.0);
    s.user_input();
    assert!(
        s.gallery.paused(31.0),
        "input takes control back from the tour"
    );
}

#[test]
fn real_workers_analyze_a_folder_into_the_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("imgs");
    std::fs::create_dir(&dir).unwrap();
    for f in common::demo_images("smileys-and-emotion").iter().take(24) {
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("broken.png"), b"not a png").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let options = image_tsne_live::pipeline::AnalyzeOptions {
        cache: Cache::at(tmp.path().join("cache")),
        ..Default::default()
    };
    let workers = Workers::new(tx, options);
    let mut s = AppState::new([800.0, 600.0]);
    s.analysis.perplexity = 5.0;
    s.act(Action::Analyze(dir.clone()));
    let start = Instant::now();
    let mut thumbs = 0;
    let mut frames = 0;
    while s.job.is_some() || s.current.is_none() {
        for e in s.drain_effects() {
            match e {
                Effect::StartJob(r) => workers.start(r),
                Effect::Thumb { .. } => thumbs += 1,
                Effect::Positions { .. } => frames += 1,
                _ => {}
            }
        }
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(msg) => s.handle(msg),
            Err(e) => panic!("no message from the worker: {e}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "analysis did not finish"
        );
    }
    let scene = s.current.as_ref().unwrap();
    assert_eq!(scene.len(), 25);
    assert_eq!(scene.used_count(), 24, "the broken file is skipped");
    assert!(
        s.overlays.warnings.iter().any(|w| w.contains("broken.png")),
        "{:?}",
        s.overlays.warnings
    );
    assert_eq!(thumbs, 24);
    assert!(
        frames > 10,
        "t-SNE was shown live ({frames} position uploads)"
    );
    assert!(scene.grid.is_some());
    assert!(scene
        .points
        .iter()
        .all(|p| (0.0..=1.0).contains(&p[0]) && (0.0..=1.0).contains(&p[1])));
}

/// Load a 3-image layout whose file records `tsne` (or not) and finish the job.
fn load_layout(s: &mut AppState, tsne: Option<[f32; 2]>) {
    s.act(Action::Load(PathBuf::from("/x/l.json")));
    let job = match s.drain_effects().as_slice() {
        [Effect::StartJob(JobRequest::Load(LoadJob { job, .. }))] => *job,
        other => panic!("{other:?}"),
    };
    s.handle(scanned(job, 3, Source::Json("/x/l.json".into())));
    let entries = (0..3)
        .map(|i| layout_io::LayoutEntry {
            path: format!("/imgs/{i}.png").into(),
            point: [i as f32 / 3.0, 0.5],
            grid: None,
        })
        .collect();
    s.handle(Msg::Layout {
        job,
        entries,
        grid: None,
        tsne,
    });
    s.handle(Msg::Grid {
        job,
        cols: 2,
        rows: 2,
        cells: vec![[0, 0], [1, 0], [0, 1]],
    });
    s.handle(Msg::Done { job });
    s.drain_effects();
}

#[test]
fn a_loaded_layout_shows_its_own_tsne_settings_and_a_release_in_place_does_nothing() {
    let mut s = AppState::new([800.0, 600.0]);
    load_layout(&mut s, Some([30.0, 0.5]));
    assert_eq!((s.analysis.perplexity, s.analysis.theta), (30.0, 0.5));
    assert!(!s.tsne_settings_unknown());
    s.act(Action::TsneParamsChanged);
    assert!(
        s.job.is_none(),
        "a slider let go where it was starts nothing"
    );
    s.analysis.perplexity = 40.0;
    s.act(Action::TsneParamsChanged);
    assert!(matches!(
        s.drain_effects().as_slice(),
        [
            ..,
            Effect::StartJob(JobRequest::Retsne(RetsneJob { features: None, .. }))
        ]
    ));
    assert!(
        s.overlays
            .notices
            .iter()
            .any(|n| n.text.contains("re-extracting the features")),
        "{:?}",
        s.overlays.notices
    );
}

#[test]
fn unknown_tsne_settings_keep_the_sliders_disabled_until_unlocked() {
    let mut s = AppState::new([800.0, 600.0]);
    s.analysis.perplexity = 50.0;
    load_layout(&mut s, None);
    assert!(s.tsne_settings_unknown(), "ml4a layouts do not say");
    assert_eq!(s.analysis.perplexity, 50.0, "the sliders are not changed");
    s.analysis.perplexity = 20.0;
    s.act(Action::TsneParamsChanged);
    assert!(s.job.is_none(), "locked sliders start nothing");
    s.analysis.perplexity = 50.0;
    s.act(Action::UnlockTsneSettings);
    assert!(!s.tsne_settings_unknown());
    assert!(s
        .overlays
        .notices
        .iter()
        .any(|n| n.text.contains("re-extracts the features of 3 images")));
    s.act(Action::TsneParamsChanged);
    assert!(s.job.is_none(), "released where it was when unlocked");
    s.analysis.theta = 0.6;
    s.act(Action::TsneParamsChanged);
    assert_eq!(s.job.as_ref().map(|j| j.kind), Some(JobKind::Retsne));
    // cancelling puts the loaded map back and keeps its settings unknown
    s.act(Action::Escape);
    assert!(s.job.is_none());
    assert!(!s.current.as_ref().unwrap().tsne_known);
}

#[test]
fn mismatched_background_results_are_reported_not_dropped() {
    let mut s = AppState::new([800.0, 600.0]);
    let job = start_analysis(&mut s, "/imgs");
    s.handle(scanned(job, 4, Source::Folder("/imgs".into())));
    s.handle(Msg::TsneFrame {
        job,
        iteration: 5,
        iterations: 1000,
        points: vec![[0.5, 0.5]; 3],
    });
    assert!(
        s.overlays.warnings.iter().any(|w| w.contains("t-SNE frame")
            && w.contains("3 entries")
            && w.contains("4 images")),
        "{:?}",
        s.overlays.warnings
    );
    assert!(s.overlays.notices.iter().any(|n| n.is_error));
    s.handle(Msg::Grid {
        job,
        cols: 1,
        rows: 1,
        cells: vec![[0, 0]],
    });
    assert!(s.overlays.warnings.iter().any(|w| w.contains("a grid")));
    assert!(s.shown().unwrap().grid.is_none());
    // a failed job ends, and saving works again afterwards
    s.handle(Msg::Failed {
        job,
        error: "cannot start a worker thread: no memory".into(),
    });
    assert!(s.job.is_none());
    assert!(s
        .overlays
        .warnings
        .iter()
        .any(|w| w.contains("cannot start a worker thread")));
}

#[test]
fn frame_captures_keep_their_cadence_with_slow_frames() {
    // --capture-every 5: with 130 ms frames for 60 s there is a capture at the start and one
    // per 5 s after, not one fewer per 5 s of drift.
    let mut s = AppState::new([800.0, 600.0]);
    s.captures.every = Some(image_tsne_live::app::state::CaptureEvery {
        seconds: 5.0,
        dir: PathBuf::from("/frames"),
    });
    let mut captures = vec![];
    let mut k = 0;
    loop {
        let t = 0.1 + k as f64 * 0.13;
        if t > 60.05 {
            break;
        }
        s.update(t);
        for e in s.drain_effects() {
            if let Effect::CaptureFrame { path } = e {
                captures.push(path);
            }
        }
        k += 1;
    }
    assert_eq!(captures.len(), 13, "{captures:?}");
    assert_eq!(captures[12], PathBuf::from("/frames/frame-000013.png"));
}
