//! Outputs: the windows a show draws into. The first is the main window (the panel, the mouse,
//! touch); an installation adds more (`--outputs`): the slices of a **projector wall** — one
//! continuous canvas cut into side-by-side windows, neighbours overlapping by `--wall-overlap`
//! pixels that are blended soft-edge — and **mirrors**, the whole view again (a screen at the
//! front desk). All of them draw the same scene with the same GPU resources, from the one
//! camera of the state, so the tour, the glide and the camera stay in step.
//!
//! Window-free: which part of the canvas each window shows ([`Placement`]), the camera that
//! draws it ([`Canvas::camera`]), its blend ([`Canvas::shade`]) and where a pointer in the main
//! window falls on the canvas ([`Canvas::to_canvas`]). The state's camera has the canvas as its
//! viewport: the wall when there is one, else the main window.

use crate::render::{Camera, Shade, WorldRect};
use anyhow::{bail, Context, Result};

/// What a window shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// The whole canvas, scaled to fit (`view`, or `mirror` for a window besides the main one).
    View,
    /// The next slice of the projector wall.
    Wall,
}

/// One window of `--outputs`: what it shows, the monitor it goes fullscreen on, its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub kind: OutputKind,
    /// Index into the monitors the system lists (fullscreen there); `None`: a window.
    pub monitor: Option<usize>,
    /// Window size in points; `None`: `--size`.
    pub size: Option<(u32, u32)>,
}

/// Weight of the letterbox around the canvas in a view whose shape differs from the canvas:
/// dimmed, so an operator sees what the wall shows and a little of what lies beyond.
pub const LETTERBOX: f32 = 0.3;

/// Share of the canvas the lightbox image fills at most (as the panel's lightbox does).
pub const LIGHTBOX_FILL: f32 = 0.85;

/// Weight of the map behind an open lightbox (the panel's backdrop: black at 200/255).
pub const LIGHTBOX_DIM: f32 = 0.22;

/// Parses `--outputs`: comma-separated windows, the first the main one, each
/// `KIND[@MONITOR][:WxH]` with KIND `view`, `mirror` (the same: the whole view) or `wall`
/// (the next slice of the wall, left to right). E.g. `view@0,wall@1,wall@2,wall@3`: a control
/// screen and a wall of three projectors; `wall@0,wall@1`: a wall of two and nothing else.
pub fn parse_outputs(text: &str) -> Result<Vec<OutputSpec>> {
    let mut out = Vec::new();
    for (i, part) in text.split(',').map(str::trim).enumerate() {
        let n = i + 1;
        if part.is_empty() {
            bail!("--outputs: window {n} is empty in {text:?}");
        }
        let (rest, size) = match part.split_once(':') {
            Some((rest, size)) => {
                let s = super::args::parse_size(size)
                    .with_context(|| format!("--outputs: window {n} ({part:?})"))?;
                (rest, Some(s))
            }
            None => (part, None),
        };
        let (kind, monitor) = match rest.split_once('@') {
            Some((kind, m)) => {
                let m: usize = m.trim().parse().map_err(|_| {
                    anyhow::anyhow!(
                        "--outputs: window {n} ({part:?}): monitor {m:?} is not an index (0, 1, …)"
                    )
                })?;
                (kind.trim(), Some(m))
            }
            None => (rest.trim(), None),
        };
        let kind = match kind.to_ascii_lowercase().as_str() {
            "view" | "mirror" => OutputKind::View,
            "wall" => OutputKind::Wall,
            other => bail!(
                "--outputs: window {n}: {other:?} is not a kind (view, mirror or wall) in {text:?}"
            ),
        };
        out.push(OutputSpec {
            kind,
            monitor,
            size,
        });
    }
    let walls = out.iter().filter(|o| o.kind == OutputKind::Wall).count();
    if walls == 1 {
        bail!("--outputs: a wall needs at least two `wall` windows (one is a `view`)");
    }
    if out.len() > 16 {
        bail!("--outputs: at most 16 windows, got {}", out.len());
    }
    Ok(out)
}

/// Where a window's pixels come from on the canvas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Placement {
    /// The whole canvas scaled by `scale` and moved by `offset`: window = canvas · scale +
    /// offset (centred; the rest is letterbox).
    Whole { scale: f32, offset: [f32; 2] },
    /// The canvas rectangle from `origin`, at scale 1: window = canvas − origin. `slice` is its
    /// place in the wall (0 = leftmost) of `of`.
    Slice {
        origin: [f32; 2],
        slice: usize,
        of: usize,
    },
}

/// The canvas and where each output shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Canvas {
    /// Canvas size in pixels: the state camera's viewport.
    pub size: [f32; 2],
    /// Per output (the main window first), where its pixels come from.
    pub placements: Vec<Placement>,
    /// Window sizes in pixels, as the canvas was made from.
    pub windows: Vec<[f32; 2]>,
    /// Blend width in pixels between neighbouring slices.
    pub overlap: f32,
    /// 2.2 / the projectors' gamma (see [`Shade::exponent`]).
    pub exponent: f32,
}

impl Canvas {
    /// Lays out the canvas for windows of these kinds and pixel sizes: the wall slices side by
    /// side (each overlapping its neighbour by `overlap` pixels, vertically centred on the
    /// tallest), or the main window when there is no wall; every `View` shows it all, fitted.
    /// `overlap` is limited to half the narrowest slice (each slice keeps a part of its own).
    pub fn new(kinds: &[OutputKind], windows: &[[f32; 2]], overlap: f32, gamma: f32) -> Canvas {
        let windows: Vec<[f32; 2]> = windows
            .iter()
            .map(|w| [w[0].max(1.0), w[1].max(1.0)])
            .collect();
        let walls: Vec<usize> = (0..kinds.len().min(windows.len()))
            .filter(|&k| kinds[k] == OutputKind::Wall)
            .collect();
        let narrowest = walls
            .iter()
            .map(|&k| windows[k][0])
            .fold(f32::INFINITY, f32::min);
        let overlap = if walls.len() > 1 {
            overlap.max(0.0).min((narrowest * 0.5).floor())
        } else {
            0.0
        };
        let size = if walls.len() > 1 {
            let width: f32 = walls.iter().map(|&k| windows[k][0]).sum::<f32>()
                - overlap * (walls.len() - 1) as f32;
            let height = walls.iter().map(|&k| windows[k][1]).fold(0.0, f32::max);
            [width, height]
        } else {
            windows.first().copied().unwrap_or([1.0, 1.0])
        };
        let mut x = 0.0;
        let mut slice = 0;
        let placements = (0..windows.len())
            .map(|k| {
                let [w, h] = windows[k];
                if walls.len() > 1 && kinds.get(k) == Some(&OutputKind::Wall) {
                    let p = Placement::Slice {
                        origin: [x, ((size[1] - h) * 0.5).floor()],
                        slice,
                        of: walls.len(),
                    };
                    x += w - overlap;
                    slice += 1;
                    p
                } else {
                    let (scale, offset) = fit(size, [w, h]);
                    Placement::Whole { scale, offset }
                }
            })
            .collect();
        let exponent = if gamma.is_finite() && gamma > 0.0 {
            2.2 / gamma
        } else {
            1.0
        };
        Canvas {
            size,
            placements,
            windows,
            overlap,
            exponent,
        }
    }

    /// Whether output `k` shows the canvas pixel for pixel and nothing else (the main window
    /// when there is no wall): then the panel's width matters to fitting the map.
    pub fn is_whole_canvas(&self, k: usize) -> bool {
        matches!(self.placements.get(k), Some(Placement::Whole { scale, offset })
            if (*scale - 1.0).abs() < 1e-6 && offset[0].abs() < 0.5 && offset[1].abs() < 0.5)
    }

    /// The camera that draws output `k` (of `window` pixels, as its frame is now) from the
    /// state's camera over the canvas. An unknown output draws the state's camera fitted.
    pub fn camera(&self, k: usize, state: &Camera, window: [f32; 2]) -> Camera {
        let mut cam = *state;
        match self.placements.get(k) {
            Some(Placement::Slice { origin, .. }) => {
                cam.center = state
                    .screen_to_world([origin[0] + window[0] * 0.5, origin[1] + window[1] * 0.5]);
                cam.set_viewport(window);
            }
            _ => {
                // the whole canvas, fitted into this window's size as it is now
                cam.zoom = state.zoom * fit(self.size, window).0;
                cam.set_viewport(window);
            }
        }
        cam
    }

    /// Output `k`'s blend: ramps where a slice overlaps a neighbour, the letterbox of a view.
    pub fn shade(&self, k: usize, window: [f32; 2]) -> Shade {
        match self.placements.get(k) {
            Some(&Placement::Slice { slice, of, .. }) => {
                let o = self.overlap;
                if o < 1.0 {
                    return Shade::NONE;
                }
                Shade {
                    left: (slice > 0).then_some([0.0, o]),
                    right: (slice + 1 < of).then_some([window[0] - o, window[0]]),
                    exponent: self.exponent,
                    ..Shade::NONE
                }
            }
            _ => {
                let (scale, [x0, y0]) = fit(self.size, window);
                let (w, h) = (self.size[0] * scale, self.size[1] * scale);
                if x0 < 0.5 && y0 < 0.5 {
                    return Shade::NONE;
                }
                Shade {
                    inside: [x0, y0, x0 + w, y0 + h],
                    outside: LETTERBOX,
                    ..Shade::NONE
                }
            }
        }
    }

    /// Whether output `k` draws the lightbox itself (with the quads): every output but a main
    /// window that is the canvas pixel for pixel, where the panel draws it.
    pub fn draws_lightbox(&self, k: usize) -> bool {
        k != 0 || !self.is_whole_canvas(0)
    }

    /// The lightbox on output `k` (of `window` pixels): the image whose world rectangle is
    /// `image`, as large as fits in [`LIGHTBOX_FILL`] of the canvas and centred on it — on a
    /// wall it spans the slices as the map does. Returns the camera that draws the image there
    /// and the shade that dims the map behind it (with the slice's blend ramps).
    pub fn lightbox(
        &self,
        k: usize,
        window: [f32; 2],
        image: &WorldRect,
    ) -> Option<(Camera, Shade)> {
        let camera = self.camera(k, &self.lightbox_camera(image)?, window);
        let shade = Shade {
            inside: [-1.0; 4],
            outside: LIGHTBOX_DIM,
            ..self.shade(k, window)
        };
        Some((camera, shade))
    }

    /// Whether some output draws the lightbox with the quads (see
    /// [`draws_lightbox`](Self::draws_lightbox)).
    pub fn any_draws_lightbox(&self) -> bool {
        (0..self.placements.len()).any(|k| self.draws_lightbox(k))
    }

    /// The camera over the whole canvas that shows the image whose world rectangle is `image`
    /// as the lightbox: centred, as large as fits in [`LIGHTBOX_FILL`] of the canvas. Each
    /// output draws its part of it; the detail tier plans for it while the lightbox is open,
    /// so the image is sharp at that size.
    pub fn lightbox_camera(&self, image: &WorldRect) -> Option<Camera> {
        let [iw, ih] = image.size();
        if !(iw > 0.0 && ih > 0.0 && iw.is_finite() && ih.is_finite()) {
            return None;
        }
        let mut cam = Camera::new(self.size);
        cam.zoom = (self.size[0] * LIGHTBOX_FILL / iw).min(self.size[1] * LIGHTBOX_FILL / ih);
        cam.center = image.center();
        Some(cam)
    }

    /// A point in output `k`'s window (pixels, y down) on the canvas.
    pub fn to_canvas(&self, k: usize, p: [f32; 2]) -> [f32; 2] {
        match self.placements.get(k) {
            Some(Placement::Slice { origin, .. }) => [p[0] + origin[0], p[1] + origin[1]],
            Some(Placement::Whole { scale, offset }) if *scale > 0.0 => {
                [(p[0] - offset[0]) / scale, (p[1] - offset[1]) / scale]
            }
            _ => p,
        }
    }
}

/// The canvas of `size` fitted into a window of `window` pixels: the scale, and the offset
/// that centres it (window = canvas · scale + offset).
fn fit(size: [f32; 2], window: [f32; 2]) -> (f32, [f32; 2]) {
    let scale = (window[0] / size[0]).min(window[1] / size[1]);
    let offset = [
        (window[0] - size[0] * scale) * 0.5,
        (window[1] - size[1] * scale) * 0.5,
    ];
    (scale, offset)
}

/// Where output `k`'s capture goes when the main window's goes to `path`: `path` itself for the
/// main window, `NAME-k.EXT` beside it for the others.
pub fn capture_path(path: &std::path::Path, k: usize) -> std::path::PathBuf {
    if k == 0 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "frame".into());
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{k}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{k}"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OutputKind::{View, Wall};

    #[test]
    fn outputs_parse_with_monitors_and_sizes_and_bad_ones_are_named() {
        let o = parse_outputs("view@0, wall@1:1920x1080,WALL@2,mirror").unwrap();
        assert_eq!(o.len(), 4);
        assert_eq!(o[0].kind, View);
        assert_eq!(o[0].monitor, Some(0));
        assert_eq!(o[1].kind, Wall);
        assert_eq!(o[1].size, Some((1920, 1080)));
        assert_eq!(o[2].monitor, Some(2));
        assert_eq!((o[3].kind, o[3].monitor, o[3].size), (View, None, None));
        for (bad, says) in [
            ("view,,wall", "window 2 is empty"),
            ("view,tile", "\"tile\" is not a kind"),
            ("wall@x,wall", "monitor \"x\""),
            ("wall:10x10,wall", "window 1"),
            ("view,wall", "at least two"),
        ] {
            let e = format!("{:#}", parse_outputs(bad).unwrap_err());
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_wall_of_three_is_one_canvas_and_its_slices_tile_it_with_overlaps() {
        let kinds = [Wall, Wall, Wall, View];
        let windows = [
            [400.0, 300.0],
            [400.0, 300.0],
            [400.0, 300.0],
            [640.0, 480.0],
        ];
        let c = Canvas::new(&kinds, &windows, 50.0, 2.2);
        assert_eq!(c.size, [1100.0, 300.0]);
        let origins: Vec<f32> = c
            .placements
            .iter()
            .filter_map(|p| match p {
                Placement::Slice { origin, .. } => Some(origin[0]),
                _ => None,
            })
            .collect();
        assert_eq!(origins, [0.0, 350.0, 700.0]);
        assert!(!c.is_whole_canvas(0));
        // every slice's camera draws exactly its part of the state's camera
        let mut state = Camera::new(c.size);
        state.center = [0.3, 0.6];
        state.zoom = 800.0;
        for (k, &window) in windows.iter().enumerate().take(3) {
            let cam = c.camera(k, &state, window);
            for p in [[0.0, 0.0], [123.0, 45.0], [399.0, 299.0]] {
                let on_canvas = c.to_canvas(k, p);
                let a = cam.screen_to_world(p);
                let b = state.screen_to_world(on_canvas);
                assert!((a[0] - b[0]).abs() < 1e-5 && (a[1] - b[1]).abs() < 1e-5);
            }
        }
        // the blends: the outer edges are hard, the inner ones ramp, and they sum to one
        let s: Vec<Shade> = (0..3).map(|k| c.shade(k, windows[k])).collect();
        assert_eq!(s[0].left, None);
        assert_eq!(s[0].right, Some([350.0, 400.0]));
        assert_eq!(s[1].left, Some([0.0, 50.0]));
        assert_eq!(s[2].right, None);
        for i in 0..50 {
            let canvas_x = 350.0 + i as f32 + 0.5;
            let (x0, x1) = (canvas_x - 0.0, canvas_x - 350.0);
            let sum = s[0].weight(x0, 1.0) + s[1].weight(x1, 1.0);
            assert!((sum - 1.0).abs() < 1e-5);
        }
        // the mirror shows the whole canvas, fitted and letterboxed top and bottom
        match c.placements[3] {
            Placement::Whole { scale, offset } => {
                assert!((scale - 640.0 / 1100.0).abs() < 1e-6);
                assert!(offset[0].abs() < 1e-4 && offset[1] > 100.0);
            }
            p => panic!("{p:?}"),
        }
        let m = c.shade(3, windows[3]);
        assert_eq!(m.outside, LETTERBOX);
        assert!(m.weight(320.0, 5.0) < 1.0 && m.weight(320.0, 240.0) == 1.0);
        let mc = c.camera(3, &state, windows[3]);
        let mid = mc.screen_to_world([320.0, 240.0]);
        let want = state.screen_to_world([550.0, 150.0]);
        assert!((mid[0] - want[0]).abs() < 1e-5 && (mid[1] - want[1]).abs() < 1e-5);
        // a pointer in the mirror lands where it shows
        let p = c.to_canvas(3, [320.0, 240.0]);
        assert!((p[0] - 550.0).abs() < 1e-3 && (p[1] - 150.0).abs() < 1e-3);
    }

    #[test]
    fn without_a_wall_the_main_window_is_the_canvas_and_a_mirror_of_its_size_equals_it() {
        let c = Canvas::new(&[View, View], &[[800.0, 500.0], [800.0, 500.0]], 80.0, 2.2);
        assert_eq!(c.size, [800.0, 500.0]);
        assert!(c.is_whole_canvas(0) && c.is_whole_canvas(1));
        let state = Camera::new(c.size);
        assert_eq!(c.camera(1, &state, [800.0, 500.0]), state);
        assert!(c.shade(0, [800.0, 500.0]).is_identity());
        assert_eq!(c.to_canvas(0, [12.0, 34.0]), [12.0, 34.0]);
    }

    #[test]
    fn the_overlap_is_limited_to_half_a_slice_and_gamma_bends_the_ramp() {
        let c = Canvas::new(&[Wall, Wall], &[[200.0, 100.0], [300.0, 100.0]], 500.0, 2.4);
        assert_eq!(c.overlap, 100.0);
        assert_eq!(c.size, [400.0, 100.0]);
        assert!((c.exponent - 2.2 / 2.4).abs() < 1e-6);
        assert_eq!(c.shade(1, [300.0, 100.0]).exponent, c.exponent);
        // no overlap: hard edges, no pass
        let hard = Canvas::new(&[Wall, Wall], &[[200.0, 100.0]; 2], 0.0, 2.2);
        assert!(hard.shade(0, [200.0, 100.0]).is_identity());
        assert_eq!(hard.size, [400.0, 100.0]);
    }

    #[test]
    fn the_lightbox_is_centred_on_the_canvas_across_the_slices_of_a_wall() {
        let kinds = [View, Wall, Wall];
        let windows = [[640.0, 360.0], [400.0, 300.0], [400.0, 300.0]];
        let c = Canvas::new(&kinds, &windows, 100.0, 2.2);
        assert_eq!(c.size, [700.0, 300.0]);
        assert!(c.draws_lightbox(0) && c.draws_lightbox(1));
        // a portrait image: 0.2 × 0.4 world units
        let image = WorldRect::from_center_size([3.0, 1.0], [0.2, 0.4]);
        // on the canvas: 255 px tall (85 % of 300), centred at (350, 150): the camera the
        // detail tier plans for while the lightbox is open
        let want_h = 300.0 * LIGHTBOX_FILL;
        let whole = c.lightbox_camera(&image).unwrap();
        assert_eq!(whole.viewport, c.size);
        assert!((whole.zoom * 0.4 - want_h).abs() < 1e-3);
        let mid = whole.world_to_screen([3.0, 1.0]);
        assert!((mid[0] - 350.0).abs() < 1e-3 && (mid[1] - 150.0).abs() < 1e-3);
        assert!(c.any_draws_lightbox());
        for (k, &window) in windows.iter().enumerate().skip(1) {
            let (cam, shade) = c.lightbox(k, window, &image).unwrap();
            assert!((cam.zoom * 0.4 - want_h).abs() < 1e-3);
            let top_left = c.to_canvas(k, cam.world_to_screen([2.9, 0.8]));
            assert!(
                (top_left[0] - (350.0 - want_h / 4.0)).abs() < 1e-3,
                "{top_left:?}"
            );
            assert!(
                (top_left[1] - (150.0 - want_h / 2.0)).abs() < 1e-3,
                "{top_left:?}"
            );
            // the map behind is dimmed, and the slices still blend into each other
            assert!((shade.weight(200.0, 150.0) - LIGHTBOX_DIM).abs() < 1e-6);
            assert_eq!(shade.left.is_some(), k == 2);
        }
        // the control view shows it where it shows the canvas' centre
        let (cam, _) = c.lightbox(0, windows[0], &image).unwrap();
        let centre = cam.world_to_screen([3.0, 1.0]);
        assert!((centre[0] - 320.0).abs() < 1e-3 && (centre[1] - 180.0).abs() < 1e-3);
        // the main window that is the canvas leaves it to the panel
        let alone = Canvas::new(&[View, View], &[[800.0, 500.0]; 2], 0.0, 2.2);
        assert!(!alone.draws_lightbox(0) && alone.draws_lightbox(1));
        assert!(c
            .lightbox(
                1,
                windows[1],
                &WorldRect::from_center_size([0.0, 0.0], [0.0, 1.0])
            )
            .is_none());
    }

    #[test]
    fn captures_of_other_outputs_go_beside_the_main_one() {
        let p = std::path::Path::new("/tmp/shots/last.png");
        assert_eq!(capture_path(p, 0), p);
        assert_eq!(
            capture_path(p, 2),
            std::path::Path::new("/tmp/shots/last-2.png")
        );
    }
}
