//! The lightbox image: one picture decoded larger (premultiplied RGBA), off the render thread.

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
            // the detail tier's decoder and disk cache: JPEGs DCT-scaled towards the lightbox
            // size, the result kept (keyed by content) so that reopening it is fast
            let image = crate::detail::decode::load_detail(&path, &this.cache, LIGHTBOX_SIDE)
                .map_err(|e| format!("{}: {e}", path.display()));
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
