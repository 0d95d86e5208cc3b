//! Layout I/O: read and write the ml4a layout JSON — an array of
//! `{"path": "...", "point": [x, y]}` with points in [0, 1], as written by ml4a's
//! `tSNE-images.py` and its image-tsne notebook.
//!
//! Reading is lenient: unnormalised points are normalised, a third coordinate is ignored,
//! relative paths are resolved against the JSON's folder, absolute paths from another machine are
//! looked up below the JSON's folder by their trailing components, missing files are reported but
//! kept, and bad entries are skipped with a warning. Malformed JSON is an error with line and
//! column. Writing is atomic (temporary file + rename).
//!
//! The grid file written by `image-tsne-live grid` is the same array with two extra keys per
//! entry, `"grid": [col, row]` and `"grid_size": [cols, rows]`, so it stays a valid ml4a layout.

use crate::util::atomic::write_atomic;
use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};

/// One image in a layout.
#[derive(Clone, Debug, PartialEq)]
pub struct LayoutEntry {
    pub path: PathBuf,
    /// t-SNE position in [0, 1]².
    pub point: [f32; 2],
    /// Grid cell `[col, row]`, when the file had one.
    pub grid: Option<[u32; 2]>,
}

/// The t-SNE settings a layout was made with. We store them with every entry (`"perplexity"`,
/// `"theta"`, like `"grid"`), so the file stays an ml4a array that other readers accept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TsneSettings {
    pub perplexity: f32,
    pub theta: f32,
}

/// A layout read from disk, with what was noticed while reading it.
#[derive(Clone, Debug, Default)]
pub struct LoadedLayout {
    pub entries: Vec<LayoutEntry>,
    /// `[cols, rows]` of the stored grid, when every entry had a grid cell.
    pub grid_size: Option<[u32; 2]>,
    /// Entries whose image file does not exist (kept in `entries`).
    pub missing: Vec<PathBuf>,
    /// Entries whose recorded path did not exist but that were found below the JSON's folder.
    pub relocated: usize,
    /// Whether the points had to be normalised into [0, 1].
    pub normalized: bool,
    /// Human-readable notes about skipped or odd entries.
    pub warnings: Vec<String>,
    /// The t-SNE settings recorded in the file (ours records them; ml4a's does not).
    pub tsne: Option<TsneSettings>,
}

/// Why a layout could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

/// Read a layout file.
pub fn read_layout(path: &Path) -> Result<LoadedLayout, LayoutError> {
    let text = std::fs::read_to_string(path).map_err(|source| LayoutError::Io {
        path: path.into(),
        source,
    })?;
    let base = crate::util::folder_of(path);
    // Absolute, so the paths we keep (and save again) are absolute too.
    let base = std::path::absolute(&base).unwrap_or(base);
    parse_layout(&text, &base).map_err(|e| match e {
        LayoutError::Syntax {
            line,
            column,
            message,
            ..
        } => LayoutError::Syntax {
            path: path.into(),
            line,
            column,
            message,
        },
        LayoutError::Format { message, .. } => LayoutError::Format {
            path: path.into(),
            message,
        },
        other => other,
    })
}

/// Parse layout JSON text; relative image paths are resolved against `base`. Parsing itself
/// ([`parse_entries`]) touches no file; only resolving the image paths looks at the disk.
pub fn parse_layout(text: &str, base: &Path) -> Result<LoadedLayout, LayoutError> {
    let parsed = parse_entries(text)?;
    let mut out = LoadedLayout {
        warnings: parsed.warnings,
        tsne: parsed.tsne,
        ..LoadedLayout::default()
    };
    for entry in &parsed.entries {
        let (path, relocated) = resolve_path(&entry.path, base);
        if relocated {
            out.relocated += 1;
        }
        if !path.exists() {
            out.missing.push(path.clone());
        }
        out.entries.push(LayoutEntry {
            path,
            point: [0.0, 0.0],
            grid: entry.grid,
        });
    }
    let raw_points: Vec<[f64; 2]> = parsed.entries.iter().map(|e| e.point).collect();
    let (points, normalized) = unit_points(&raw_points);
    out.normalized = normalized;
    for (e, p) in out.entries.iter_mut().zip(points) {
        e.point = p;
    }
    keep_complete_grid(&mut out, parsed.grid_size);
    Ok(out)
}

/// One entry as the file gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct RawEntry {
    /// The path as recorded (not resolved).
    pub path: String,
    /// The point as recorded (any range).
    pub point: [f64; 2],
    pub grid: Option<[u32; 2]>,
}

/// The entries of a layout file as recorded, with what was noticed while reading them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedLayout {
    pub entries: Vec<RawEntry>,
    /// The first `"grid_size"` recorded.
    pub grid_size: Option<[u32; 2]>,
    pub tsne: Option<TsneSettings>,
    pub warnings: Vec<String>,
}

/// Parse layout JSON text into its entries as recorded (no file is looked at): our format,
/// ml4a's, and the usual variants (`file`/`filename`/`image` for the path, `x`/`y` or `tsne`
/// for the point, the array wrapped in an object). Unusable entries are skipped with a warning.
pub fn parse_entries(text: &str) -> Result<ParsedLayout, LayoutError> {
    let value: Value = serde_json::from_str(text).map_err(|e| LayoutError::Syntax {
        path: PathBuf::new(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    let format_err = || LayoutError::Format {
        path: PathBuf::new(),
        message: "expected a JSON array of {\"path\", \"point\"} entries".into(),
    };
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(obj) => ["layout", "entries", "images", "points", "data"]
            .iter()
            .find_map(|k| obj.get(*k).and_then(Value::as_array))
            .ok_or_else(format_err)?,
        _ => return Err(format_err()),
    };
    let mut out = ParsedLayout::default();
    let mut third_coordinate = 0usize;
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            out.warnings
                .push(format!("entry {i}: not an object, skipped"));
            continue;
        };
        let Some(path) = ["path", "file", "filename", "image"]
            .iter()
            .find_map(|k| obj.get(*k).and_then(Value::as_str))
        else {
            out.warnings
                .push(format!("entry {i}: no \"path\", skipped"));
            continue;
        };
        if let Some(Value::Array(coords)) = obj.get("point").or_else(|| obj.get("tsne")) {
            if coords.len() > 2 {
                third_coordinate += 1;
            }
        }
        let Some(point) = entry_point(obj) else {
            out.warnings.push(format!(
                "entry {i} ({path}): no valid \"point\" [x, y], skipped"
            ));
            continue;
        };
        if out.tsne.is_none() {
            let num = |k: &str| obj.get(k).and_then(Value::as_f64).filter(|v| v.is_finite());
            if let (Some(perplexity), Some(theta)) = (num("perplexity"), num("theta")) {
                out.tsne = Some(TsneSettings {
                    perplexity: perplexity as f32,
                    theta: theta as f32,
                });
            }
        }
        if out.grid_size.is_none() {
            out.grid_size = obj.get("grid_size").and_then(cell_pair);
        }
        out.entries.push(RawEntry {
            path: path.to_string(),
            point,
            grid: obj.get("grid").and_then(cell_pair),
        });
    }
    if third_coordinate > 0 {
        out.warnings.push(format!(
            "{third_coordinate} points have more than 2 coordinates; only x and y are used"
        ));
    }
    Ok(out)
}

/// An entry's finite `[x, y]`: `"point"` (or `"tsne"`) as an array, else `"x"` and `"y"`.
fn entry_point(obj: &serde_json::Map<String, Value>) -> Option<[f64; 2]> {
    let point = match obj.get("point").or_else(|| obj.get("tsne")) {
        Some(Value::Array(coords)) => match (
            coords.first().and_then(Value::as_f64),
            coords.get(1).and_then(Value::as_f64),
        ) {
            (Some(x), Some(y)) => Some([x, y]),
            _ => None,
        },
        _ => match (
            obj.get("x").and_then(Value::as_f64),
            obj.get("y").and_then(Value::as_f64),
        ) {
            (Some(x), Some(y)) => Some([x, y]),
            _ => None,
        },
    };
    point.filter(|p| p[0].is_finite() && p[1].is_finite())
}

/// The points as they are when all lie in [0, 1]², else normalised into it (`true`).
fn unit_points(raw: &[[f64; 2]]) -> (Vec<[f32; 2]>, bool) {
    let in_unit = raw
        .iter()
        .all(|p| (0.0..=1.0).contains(&p[0]) && (0.0..=1.0).contains(&p[1]));
    if in_unit {
        (
            raw.iter().map(|p| [p[0] as f32, p[1] as f32]).collect(),
            false,
        )
    } else {
        (normalize_points(raw), true)
    }
}

/// Keep the stored grid only when it is complete and consistent (every entry a cell, distinct
/// cells, a grid not absurdly larger than the image count); else drop every cell, with a
/// warning when some were there.
fn keep_complete_grid(out: &mut LoadedLayout, recorded_size: Option<[u32; 2]>) {
    let all_grid = !out.entries.is_empty() && out.entries.iter().all(|e| e.grid.is_some());
    if all_grid {
        // cell_pair() keeps values below MAX_GRID_SIDE, so these cannot overflow.
        let [max_col, max_row] = out
            .entries
            .iter()
            .filter_map(|e| e.grid)
            .fold([0, 0], |m, g| [m[0].max(g[0]), m[1].max(g[1])]);
        let (cols, rows) = (max_col + 1, max_row + 1);
        let size = recorded_size
            .filter(|s| s[0] >= cols && s[1] >= rows)
            .unwrap_or([cols, rows]);
        let mut cells: Vec<[u32; 2]> = out.entries.iter().filter_map(|e| e.grid).collect();
        cells.sort_unstable();
        cells.dedup();
        let area = size[0] as u64 * size[1] as u64;
        if cells.len() == out.entries.len() && area <= 4 * out.entries.len() as u64 + 64 {
            out.grid_size = Some(size);
        }
    }
    if out.grid_size.is_none() {
        if out.entries.iter().any(|e| e.grid.is_some()) {
            out.warnings.push(
                "the stored grid cells are incomplete or overlap; the grid will be recomputed"
                    .into(),
            );
        }
        for e in &mut out.entries {
            e.grid = None;
        }
    }
}

/// Largest grid side we accept from a file (larger values are treated as no grid).
const MAX_GRID_SIDE: u64 = 1 << 20;

/// `[a, b]` of two small non-negative integers (a grid cell or grid size), else `None`.
fn cell_pair(v: &Value) -> Option<[u32; 2]> {
    let a = v.as_array()?;
    let x = a.first()?.as_u64().filter(|&x| x < MAX_GRID_SIDE)?;
    let y = a.get(1)?.as_u64().filter(|&y| y < MAX_GRID_SIDE)?;
    Some([x as u32, y as u32])
}

/// serde_json appends " at line L column C"; we report those separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Resolve a path from a layout file: relative paths against `base`; an absolute path that does
/// not exist (a layout made on another machine) is looked up below `base` by its trailing
/// components, longest first. Returns the path and whether it was relocated.
pub fn resolve_path(recorded: &str, base: &Path) -> (PathBuf, bool) {
    let p = Path::new(recorded);
    let direct = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    if direct.exists() {
        return (direct, false);
    }
    // Also understand Windows separators from layouts written there.
    let normalized = recorded.replace('\\', "/");
    let parts: Vec<&str> = Path::new(&normalized)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    for start in 0..parts.len() {
        let candidate = parts[start..]
            .iter()
            .fold(base.to_path_buf(), |acc, part| acc.join(part));
        if candidate.exists() {
            return (candidate, true);
        }
    }
    (direct, false)
}

/// Scale points uniformly (same factor on both axes, so the shape is kept) into [0, 1]²,
/// centring the shorter extent. Degenerate input (one point, all equal) goes to the centre.
/// The result is at the precision the JSON stores (1e-6), so a layout written and read back is
/// bit-identical, and a grid solved on it is the grid the file reproduces.
pub fn normalize_points(points: &[[f64; 2]]) -> Vec<[f32; 2]> {
    if points.is_empty() {
        return vec![];
    }
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in points {
        for a in 0..2 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    let extent = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    if !extent.is_finite() || extent <= 0.0 {
        return vec![[0.5, 0.5]; points.len()];
    }
    let offset = [
        (extent - (hi[0] - lo[0])) / 2.0,
        (extent - (hi[1] - lo[1])) / 2.0,
    ];
    points
        .iter()
        .map(|p| {
            let x = ((p[0] - lo[0] + offset[0]) / extent).clamp(0.0, 1.0);
            let y = ((p[1] - lo[1] + offset[1]) / extent).clamp(0.0, 1.0);
            [stored(x as f32), stored(y as f32)]
        })
        .collect()
}

/// Serialise entries as an ml4a layout (one entry per line). With `grid_size`, entries that have
/// a grid cell also get `"grid"` and `"grid_size"`; with `tsne`, `"perplexity"` and `"theta"`.
/// A path that is not UTF-8 cannot be stored exactly: see [`non_utf8_paths`].
pub fn layout_json(
    entries: &[LayoutEntry],
    grid_size: Option<[u32; 2]>,
    tsne: Option<TsneSettings>,
) -> String {
    let mut out = String::from("[\n");
    for (i, e) in entries.iter().enumerate() {
        let mut obj = json!({
            "path": e.path.to_string_lossy(),
            "point": [round6(e.point[0]), round6(e.point[1])],
        });
        if let (Some(cell), Some(size)) = (e.grid, grid_size) {
            obj["grid"] = json!(cell);
            obj["grid_size"] = json!(size);
        }
        if let Some(t) = tsne {
            obj["perplexity"] = json!(round6(t.perplexity));
            obj["theta"] = json!(round6(t.theta));
        }
        out.push_str("  ");
        out.push_str(&obj.to_string());
        if i + 1 < entries.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("]\n");
    out
}

fn round6(v: f32) -> f64 {
    (v as f64 * 1e6).round() / 1e6
}

/// `v` at the precision a layout file stores: writing and reading it back gives `v` again.
pub fn stored(v: f32) -> f32 {
    round6(v) as f32
}

/// The entries whose path is not valid UTF-8: JSON cannot hold them exactly, so they are written
/// with U+FFFD in place of the bad bytes. Writers report them as warnings.
pub fn non_utf8_paths(entries: &[LayoutEntry]) -> Vec<&Path> {
    entries
        .iter()
        .filter(|e| e.path.to_str().is_none())
        .map(|e| e.path.as_path())
        .collect()
}

/// One warning naming the paths that [`non_utf8_paths`] finds, or `None`.
pub fn non_utf8_warning(entries: &[LayoutEntry]) -> Option<String> {
    let bad = non_utf8_paths(entries);
    let first = bad.first()?;
    Some(format!(
        "{} path{} not UTF-8 and cannot be stored exactly in JSON (written with U+FFFD in place \
         of the bad bytes), e.g. {}",
        bad.len(),
        if bad.len() == 1 { " is" } else { "s are" },
        first.display()
    ))
}

/// Write an ml4a layout atomically (t-SNE points only, as the original's export).
pub fn write_layout(
    path: &Path,
    entries: &[LayoutEntry],
    tsne: Option<TsneSettings>,
) -> std::io::Result<()> {
    write_atomic(path, layout_json(entries, None, tsne).as_bytes())
}

/// Write a layout with grid cells atomically.
pub fn write_grid_layout(
    path: &Path,
    entries: &[LayoutEntry],
    grid_size: [u32; 2],
    tsne: Option<TsneSettings>,
) -> std::io::Result<()> {
    write_atomic(path, layout_json(entries, Some(grid_size), tsne).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_ml4a_array_with_relative_and_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("img")).unwrap();
        fs::write(dir.path().join("img/a.png"), b"x").unwrap();
        let text = r#"[{"path": "img/a.png", "point": [0.1, 0.9]},
                       {"path": "img/gone.png", "point": [0.5, 0.25, 0.7]}]"#;
        let l = parse_layout(text, dir.path()).unwrap();
        assert_eq!(l.entries.len(), 2);
        assert_eq!(l.entries[0].path, dir.path().join("img/a.png"));
        assert_eq!(l.entries[0].point, [0.1, 0.9]);
        assert_eq!(l.missing, vec![dir.path().join("img/gone.png")]);
        assert!(!l.normalized);
        assert!(
            l.warnings
                .iter()
                .any(|w| w.contains("more than 2 coordinates")),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn unnormalized_points_are_scaled_keeping_shape() {
        let l = parse_layout(r#"[{"path":"a","point":[-10,0]},{"path":"b","point":[10,5]},{"path":"c","point":[0,2.5]}]"#, Path::new("/nonexistent")).unwrap();
        assert!(l.normalized);
        let p: Vec<_> = l.entries.iter().map(|e| e.point).collect();
        assert_eq!(p[0], [0.0, 0.375]);
        assert_eq!(p[1], [1.0, 0.625]);
        assert_eq!(p[2], [0.5, 0.5]);
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let err = parse_layout(
            "[\n  {\"path\": \"a\", \"point\": [1, 2]\n  {\"path\": \"b\"}\n]",
            Path::new("."),
        )
        .unwrap_err();
        match err {
            LayoutError::Syntax { line, column, .. } => assert_eq!((line, column), (3, 3)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_layout("{\"x\": 1}", Path::new(".")),
            Err(LayoutError::Format { .. })
        ));
        assert!(matches!(
            parse_layout("", Path::new(".")),
            Err(LayoutError::Syntax { .. })
        ));
    }

    #[test]
    fn bad_entries_are_skipped_with_warnings() {
        let l = parse_layout(r#"[1, {"point":[0,0]}, {"path":"a"}, {"path":"b","point":["x",1]}, {"path":"c","x":0.5,"y":0.5}]"#, Path::new(".")).unwrap();
        assert_eq!(l.entries.len(), 1);
        assert_eq!(l.warnings.len(), 4, "{:?}", l.warnings);
    }

    #[test]
    fn absolute_paths_from_another_machine_are_relocated() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("cats")).unwrap();
        fs::write(dir.path().join("cats/tom.jpg"), b"x").unwrap();
        let text = r#"[{"path": "/Users/gene/Desktop/photos/cats/tom.jpg", "point": [0, 0]}]"#;
        let l = parse_layout(text, dir.path()).unwrap();
        assert_eq!(l.entries[0].path, dir.path().join("cats/tom.jpg"));
        assert_eq!(l.relocated, 1);
        assert!(l.missing.is_empty());
    }

    #[test]
    fn write_then_read_round_trip_with_grid() {
        let dir = tempfile::tempdir().unwrap();
        let entries = vec![
            LayoutEntry {
                path: dir.path().join("a b ☕.png"),
                point: [0.25, 0.5],
                grid: Some([0, 1]),
            },
            LayoutEntry {
                path: dir.path().join("c.png"),
                point: [1.0, 0.0],
                grid: Some([1, 0]),
            },
        ];
        let out = dir.path().join("layout.json");
        write_grid_layout(&out, &entries, [2, 2], None).unwrap();
        let l = read_layout(&out).unwrap();
        assert_eq!(l.entries, entries);
        assert_eq!(l.grid_size, Some([2, 2]));
        assert_eq!(l.tsne, None);
        // plain ml4a export has no grid; the t-SNE settings travel with each entry
        let tsne = TsneSettings {
            perplexity: 30.0,
            theta: 0.25,
        };
        write_layout(&out, &entries, Some(tsne)).unwrap();
        let text = fs::read_to_string(&out).unwrap();
        assert!(!text.contains("grid"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[0]["point"], json!([0.25, 0.5]));
        assert_eq!(v[1]["perplexity"], json!(30.0));
        let l = read_layout(&out).unwrap();
        assert_eq!(l.grid_size, None);
        assert_eq!(l.tsne, Some(tsne));
        assert!(non_utf8_warning(&entries).is_none());
    }

    #[test]
    fn normalized_points_survive_a_write_and_read_bit_for_bit() {
        let raw: Vec<[f64; 2]> = (0..500)
            .map(|i| {
                let t = i as f64 * 0.7371;
                [t.sin() * 13.37 + t * 0.01, t.cos() * 7.11 - 3.0]
            })
            .collect();
        let pts = normalize_points(&raw);
        let entries: Vec<LayoutEntry> = pts
            .iter()
            .enumerate()
            .map(|(i, p)| LayoutEntry {
                path: PathBuf::from(format!("/x/{i}.png")),
                point: *p,
                grid: None,
            })
            .collect();
        let back = parse_layout(&layout_json(&entries, None, None), Path::new("/")).unwrap();
        assert!(!back.normalized);
        for (a, b) in entries.iter().zip(&back.entries) {
            assert_eq!(a.point, b.point);
        }
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_are_reported() {
        use std::os::unix::ffi::OsStrExt;
        let bad = PathBuf::from(std::ffi::OsStr::from_bytes(b"/photos/caf\xe9.jpg"));
        let entries = vec![LayoutEntry {
            path: bad.clone(),
            point: [0.0, 0.0],
            grid: None,
        }];
        assert_eq!(non_utf8_paths(&entries), vec![bad.as_path()]);
        let w = non_utf8_warning(&entries).unwrap();
        assert!(
            w.contains("1 path is not UTF-8") && w.contains("caf"),
            "{w}"
        );
    }

    #[test]
    fn absurd_grid_cells_are_dropped_not_overflowed() {
        let l = parse_layout(
            r#"[{"path":"a","point":[0,0],"grid":[4294967295,0]},{"path":"b","point":[1,1],"grid":[1,0]}]"#,
            Path::new("."),
        )
        .unwrap();
        assert_eq!(l.grid_size, None);
        let l = parse_layout(
            r#"[{"path":"a","point":[0,0],"grid":[900000,0]},{"path":"b","point":[1,1],"grid":[1,0]}]"#,
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            l.grid_size, None,
            "a 900001-column grid for 2 images is not a layout"
        );
    }

    #[test]
    fn relative_json_paths_become_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("l.json");
        std::fs::write(&json, r#"[{"path":"img/a.png","point":[0,0]}]"#).unwrap();
        let l = read_layout(&json).unwrap();
        assert!(l.entries[0].path.is_absolute());
    }

    #[test]
    fn overlapping_grid_cells_are_dropped() {
        let l = parse_layout(
            r#"[{"path":"a","point":[0,0],"grid":[0,0]},{"path":"b","point":[1,1],"grid":[0,0]}]"#,
            Path::new("."),
        )
        .unwrap();
        assert_eq!(l.grid_size, None);
        assert!(l.entries.iter().all(|e| e.grid.is_none()));
    }

    #[test]
    fn normalize_degenerate() {
        assert_eq!(
            normalize_points(&[[3.0, 3.0], [3.0, 3.0]]),
            vec![[0.5, 0.5]; 2]
        );
        assert!(normalize_points(&[]).is_empty());
    }
}
