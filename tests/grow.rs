//! Growing a map on real data (the bundled demo emoji, `assets/demo`): new images find their place
//! while the old ones stay bit-identical, near-duplicates land next to their originals, the grid
//! grows at its aspect with one image per cell, the sidecar round-trips and a stale one is
//! rejected, and the `add` command works on layouts with and without a sidecar.

mod common;

use image_tsne_live::cache::Cache;
use image_tsne_live::features::{self, FeatureModel};
use image_tsne_live::images::Preprocess;
use image_tsne_live::layout_io;
use image_tsne_live::map::{self, AddParams, MapState, SidecarError};
use image_tsne_live::pipeline::{self, AnalyzeOptions};
use image_tsne_live::progress::SilentReporter;
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `count` of the 360 demo emoji (every `step`-th of the sorted list, starting at `start`).
fn emoji(start: usize, step: usize, count: usize) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = common::labels(&common::demo_dir()).into_keys().collect();
    all.sort();
    let picked: Vec<PathBuf> = all
        .into_iter()
        .skip(start)
        .step_by(step)
        .take(count)
        .collect();
    assert_eq!(picked.len(), count, "the demo set has too few images");
    picked
}

fn copy_into(dir: &Path, files: &[PathBuf]) {
    std::fs::create_dir_all(dir).unwrap();
    for f in files {
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
}

fn nearest(points: &[[f32; 2]], q: [f32; 2], skip: usize) -> usize {
    (0..points.len())
        .filter(|&i| i != skip)
        .min_by(|&a, &b| {
            let d = |p: [f32; 2]| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
            d(points[a]).total_cmp(&d(points[b]))
        })
        .unwrap()
}

fn unique_cells(g: &image_tsne_live::grid::GridAssignment) -> bool {
    let mut seen = HashSet::new();
    g.cells.iter().all(|c| {
        (c[0] as usize) < g.shape.cols && (c[1] as usize) < g.shape.rows && seen.insert(*c)
    })
}

#[test]
fn a_map_grows_without_moving_and_duplicates_land_by_their_originals() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("map");
    copy_into(&folder, &emoji(0, 2, 180));
    let cache = Cache::at(tmp.path().join("cache"));
    let rep = SilentReporter::default();
    let opts = AnalyzeOptions {
        max_images: 1000,
        cache: cache.clone(),
        ..AnalyzeOptions::default()
    };
    let analysis = pipeline::analyze(&folder, &opts, &rep).unwrap();
    let mut map = MapState::from_analysis(&analysis, opts.preprocess, opts.aspect);
    let n0 = map.len();
    assert_eq!(n0, 180);
    let before = map.clone();

    // Near-duplicates: 6 of the map's images with one pixel changed, added as one batch.
    let dups = tmp.path().join("dups");
    std::fs::create_dir_all(&dups).unwrap();
    let originals = [3usize, 40, 77, 101, 150, 179];
    let mut dup_paths = Vec::new();
    for &i in &originals {
        let mut img = image::open(&map.paths[i]).unwrap().to_rgba8();
        let px = img.get_pixel_mut(0, 0);
        px[0] = px[0].wrapping_add(40);
        px[3] = 255;
        let out = dups.join(format!("dup-{i}.png"));
        img.save(&out).unwrap();
        dup_paths.push(out);
    }
    let model = FeatureModel::bundled().unwrap();
    let set = features::extract_features(&dup_paths, &model, &Preprocess::default(), &cache, &rep)
        .unwrap();
    assert_eq!(set.paths.len(), originals.len());
    let report = map
        .add(
            set.paths.clone(),
            set.features.view(),
            &AddParams::default(),
            None,
            &mut |_, _| ControlFlow::Continue(()),
        )
        .unwrap();
    assert_eq!(report.added, n0..n0 + originals.len());

    // The old images did not move: embedding, layout points and features are bit-identical.
    let bits = |v: &[[f32; 2]]| v.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&map.embedding[..n0]), bits(&before.embedding));
    assert_eq!(bits(&map.points[..n0]), bits(&before.points));
    assert_eq!(
        map.reduced.slice(ndarray::s![..n0, ..]),
        before.reduced.view()
    );
    // Each near-duplicate's nearest neighbour on the map is its original.
    for (t, &orig) in originals.iter().enumerate() {
        let i = n0 + t;
        let nn = nearest(&map.embedding[..n0], map.embedding[i], usize::MAX);
        // (the demo set has no byte-identical twins, so the original itself)
        assert!(
            nn == orig,
            "{} landed next to {} instead of {}",
            map.paths[i].display(),
            map.paths[nn].display(),
            map.paths[orig].display()
        );
    }

    // Grid: the 180 + 6 images have distinct cells; growing past capacity keeps the aspect.
    let g = map.grid.as_ref().unwrap();
    assert_eq!(g.cells.len(), map.len());
    assert!(unique_cells(g));
    let more = emoji(1, 2, 60); // not on the map
    let set =
        features::extract_features(&more, &model, &Preprocess::default(), &cache, &rep).unwrap();
    let cap = before.grid.as_ref().unwrap().shape.cells().unwrap();
    assert!(
        map.len() + set.paths.len() > cap,
        "the batch must overflow the grid"
    );
    let r = map
        .add(
            set.paths.clone(),
            set.features.view(),
            &AddParams::default(),
            None,
            &mut |_, _| ControlFlow::Continue(()),
        )
        .unwrap();
    let change = r.grid.unwrap();
    assert!(change.grew);
    let g = map.grid.as_ref().unwrap();
    assert!(unique_cells(g));
    assert_eq!(g.cells.len(), map.len());
    assert!(g.shape.cells().unwrap() >= map.len());
    let ratio = g.shape.cols as f64 / g.shape.rows as f64;
    assert!((ratio.ln()).abs() < 0.1, "square map grew to {:?}", g.shape);
    assert_eq!(bits(&map.points[..n0]), bits(&before.points));
    // A full re-solve (for quiet hours) keeps the shape, moves some and lowers the cost.
    let shape = g.shape;
    // (the objective of the grid solvers: squared distances in their normalised frame)
    let cost = |m: &MapState| {
        let g = m.grid.as_ref().unwrap();
        let pts: Vec<[f64; 2]> = m
            .points
            .iter()
            .map(|p| [p[0] as f64, p[1] as f64])
            .collect();
        let norm = image_tsne_live::grid::normalized_points(&pts, g.shape).unwrap();
        g.cells
            .iter()
            .zip(&norm)
            .map(|(c, p)| {
                let [x, y] = g.shape.cell_position(c[0] as usize, c[1] as usize);
                (x - p[0]).powi(2) + (y - p[1]).powi(2)
            })
            .sum::<f64>()
    };
    let grown_cost = cost(&map);
    let changed = map.resolve_grid(&rep).unwrap();
    let g = map.grid.as_ref().unwrap();
    assert_eq!(g.shape, shape);
    assert!(unique_cells(g));
    assert!(changed > 0 && changed <= map.len());
    assert!(cost(&map) < grown_cost, "{} vs {grown_cost}", cost(&map));
}

#[test]
fn the_sidecar_round_trips_and_a_stale_one_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("map");
    copy_into(&folder, &emoji(5, 12, 30));
    let rep = SilentReporter::default();
    let opts = AnalyzeOptions {
        cache: Cache::at(tmp.path().join("cache")),
        ..AnalyzeOptions::default()
    };
    let analysis = pipeline::analyze(&folder, &opts, &rep).unwrap();
    let state = MapState::from_analysis(&analysis, opts.preprocess, opts.aspect);
    let layout = tmp.path().join("layout.json");
    layout_io::write_layout(&layout, &analysis.entries(), None).unwrap();
    let sidecar = map::sidecar_path(&layout);
    assert_eq!(sidecar, tmp.path().join("layout.json.map"));
    state.save(&sidecar).unwrap();

    let loaded = layout_io::read_layout(&layout).unwrap();
    let back = MapState::load(&sidecar, &layout, &loaded.entries).unwrap();
    assert_eq!(back.embedding, state.embedding);
    assert_eq!(back.points, state.points);
    assert_eq!(back.reduced, state.reduced);
    assert_eq!(back.basis, state.basis);
    assert_eq!(
        back.grid.as_ref().unwrap().cells,
        state.grid.as_ref().unwrap().cells
    );

    // The layout changes (one point moved, one entry dropped): the sidecar no longer fits.
    let mut moved = loaded.entries.clone();
    moved[4].point[0] = (moved[4].point[0] + 0.1) % 1.0;
    let e = MapState::load(&sidecar, &layout, &moved).unwrap_err();
    assert!(matches!(e, SidecarError::Mismatch { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("layout.json.map") && msg.contains("layout.json"),
        "{msg}"
    );
    assert!(
        msg.contains(&*moved[4].path.file_name().unwrap().to_string_lossy()),
        "{msg}"
    );
    let e = MapState::load(&sidecar, &layout, &loaded.entries[1..]).unwrap_err();
    assert!(e.to_string().contains("30 images, the layout 29"), "{e}");
    // A damaged file is refused, naming the file.
    let mut bytes = std::fs::read(&sidecar).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&sidecar, &bytes).unwrap();
    let e = MapState::load(&sidecar, &layout, &loaded.entries).unwrap_err();
    assert!(e.to_string().contains("checksum"), "{e}");
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_image-tsne-live"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run image-tsne-live");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "failed: {stderr}");
    stderr
}

#[test]
fn cli_add_grows_a_layout_with_and_without_its_sidecar() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("map");
    copy_into(&folder, &emoji(0, 7, 50));
    let new = tmp.path().join("new");
    copy_into(&new, &emoji(3, 7, 12)); // none of the 50
    std::fs::write(new.join("broken.png"), b"\x89PNG not really").unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("map.json");
    run(bin()
        .arg("analyze")
        .arg(&folder)
        .arg("-o")
        .arg(&out)
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--quiet"));
    assert!(
        map::sidecar_path(&out).is_file(),
        "analyze writes the sidecar"
    );

    let grown = tmp.path().join("grown.json");
    let grid = tmp.path().join("grown-grid.json");
    let stderr = run(bin()
        .arg("add")
        .arg(&out)
        .arg(&new)
        .arg("-o")
        .arg(&grown)
        .arg("--grid-output")
        .arg(&grid)
        .arg("--cache-dir")
        .arg(&cache));
    assert!(stderr.contains("broken.png"), "{stderr}");
    assert!(
        stderr.contains("12 images added (62 on the map now), 1 skipped"),
        "{stderr}"
    );
    // The old entries are the same lines, the new ones follow.
    let old_text = std::fs::read_to_string(&out).unwrap();
    let new_text = std::fs::read_to_string(&grown).unwrap();
    let old_lines: Vec<&str> = old_text.lines().collect();
    let new_lines: Vec<&str> = new_text.lines().collect();
    assert_eq!(new_lines.len(), old_lines.len() + 12);
    for (a, b) in old_lines[1..old_lines.len() - 1]
        .iter()
        .zip(&new_lines[1..])
    {
        assert_eq!(a.trim_end_matches(','), b.trim_end_matches(','));
    }
    assert!(map::sidecar_path(&grown).is_file());
    let g = layout_io::read_layout(&grid).unwrap();
    assert_eq!(g.entries.len(), 62);
    let cells: HashSet<[u32; 2]> = g.entries.iter().map(|e| e.grid.unwrap()).collect();
    assert_eq!(cells.len(), 62, "one image per cell");
    // Adding an image that is already there is refused.
    let again = tmp.path().join("again.json");
    let outp = bin()
        .arg("add")
        .arg(&grown)
        .arg(new.join(emoji(3, 7, 1)[0].file_name().unwrap()))
        .arg("-o")
        .arg(&again)
        .arg("--cache-dir")
        .arg(&cache)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&outp.stderr);
    assert!(!outp.status.success(), "{err}");
    assert!(
        err.contains("already on the map") && err.contains("no new images"),
        "{err}"
    );
    assert!(!again.exists());

    // A layout made elsewhere (no sidecar): the old images' features are computed first.
    let foreign = tmp.path().join("foreign.json");
    std::fs::copy(&out, &foreign).unwrap();
    let grown2 = tmp.path().join("grown2.json");
    let stderr = run(bin()
        .arg("add")
        .arg(&foreign)
        .arg(&new)
        .arg("-o")
        .arg(&grown2)
        .arg("--cache-dir")
        .arg(&cache));
    assert!(stderr.contains("features were computed"), "{stderr}");
    let text = std::fs::read_to_string(&grown2).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), old_lines.len() + 12);
    assert_eq!(lines[1], old_lines[1]);
    // A stale sidecar is reported and not trusted.
    std::fs::copy(map::sidecar_path(&grown), map::sidecar_path(&foreign)).unwrap();
    let stderr = run(bin()
        .arg("add")
        .arg(&foreign)
        .arg(&new)
        .arg("-o")
        .arg(&grown2)
        .arg("--cache-dir")
        .arg(&cache));
    assert!(stderr.contains("does not belong to"), "{stderr}");
}
