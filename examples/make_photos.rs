//! Make a folder of large test photos for memory and decode-speed measurements: every image of
//! `../shared/datasets/large-images` (3640×2400 to 4096×4096) resized to W×H and written as a
//! JPEG (quality 90), repeated under new names until COUNT files exist.
//!
//! ```sh
//! cargo run --release --example make_photos -- /tmp/photos24 [--count 16] [--size 6000x4000]
//! /usr/bin/time -v target/release/image-tsne-live analyze /tmp/photos24 -o /tmp/p.json --no-cache
//! ```

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/shared.rs"]
mod shared;

use image::codecs::jpeg::JpegEncoder;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: OUT_DIR"))?,
    );
    let (mut count, mut size) = (16usize, (6000u32, 4000u32));
    while let Some(a) = args.next() {
        let v = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))?;
        match a.as_str() {
            "--count" => count = v.parse()?,
            "--size" => {
                let (w, h) = v.split_once('x').ok_or_else(|| anyhow::anyhow!("WxH"))?;
                size = (w.parse()?, h.parse()?);
            }
            _ => anyhow::bail!("unknown argument {a}"),
        }
    }
    let sources = shared::large_images()?;
    std::fs::create_dir_all(&out)?;
    for i in 0..count {
        let path = &sources[i % sources.len()];
        let img = image::open(path)?.to_rgb8();
        let img =
            image::imageops::resize(&img, size.0, size.1, image::imageops::FilterType::Triangle);
        let file = out.join(format!("photo-{i:04}.jpg"));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
        JpegEncoder::new_with_quality(&mut w, 90).encode_image(&img)?;
        println!(
            "{} ({}×{}) from {}",
            file.display(),
            size.0,
            size.1,
            path.display()
        );
    }
    Ok(())
}
