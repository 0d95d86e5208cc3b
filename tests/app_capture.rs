//! Frame captures when their folder goes away, in the real app under Xvfb (started here when
//! `DISPLAY` is not set). nannou's `Window::capture_frame` makes a missing folder on the render
//! thread with `create_dir_all(..).expect(..)`: a capture folder that disappears during a show
//! and cannot be made again ended the app with a panic. Now the app goes on, warns, and
//! captures again once the folder can be made.

mod common;

use common::{app_command, display, signal, wait_for, wait_until};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn pngs(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
            .count()
    })
}

#[test]
fn a_capture_folder_that_goes_away_is_warned_about_and_the_show_goes_on() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let frames = out.join("frames");
    let log = tmp.path().join("stderr.txt");
    let mut child = app_command(&display, tmp.path())
        .args(["--size", "640x400", "--capture-every", "0.3"])
        .arg(&frames)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start the app");
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until("the first captured frame", &log, || pngs(&frames) > 0);
    // the folder goes, and a file takes its parent's place: it cannot be made again
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::write(&out, "not a folder").unwrap();
    let mut ended = None;
    wait_until("the warning", &log, || {
        ended = child.try_wait().unwrap();
        ended.is_some() || stderr().contains("cannot capture frames into")
    });
    assert!(ended.is_none(), "the app ended ({ended:?}):\n{}", stderr());
    // the way is free again: the app makes the folder (off the render thread) and captures
    std::fs::remove_file(&out).unwrap();
    wait_until("captures into the folder made again", &log, || {
        pngs(&frames) > 0
    });
    signal(&child, "TERM");
    let status = wait_for(&mut child, Duration::from_secs(120));
    let stderr = stderr();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.matches("cannot capture frames into").count(),
        1,
        "one warning while the folder cannot be made: {stderr}"
    );
}
