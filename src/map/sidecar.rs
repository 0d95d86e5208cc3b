//! Sidecar: a [`MapState`] in a file beside its layout (`LAYOUT.json.map`), so the layout can
//! grow later. Written atomically; validated when read (magic, version, checksum, and that it
//! describes the layout beside it: same images, same points) — a stale or foreign one is
//! rejected with the reason and nothing else is lost.

use super::{Frame, MapState};
use crate::grid::{GridAssignment, GridShape};
use crate::images::{Crop, Preprocess};
use crate::layout_io::LayoutEntry;
use crate::pca::PcaBasis;
use crate::util::atomic::write_atomic;
use anyhow::{Context, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"ITLMAP01";
const VERSION: u32 = 1;
/// Points in the layout JSON are rounded to 6 decimals; a sidecar's points must agree to this.
const POINT_TOLERANCE: f32 = 2e-6;

/// The sidecar that belongs to a layout: `LAYOUT.json.map` beside it.
pub fn sidecar_path(layout: &Path) -> PathBuf {
    let mut name = layout.as_os_str().to_owned();
    name.push(".map");
    PathBuf::from(name)
}

/// Why a sidecar cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable map file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} does not belong to {layout}: {reason} (stale or from another layout)")]
    Mismatch {
        path: PathBuf,
        layout: PathBuf,
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    n: usize,
    dims: usize,
    input_dims: usize,
    feature_key: String,
    background: [u8; 3],
    crop: String,
    input_size: u32,
    thumb_size: u32,
    aspect: f64,
    frame: Frame,
    /// `[cols, rows]` when the map has a grid (its cells follow in the body).
    grid: Option<[usize; 2]>,
    paths: Vec<String>,
}

impl MapState {
    /// Serialise (see [`MapState::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            version: VERSION,
            n: self.len(),
            dims: self.reduced.ncols(),
            input_dims: self.basis.input_dims(),
            feature_key: self.feature_key.clone(),
            background: self.preprocess.background,
            crop: format!("{:?}", self.preprocess.crop),
            input_size: self.preprocess.input_size,
            thumb_size: self.preprocess.thumb_size,
            aspect: self.aspect,
            frame: self.frame,
            grid: self.grid.as_ref().map(|g| [g.shape.cols, g.shape.rows]),
            paths: self
                .paths
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        };
        let head = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(head.len() as u64).to_le_bytes());
        out.extend_from_slice(&head);
        let mut f32s = |it: &mut dyn Iterator<Item = f32>| {
            for v in it {
                out.extend_from_slice(&v.to_le_bytes());
            }
        };
        f32s(&mut self.basis.mean.iter().copied());
        f32s(&mut self.basis.components.iter().copied());
        f32s(&mut self.reduced.iter().copied());
        f32s(&mut self.embedding.iter().flatten().copied());
        f32s(&mut self.points.iter().flatten().copied());
        out.extend(self.known.iter().map(|&k| k as u8));
        if let Some(g) = &self.grid {
            for c in g.cells.iter().flatten() {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        out
    }

    /// Parse a sidecar's bytes; `path` only names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> std::result::Result<MapState, SidecarError> {
        let corrupt = |reason: &str| SidecarError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        };
        if !bytes.starts_with(MAGIC) {
            return Err(corrupt("not a map file (wrong magic)"));
        }
        if bytes.len() < MAGIC.len() + 8 + 32 {
            return Err(corrupt("truncated"));
        }
        let (content, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(content).as_bytes() != sum {
            return Err(corrupt("checksum mismatch (truncated or damaged)"));
        }
        let (len, rest) = content[MAGIC.len()..]
            .split_first_chunk::<8>()
            .ok_or_else(|| corrupt("truncated"))?;
        let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| corrupt("bad header"))?;
        if len > rest.len() {
            return Err(corrupt("truncated header"));
        }
        let (head, mut rest) = rest.split_at(len);
        let h: Header =
            serde_json::from_slice(head).map_err(|e| corrupt(&format!("bad header: {e}")))?;
        if h.version != VERSION {
            return Err(corrupt(&format!(
                "version {} (this program reads version {VERSION})",
                h.version
            )));
        }
        if h.paths.len() != h.n {
            return Err(corrupt("header disagrees with itself"));
        }
        let mut take_f32 = |count: usize| -> std::result::Result<Vec<f32>, SidecarError> {
            let bytes_needed = count.checked_mul(4).ok_or_else(|| corrupt("too large"))?;
            if rest.len() < bytes_needed {
                return Err(corrupt("truncated body"));
            }
            let (a, b) = rest.split_at(bytes_needed);
            rest = b;
            Ok(a.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let (n, k, d) = (h.n, h.dims, h.input_dims);
        let size = |a: usize, b: usize| a.checked_mul(b).ok_or_else(|| corrupt("too large"));
        let mean = take_f32(d)?;
        let components = take_f32(size(d, k)?)?;
        let reduced = take_f32(size(n, k)?)?;
        let embedding = take_f32(size(n, 2)?)?;
        let points = take_f32(size(n, 2)?)?;
        if rest.len() < n {
            return Err(corrupt("truncated body"));
        }
        let known: Vec<bool> = rest[..n].iter().map(|&b| b != 0).collect();
        rest = &rest[n..];
        let grid = match h.grid {
            None => None,
            Some([cols, rows]) => {
                if rest.len() != size(n, 8)? {
                    return Err(corrupt("truncated grid"));
                }
                let cells: Vec<[u32; 2]> = rest
                    .chunks_exact(8)
                    .map(|c| {
                        [
                            u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                            u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                        ]
                    })
                    .collect();
                rest = &[];
                Some(GridAssignment {
                    shape: GridShape { cols, rows },
                    cells,
                    cost: f64::NAN,
                    optimal: false,
                    lower_bound: 0.0,
                })
            }
        };
        if !rest.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        let pairs = |v: Vec<f32>| v.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
        let state = MapState {
            paths: h.paths.iter().map(PathBuf::from).collect(),
            points: pairs(points),
            embedding: pairs(embedding),
            frame: h.frame,
            reduced: Array2::from_shape_vec((n, k), reduced).map_err(|_| corrupt("shape"))?,
            known,
            basis: PcaBasis {
                mean,
                components: Array2::from_shape_vec((d, k), components)
                    .map_err(|_| corrupt("shape"))?,
            },
            feature_key: h.feature_key,
            preprocess: Preprocess {
                background: h.background,
                crop: if h.crop == "Squash" {
                    Crop::Squash
                } else {
                    Crop::Center
                },
                input_size: h.input_size,
                thumb_size: h.thumb_size,
            },
            aspect: h.aspect,
            grid,
        };
        state.check().map_err(|r| corrupt(&r))?;
        Ok(state)
    }

    /// Write the sidecar atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Read a sidecar and check that it describes `entries` (the layout read from `layout`):
    /// same number of images, same file names in the same order, same points. The layout's paths
    /// are kept (they may have been relocated on reading).
    pub fn load(
        path: &Path,
        layout: &Path,
        entries: &[LayoutEntry],
    ) -> std::result::Result<MapState, SidecarError> {
        let bytes = std::fs::read(path).map_err(|source| SidecarError::Io {
            path: path.into(),
            source,
        })?;
        let mut state = MapState::from_bytes(&bytes, path)?;
        let mismatch = |reason: String| SidecarError::Mismatch {
            path: path.into(),
            layout: layout.into(),
            reason,
        };
        if state.len() != entries.len() {
            return Err(mismatch(format!(
                "it has {} images, the layout {}",
                state.len(),
                entries.len()
            )));
        }
        for (i, (e, p)) in entries.iter().zip(&state.paths).enumerate() {
            if e.path.file_name() != p.file_name() {
                return Err(mismatch(format!(
                    "entry {i} is {} in the layout but {} in the map file",
                    e.path.display(),
                    p.display()
                )));
            }
            let q = state.points[i];
            if (e.point[0] - q[0]).abs() > POINT_TOLERANCE
                || (e.point[1] - q[1]).abs() > POINT_TOLERANCE
            {
                return Err(mismatch(format!(
                    "{} is at {:?} in the layout but at {:?} in the map file",
                    e.path.display(),
                    e.point,
                    q
                )));
            }
        }
        state.paths = entries.iter().map(|e| e.path.clone()).collect();
        Ok(state)
    }
}
