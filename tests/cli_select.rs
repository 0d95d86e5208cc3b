//! Selections and metadata through the command line, on the bundled demo set (whose
//! `labels.csv` is a metadata file: `relpath,category,name`): `select` by a filter and by a
//! cluster writes the paths, copies the files without overwriting anything, makes a new map of
//! just them; `grid --sort-by` orders the grid by a numeric column, row by row.

mod common;

use image_tsne_live::layout_io;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::{cli as bin, run_ok as run};

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn select_exports_copies_and_maps_and_grid_sorts_by_a_column() {
    let demo = common::demo_dir();
    let labels_csv = demo.join("labels.csv");
    let labels = common::labels(&demo);
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let layout = tmp.path().join("demo.json");
    run(bin()
        .arg("analyze")
        .arg(&demo)
        .arg("-o")
        .arg(&layout)
        .arg("--cache-dir")
        .arg(&cache));
    let paths: Vec<PathBuf> = layout_io::read_layout(&layout)
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.path)
        .collect();

    // by a filter over the metadata: every flag, and only images whose row says "flag"
    let sel = tmp.path().join("flags.json");
    run(bin()
        .arg("select")
        .arg(&layout)
        .args(["--filter", "FLAG", "--metadata"])
        .arg(&labels_csv)
        .arg("-o")
        .arg(&sel));
    let got: Vec<PathBuf> =
        serde_json::from_str::<Vec<String>>(&std::fs::read_to_string(&sel).unwrap())
            .unwrap()
            .into_iter()
            .map(PathBuf::from)
            .collect();
    let flags: HashSet<&PathBuf> = paths.iter().filter(|p| labels[*p] == "Flags").collect();
    assert_eq!(flags.len(), 40);
    assert!(flags.iter().all(|f| got.contains(f)), "every flag");
    let text = std::fs::read_to_string(&labels_csv).unwrap().to_lowercase();
    for p in &got {
        let rel = p
            .strip_prefix(&demo)
            .unwrap()
            .to_string_lossy()
            .to_lowercase();
        let line = text.lines().find(|l| l.starts_with(&rel)).unwrap();
        assert!(line.contains("flag"), "{line}");
    }
    // in map order, each once
    let order: Vec<usize> = got
        .iter()
        .map(|p| paths.iter().position(|q| q == p).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));

    // by a cluster: its files copied; a second copy never overwrites, it renames
    let clusters_csv = tmp.path().join("clusters.csv");
    run(bin()
        .arg("clusters")
        .arg(&layout)
        .arg("-o")
        .arg(&clusters_csv)
        .arg("--cache-dir")
        .arg(&cache));
    let members0: Vec<String> = std::fs::read_to_string(&clusters_csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(common::csv_fields)
        .filter(|f| f[1] == "0")
        .map(|f| f[0].clone())
        .collect();
    assert!(members0.len() >= 5);
    let out = tmp.path().join("copies");
    for _ in 0..2 {
        run(bin()
            .arg("select")
            .arg(&layout)
            .args(["--cluster", "0", "--copy-to"])
            .arg(&out)
            .arg("--cache-dir")
            .arg(&cache));
    }
    let copied = files_in(&out);
    assert_eq!(copied.len(), 2 * members0.len(), "{copied:?}");
    for m in &members0 {
        let name = Path::new(m)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let stem = name.trim_end_matches(".png");
        assert!(
            copied.contains(&name) && copied.contains(&format!("{stem} (2).png")),
            "{name}"
        );
        assert_eq!(
            std::fs::read(out.join(&name)).unwrap(),
            std::fs::read(m).unwrap()
        );
    }

    // a new map of the smileys: just them, laid out, with its map file
    let sub = tmp.path().join("smileys.json");
    run(bin()
        .arg("select")
        .arg(&layout)
        .args(["--filter", "smileys", "--metadata"])
        .arg(&labels_csv)
        .arg("--new-map")
        .arg(&sub)
        .arg("--cache-dir")
        .arg(&cache));
    let entries = layout_io::read_layout(&sub).unwrap().entries;
    let want: HashSet<&PathBuf> = paths
        .iter()
        .filter(|p| labels[*p] == "Smileys & Emotion")
        .collect();
    assert_eq!(entries.len(), want.len());
    assert!(entries.iter().all(|e| want.contains(&e.path)));
    assert!(entries
        .iter()
        .all(|e| (0.0..=1.0).contains(&e.point[0]) && (0.0..=1.0).contains(&e.point[1])));
    assert!(tmp.path().join("smileys.json.map").is_file());

    // the grid ordered by a numeric column: a year per image, made here
    let meta = tmp.path().join("years.csv");
    let mut csv = String::from("path,title,year\n");
    for (i, p) in paths.iter().enumerate() {
        // every seventh image has no year
        let year = if i % 7 == 3 {
            String::new()
        } else {
            ((i * 37) % 360 + 1700).to_string()
        };
        csv.push_str(&format!("{},\"Picture, {i}\",{year}\n", p.display()));
    }
    std::fs::write(&meta, csv).unwrap();
    let sorted = tmp.path().join("by-year.json");
    run(bin()
        .arg("grid")
        .arg(&layout)
        .arg("-o")
        .arg(&sorted)
        .arg("--metadata")
        .arg(&meta)
        .args(["--sort-by", "YEAR"]));
    let g = layout_io::read_layout(&sorted).unwrap();
    let cols = g.grid_size.unwrap()[0] as usize;
    let slot = |i: usize| {
        let c = g.entries[i].grid.unwrap();
        c[1] as usize * cols + c[0] as usize
    };
    let year = |i: usize| (i % 7 != 3).then(|| (i * 37) % 360 + 1700);
    let mut by_slot: Vec<usize> = (0..360).collect();
    by_slot.sort_by_key(|&i| slot(i));
    let years: Vec<Option<usize>> = by_slot.iter().map(|&i| year(i)).collect();
    let dated = years.iter().take_while(|y| y.is_some()).count();
    assert_eq!(
        dated,
        (0..360).filter(|i| i % 7 != 3).count(),
        "undated images last"
    );
    assert!(
        years[..dated].windows(2).all(|w| w[0] <= w[1]),
        "row by row, by year"
    );
    assert!(years[dated..].iter().all(Option::is_none));

    // bad requests say so
    let no_what = bin()
        .arg("select")
        .arg(&layout)
        .args(["-o", "x.csv"])
        .output()
        .unwrap();
    assert_eq!(no_what.status.code(), Some(2));
    let no_number = bin()
        .arg("grid")
        .arg(&layout)
        .args(["-o", "x.json", "--metadata"])
        .arg(&meta)
        .args(["--sort-by", "title"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&no_number.stderr);
    assert_eq!(no_number.status.code(), Some(1), "{err}");
    assert!(
        err.contains("\"title\"") && err.contains("numbers"),
        "{err}"
    );
}
