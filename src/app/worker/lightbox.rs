//! The lightbox image: one picture decoded larger, off the render thread.

use super::{Msg, Workers};
use std::path::PathBuf;
use std::sync::Arc;

/// Longest side of the lightbox image.
const LIGHTBOX_SIDE: u32 = 2048;

impl Workers {
    /// Decode an image for the lightbox (at most 2048 px) on a thread.
    pub fn load_lightbox(self: &Arc<Self>, index: usize, path: PathBuf) {
        let this = self.clone();
        let spawned = self.spawn("itl-lightbox", move || {
            // JPEGs DCT-scaled towards the lightbox size, like the detail tier's versions
            let image = crate::thumbs::read_image_file(&path)
                .and_then(|bytes| crate::detail_decode::decode_scaled(&bytes, LIGHTBOX_SIDE))
                .map_err(|e| format!("{}: {e}", path.display()))
                .map(|img| {
                    let img = if img.width().max(img.height()) > LIGHTBOX_SIDE {
                        img.resize(
                            LIGHTBOX_SIDE,
                            LIGHTBOX_SIDE,
                            image::imageops::FilterType::Triangle,
                        )
                    } else {
                        img
                    };
                    img.to_rgba8()
                });
            this.send(Msg::Lightbox { index, image });
        });
        if let Err(e) = spawned {
            self.send(Msg::Lightbox {
                index,
                image: Err(format!("cannot start a thread to open the image: {e}")),
            });
        }
    }
}
