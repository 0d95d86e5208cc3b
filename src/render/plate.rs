//! Plate: a card behind an image whose own pixels would not stand out against the background —
//! black line art and silhouettes on the dark default, white icons on white. The decision is per
//! image: [`PlateStats`] are taken once from its thumbnail (how much of it is transparent, and a
//! histogram of its opaque pixels' grey levels), so a new background re-decides every image
//! without reading a pixel again ([`Plates::wants`]). Opaque photos and colourful images never
//! get one under [`PlateMode::Auto`]: they look exactly as without plates.

use image::RgbaImage;

/// When images are drawn on a plate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PlateMode {
    /// Only images that would not stand out against the background (mostly transparent, with
    /// few pixels that contrast with it).
    #[default]
    Auto,
    /// Every image with transparent pixels.
    Always,
    /// No plates (images drawn with their alpha straight onto the background).
    Never,
}

impl PlateMode {
    /// The name the command line and the panel use.
    pub fn name(self) -> &'static str {
        match self {
            PlateMode::Auto => "auto",
            PlateMode::Always => "always",
            PlateMode::Never => "never",
        }
    }
}

/// Grey levels (0–255) a pixel must differ from the background by to stand out.
pub const CONTRAST_LEVELS: u8 = 40;
/// Bins of the grey-level histogram (8 levels each).
const BINS: usize = 32;
/// An image with less than this share of (mostly) transparent pixels is opaque: never plated.
const MIN_TRANSPARENT: f32 = 0.05;
/// Under `auto`, a plate when less than this share of the opaque pixels stands out.
const MIN_CONTRASTING: f32 = 0.5;

/// What decides an image's plate, taken from its thumbnail once.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlateStats {
    /// Share of the pixels that are mostly transparent (alpha < 50 %).
    pub transparent: f32,
    /// Opaque pixels (alpha ≥ 50 %) per grey level / 8 (Rec. 601 luma of the straight colour).
    pub grey: [u32; BINS],
}

impl PlateStats {
    /// Stats of a premultiplied RGBA8 thumbnail (what the atlas holds). An empty image has none
    /// (never plated).
    pub fn of_premultiplied(img: &RgbaImage) -> PlateStats {
        let mut stats = PlateStats::default();
        let total = img.width() as u64 * img.height() as u64;
        if total == 0 {
            return stats;
        }
        let mut transparent = 0u64;
        for p in img.pixels() {
            let [r, g, b, a] = p.0;
            if a < 128 {
                transparent += 1;
                continue;
            }
            // un-premultiply, then luma
            let un =
                |c: u8| ((u32::from(c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8;
            stats.grey[usize::from(grey([un(r), un(g), un(b)]) / 8)] += 1;
        }
        stats.transparent = transparent as f32 / total as f32;
        stats
    }

    /// Share of the opaque pixels whose grey level differs from `background`'s by more than
    /// [`CONTRAST_LEVELS`] (bins whose centre does); 0 when no pixel is opaque (nothing to
    /// see).
    pub fn contrasting(&self, background: [u8; 3]) -> f32 {
        let opaque: u32 = self.grey.iter().sum();
        if opaque == 0 {
            return 0.0;
        }
        let bg = f32::from(grey(background));
        let standing_out: u32 = self
            .grey
            .iter()
            .enumerate()
            .filter(|(bin, _)| {
                let centre = *bin as f32 * 8.0 + 3.5;
                (centre - bg).abs() > f32::from(CONTRAST_LEVELS)
            })
            .map(|(_, n)| n)
            .sum();
        standing_out as f32 / opaque as f32
    }
}

/// Rec. 601 grey level of an sRGB colour.
pub fn grey(rgb: [u8; 3]) -> u8 {
    ((299 * u32::from(rgb[0]) + 587 * u32::from(rgb[1]) + 114 * u32::from(rgb[2]) + 500) / 1000)
        as u8
}

/// The plate policy of a drawing: the mode, the background the images are drawn on, and the
/// plate colour that goes with them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plates {
    pub mode: PlateMode,
    /// The colour behind the images (sRGB).
    pub background: [u8; 3],
    /// The plate's colour (sRGB): see [`Plates::new`].
    pub color: [u8; 3],
}

/// Corner radius of plates, as a fraction of half the image's short side (the quad shader's and
/// the lightbox's).
pub const CORNER: f32 = 0.06;

/// A light neutral for plates on dark backgrounds, a dark one for light backgrounds.
const LIGHT_PLATE: [u8; 3] = [232, 232, 228];
const DARK_PLATE: [u8; 3] = [36, 36, 40];

impl Plates {
    /// Plates for images drawn on `background`: the analysis' composite colour (`composite`, what
    /// the CNN saw behind transparent pixels) when it contrasts with the background, else a
    /// light or dark neutral, whichever contrasts.
    pub fn new(mode: PlateMode, background: [u8; 3], composite: [u8; 3]) -> Plates {
        let bg = i32::from(grey(background));
        let color = if (i32::from(grey(composite)) - bg).abs() >= 96 {
            composite
        } else if bg < 128 {
            LIGHT_PLATE
        } else {
            DARK_PLATE
        };
        Plates {
            mode,
            background,
            color,
        }
    }

    /// Whether an image with these stats is drawn on a plate.
    pub fn wants(&self, stats: &PlateStats) -> bool {
        if stats.transparent < MIN_TRANSPARENT {
            return false;
        }
        match self.mode {
            PlateMode::Never => false,
            PlateMode::Always => true,
            PlateMode::Auto => stats.contrasting(self.background) < MIN_CONTRASTING,
        }
    }
}

impl Default for Plates {
    /// Auto plates on the app's default dark background, white composite.
    fn default() -> Self {
        Plates::new(PlateMode::Auto, [16, 16, 20], [255, 255, 255])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    /// A `size`² image: transparent, with a ring of `ink` (premultiplied, opaque) a few pixels
    /// wide — line art.
    fn line_art(size: u32, ink: [u8; 3]) -> RgbaImage {
        RgbaImage::from_fn(size, size, |x, y| {
            let (dx, dy) = (x as f32 - size as f32 / 2.0, y as f32 - size as f32 / 2.0);
            let r = (dx * dx + dy * dy).sqrt();
            if (r - size as f32 / 3.0).abs() < 2.0 {
                Rgba([ink[0], ink[1], ink[2], 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        })
    }

    #[test]
    fn black_line_art_on_dark_gets_a_light_plate_and_not_on_white() {
        let stats = PlateStats::of_premultiplied(&line_art(64, [0, 0, 0]));
        assert!(stats.transparent > 0.8, "{}", stats.transparent);
        let dark = Plates::new(PlateMode::Auto, [16, 16, 20], [255, 255, 255]);
        assert!(dark.wants(&stats));
        assert_eq!(
            dark.color,
            [255, 255, 255],
            "the analysis' composite colour"
        );
        let white = Plates::new(PlateMode::Auto, [255, 255, 255], [255, 255, 255]);
        assert!(!white.wants(&stats), "black on white stands out");
        assert_eq!(white.color, DARK_PLATE, "white on white would not contrast");
    }

    #[test]
    fn white_icons_get_a_plate_on_white_only() {
        let stats = PlateStats::of_premultiplied(&line_art(64, [250, 250, 250]));
        let white = Plates::new(PlateMode::Auto, [255, 255, 255], [255, 255, 255]);
        assert!(white.wants(&stats));
        let dark = Plates::default();
        assert!(!dark.wants(&stats));
    }

    #[test]
    fn opaque_images_never_get_one_and_modes_are_obeyed() {
        let photo = RgbaImage::from_fn(32, 32, |x, y| Rgba([(x * 8) as u8, (y * 8) as u8, 9, 255]));
        let stats = PlateStats::of_premultiplied(&photo);
        assert_eq!(stats.transparent, 0.0);
        for mode in [PlateMode::Auto, PlateMode::Always, PlateMode::Never] {
            // even a dark photo on the dark background: it is a rectangle, visible by its edge
            assert!(!Plates::new(mode, [16, 16, 20], [255; 3]).wants(&stats));
        }
        let art = PlateStats::of_premultiplied(&line_art(64, [250, 200, 0]));
        assert!(!Plates::default().wants(&art), "colourful art stands out");
        assert!(Plates::new(PlateMode::Always, [16, 16, 20], [255; 3]).wants(&art));
        let black = PlateStats::of_premultiplied(&line_art(64, [0, 0, 0]));
        assert!(!Plates::new(PlateMode::Never, [16, 16, 20], [255; 3]).wants(&black));
    }

    #[test]
    fn premultiplied_half_transparent_pixels_are_unpremultiplied() {
        // 50 %-alpha white, premultiplied: (128, 128, 128, 128) is white, not grey
        let img = RgbaImage::from_pixel(4, 4, Rgba([128, 128, 128, 128]));
        let stats = PlateStats::of_premultiplied(&img);
        assert_eq!(stats.grey[31], 16);
        assert_eq!(
            PlateStats::of_premultiplied(&RgbaImage::new(0, 0)),
            PlateStats::default()
        );
    }
}
