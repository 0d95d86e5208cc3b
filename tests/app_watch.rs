//! The real app watching a real folder (under Xvfb): images copied in join the map, a broken
//! file is skipped with a warning naming it, a deleted file leaves the map;
//! the autosave survives a SIGKILL between two additions and the restarted app continues the
//! same map (the old images' t-SNE points bit-identical).

mod common;

use common::{app_command, demo_images, display};
use image_tsne_live::layout_io::read_layout;
use image_tsne_live::map::{sidecar_path, MapState};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// `count` demo emoji of one category.
fn emoji(category: &str, skip: usize, count: usize) -> Vec<PathBuf> {
    let picked: Vec<PathBuf> = demo_images(category)
        .into_iter()
        .skip(skip)
        .take(count)
        .collect();
    assert_eq!(picked.len(), count);
    picked
}

fn start(display: &str, tmp: &Path, pics: &Path, autosave: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    app_command(display, tmp)
        .arg(pics)
        .args([
            "--watch",
            "--hide-gui",
            "--settle-seconds",
            "0.5",
            "--size",
            "640x400",
        ])
        .arg("--autosave")
        .arg(autosave)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the app")
}

/// The autosaved layout's entries (path, point) once it has `n` entries and its map file has
/// been written after it (the layout is written first; the map file follows).
fn wait_for_autosave(
    path: &Path,
    n: usize,
    child: &mut Child,
    log: &Path,
) -> Vec<(PathBuf, [f32; 2])> {
    let start = Instant::now();
    loop {
        if let Ok(l) = read_layout(path) {
            let map_ok = || MapState::load(&sidecar_path(path), path, &l.entries).is_ok();
            if l.entries.len() == n && map_ok() {
                return l
                    .entries
                    .iter()
                    .map(|e| (e.path.clone(), e.point))
                    .collect();
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the app ended ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if start.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            let have = read_layout(path).map(|l| l.entries.len()).ok();
            panic!(
                "no autosave with {n} entries (has {have:?}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Copy a file into the watched folder in chunks, as a copy tool does, but under a hidden name
/// (the watch, like the scan, ignores dot-files) that is renamed into place once complete: no
/// poll of the app, however its timing falls, can see a half-written file. (That a half-written
/// file is held back until it stops changing is tested in `watch`'s unit tests, poll by poll
/// with no clock; here, pausing between chunks against the app's 500 ms poll would make the
/// test depend on timing: a stall longer than a poll looks like a finished copy.)
fn copy_in(from: &Path, to: &Path) {
    place(&std::fs::read(from).unwrap(), to);
}

/// Write `bytes` to `to` as [`copy_in`] does: in chunks to a hidden file, then renamed.
fn place(bytes: &[u8], to: &Path) {
    let part = to.with_file_name(format!(
        ".{}.part",
        to.file_name().unwrap().to_string_lossy()
    ));
    let mut f = std::fs::File::create(&part).unwrap();
    let chunk = bytes.len().div_ceil(6);
    for piece in bytes.chunks(chunk) {
        f.write_all(piece).unwrap();
        f.flush().unwrap();
    }
    f.sync_all().unwrap();
    drop(f);
    std::fs::rename(&part, to).unwrap();
}

/// The map file's raw embedding by path.
fn embedding(autosave: &Path) -> Vec<(PathBuf, [f32; 2])> {
    let layout = read_layout(autosave).unwrap();
    let map = MapState::load(&sidecar_path(autosave), autosave, &layout.entries)
        .expect("the autosaved map file belongs to the autosaved layout");
    map.paths.into_iter().zip(map.embedding).collect()
}

#[test]
fn watched_folder_grows_and_the_autosave_survives_sigkill() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let pics = tmp.path().join("pics");
    std::fs::create_dir(&pics).unwrap();
    for p in emoji("animals-and-nature", 0, 30) {
        std::fs::copy(&p, pics.join(p.file_name().unwrap())).unwrap();
    }
    let pics = pics.canonicalize().unwrap();
    let autosave = tmp.path().join("map.json");
    let log1 = tmp.path().join("run1.log");
    let mut app = start(&display, tmp.path(), &pics, &autosave, &log1);
    let first = wait_for_autosave(&autosave, 30, &mut app, &log1);

    // one image copied in chunks (a partial PNG would not decode), and a broken file
    let slow = emoji("food-and-drink", 0, 1).remove(0);
    let slow_dst = pics.join("slow.png");
    let broken = pics.join("broken.png");
    place(b"this is not a PNG", &broken);
    copy_in(&slow, &slow_dst);
    let second = wait_for_autosave(&autosave, 31, &mut app, &log1);
    let log = std::fs::read_to_string(&log1).unwrap();
    assert!(
        second.iter().any(|(p, _)| p == &slow_dst),
        "the chunked copy joined"
    );
    assert!(!second.iter().any(|(p, _)| p == &broken));
    assert!(
        log.lines()
            .any(|l| l.contains("broken.png") && l.contains("skipped")),
        "a warning names the broken file:\n{log}"
    );
    assert!(
        !log.lines().any(|l| l.contains("slow.png")),
        "the chunked copy was never read half-written:\n{log}"
    );
    // the old images did not move (the JSON's points, as written)
    for (old, new) in first.iter().zip(&second) {
        assert_eq!(old, new);
    }
    let emb_before = embedding(&autosave);

    // a second addition; killed right after it was autosaved
    for p in emoji("food-and-drink", 1, 2) {
        copy_in(&p, &pics.join(p.file_name().unwrap()));
    }
    let third = wait_for_autosave(&autosave, 33, &mut app, &log1);
    app.kill().unwrap(); // SIGKILL
    app.wait().unwrap();
    let emb_third = embedding(&autosave);
    for (a, b) in emb_before.iter().zip(&emb_third) {
        assert_eq!(a.0, b.0);
        assert_eq!(
            a.1.map(f32::to_bits),
            b.1.map(f32::to_bits),
            "bit-identical"
        );
    }

    // restarted with the same command line: the same map, still growing; a deleted file leaves
    let log2 = tmp.path().join("run2.log");
    let mut app = start(&display, tmp.path(), &pics, &autosave, &log2);
    // (deleted at once: an image of the map that is gone when the watch starts is removed too)
    let gone = third[3].0.clone();
    std::fs::remove_file(&gone).unwrap();
    let fourth = wait_for_autosave(&autosave, 32, &mut app, &log2);
    assert!(
        !fourth.iter().any(|(p, _)| p == &gone),
        "the deleted file left"
    );
    let kept: Vec<_> = third.iter().filter(|(p, _)| p != &gone).cloned().collect();
    assert_eq!(kept, fourth, "every other image as placed before the kill");
    let newcomer = emoji("objects", 0, 1).remove(0);
    copy_in(&newcomer, &pics.join("newcomer.png"));
    let fifth = wait_for_autosave(&autosave, 33, &mut app, &log2);
    assert_eq!(&fifth[..32], &fourth[..]);
    let emb_fifth = embedding(&autosave);
    for (a, b) in emb_third.iter().filter(|(p, _)| p != &gone).zip(&emb_fifth) {
        assert_eq!(a.0, b.0);
        assert_eq!(
            a.1.map(f32::to_bits),
            b.1.map(f32::to_bits),
            "bit-identical after restart"
        );
    }
    app.kill().unwrap();
    app.wait().unwrap();
    let log = std::fs::read_to_string(&log2).unwrap();
    assert!(!log.contains("panicked"), "{log}");
}
