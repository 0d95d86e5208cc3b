//! Show control over OSC, against the real app under Xvfb (started here when `DISPLAY` is not
//! set), over loopback UDP: heartbeats arrive at least every 2 s; `/grid 1` switches to the
//! grid (told back as `/layout 1`) and a `/capture` then shows it; 10 000 random and malformed
//! packets change nothing on screen and crash nothing; `/quit` is refused without
//! `--osc-allow-quit`.

mod common;

use common::osc::{encode, Controller};
use common::{app_command, display, signal, wait_for, wait_until};
use rosc::{OscMessage, OscPacket, OscType};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Share of the content's bounding box that is background: the grid packs the images, the
/// t-SNE map leaves room between its clusters.
fn background_share(img: &image::RgbaImage, bg: [u8; 3]) -> f64 {
    let is_bg = |p: &image::Rgba<u8>| (0..3).all(|c| (p[c] as i32 - bg[c] as i32).abs() <= 6);
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if !is_bg(p) {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    assert!(x0 < x1 && y0 < y1, "a blank frame");
    let mut bgc = 0u64;
    for y in y0..=y1 {
        for x in x0..=x1 {
            bgc += u64::from(is_bg(img.get_pixel(x, y)));
        }
    }
    bgc as f64 / ((x1 - x0 + 1) as u64 * (y1 - y0 + 1) as u64) as f64
}

fn mean_abs_diff(a: &image::RgbaImage, b: &image::RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as u64)
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn a_show_controller_drives_the_app_over_osc() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr.txt");
    // the controller's side: where the app reports to, and a socket to send from
    let osc = Controller::new();
    let mut child = app_command(&display, tmp.path())
        .args(["--size", "640x400", "--hide-gui", "--settle-seconds", "0"])
        .args(["--background", "#101014"])
        .args(osc.app_args())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start the app");
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    let send = |addr: &str, args: Vec<OscType>| osc.send(addr, args);
    let got = |addr: &str, args: &[OscType]| osc.got(addr, args);
    let capture = |name: &str| osc.capture(&tmp.path().join(name), &log);

    // the demo map is analysed; the grid is there when the analysis is done: /grid 1 is
    // refused until then and told back as /layout 1 once it takes
    wait_until("the grid, switched to over OSC", &log, || {
        send("/grid", vec![OscType::Int(1)]);
        std::thread::sleep(Duration::from_millis(400));
        got("/layout", &[OscType::Int(1)])
    });
    std::thread::sleep(Duration::from_secs(3)); // the glide to the grid
    let grid = capture("grid.png");
    send("/grid", vec![OscType::Float(0.0)]);
    wait_until("/layout 0", &log, || got("/layout", &[OscType::Int(0)]));
    std::thread::sleep(Duration::from_secs(3));
    let tsne = capture("tsne.png");
    let bg = [16, 16, 20];
    let (g, t) = (background_share(&grid, bg), background_share(&tsne, bg));
    eprintln!("background share of the content box: grid {g:.3}, t-SNE {t:.3}");
    assert!(
        g + 0.15 < t,
        "the grid capture packs its images: background {g:.2} of its box, t-SNE {t:.2}"
    );

    // 10 000 bad packets: random bytes, cut and mangled messages, bundles, unknown addresses,
    // wrong types, out-of-range values, /quit without permission
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let bundle = rosc::encoder::encode(&OscPacket::Bundle(rosc::OscBundle {
        timetag: rosc::OscTime {
            seconds: 0,
            fractional: 1,
        },
        content: vec![OscPacket::Message(OscMessage {
            addr: "/grid".into(),
            args: vec![OscType::Int(1)],
        })],
    }))
    .unwrap();
    let bad: Vec<Vec<u8>> = vec![
        bundle,
        encode("/nope", vec![]),
        encode("/grid", vec![OscType::String("1".into())]),
        encode("/grid", vec![OscType::Int(7)]),
        encode("/blend", vec![OscType::Float(3.0)]),
        encode("/zoom", vec![OscType::Float(-1.0)]),
        encode("/goto", vec![OscType::Int(1_000_000)]),
        encode("/quit", vec![]),
    ];
    for k in 0..10_000 {
        let packet: Vec<u8> = match k % 3 {
            0 => (0..rng.random_range(0..300))
                .map(|_| rng.random())
                .collect(),
            1 => bad[k % bad.len()].clone(),
            _ => {
                let mut p = bad[k % bad.len()].clone();
                let cut = rng.random_range(0..p.len());
                p.truncate(cut);
                p
            }
        };
        osc.send_raw(&packet);
        if k % 500 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the app ended: {}",
        stderr()
    );
    let after = capture("after.png");
    let d = mean_abs_diff(&tsne, &after);
    eprintln!("mean |Δ| before and after the bad packets: {d:.3}");
    assert!(d < 1.0, "bad packets changed the picture (mean |Δ| {d:.2})");
    let log_text = stderr();
    for kind in [
        "Bundle",
        "UnknownAddress",
        "WrongTypes",
        "OutOfRange",
        "QuitNotAllowed",
    ] {
        assert!(
            log_text.contains(&format!("further {kind} messages")),
            "no warning for {kind}: {log_text}"
        );
    }
    assert_eq!(
        log_text.matches("further Bundle messages").count(),
        1,
        "each kind warned once"
    );

    // heartbeats all along: never more than 2 s apart, with the map's image count
    let beats: Vec<(Instant, OscMessage)> = osc
        .inbox
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, m)| m.addr == "/heartbeat")
        .cloned()
        .collect();
    assert!(beats.len() >= 5, "{} heartbeats", beats.len());
    let widest = beats
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or_default();
    eprintln!("{} heartbeats, at most {widest:?} apart", beats.len());
    for w in beats.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(gap <= Duration::from_secs(2), "heartbeats {gap:?} apart");
    }
    let last = &beats.last().unwrap().1;
    assert!(
        matches!(last.args[..], [OscType::Float(fps), OscType::Int(images), OscType::Int(0), OscType::Float(up)]
            if fps > 0.0 && images > 100 && up > 5.0),
        "{last:?}"
    );

    if let Some(keep) = std::env::var_os("OSC_TEST_KEEP") {
        for f in ["grid.png", "tsne.png", "after.png"] {
            let _ = std::fs::copy(tmp.path().join(f), Path::new(&keep).join(f));
        }
    }
    signal(&child, "TERM");
    let status = wait_for(&mut child, Duration::from_secs(120));
    let log_text = stderr();
    assert_eq!(status.code(), Some(143), "{log_text}");
    assert!(!log_text.contains("panicked"), "{log_text}");
}

/// Opening hours: started before they begin, the window is black (while OSC still answers and
/// the heart still beats); when they begin, the show comes on by itself.
#[test]
fn outside_the_opening_hours_the_window_is_black_and_it_wakes_on_time() {
    use image_tsne_live::app::schedule::local_now;
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr.txt");
    let osc = Controller::new();
    // opening at the next whole minute (or the one after, when that is too close), for an hour
    let secs_into_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    let (_, minute) = local_now();
    let ahead = if secs_into_minute > 40 { 2 } else { 1 };
    let open = (minute + ahead) % (24 * 60);
    let close = (open + 60) % (24 * 60);
    let hhmm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let hours = format!("{}-{}", hhmm(open), hhmm(close));
    let started = Instant::now();
    let opens_in = Duration::from_secs(ahead as u64 * 60 - secs_into_minute);
    let mut child = app_command(&display, tmp.path())
        .args(["--size", "480x320", "--hide-gui", "--settle-seconds", "0"])
        .args(["--schedule-hours", &hours])
        .args(osc.app_args())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start the app");
    let capture = |name: &str| -> image::RgbaImage {
        let path = tmp.path().join(name);
        let msg = encode(
            "/capture",
            vec![OscType::String(path.to_string_lossy().into_owned())],
        );
        // asked again every 2 s: the first asks may come before the app listens
        let mut img = None;
        let mut asked: Option<Instant> = None;
        wait_until(name, &log, || {
            if asked.is_none_or(|t| t.elapsed() > Duration::from_secs(2)) {
                osc.send_raw(&msg);
                asked = Some(Instant::now());
            }
            img = image::open(&path).ok();
            img.is_some()
        });
        img.unwrap().to_rgba8()
    };
    // up and listening: its heart beats
    wait_until("the first heartbeat", &log, || {
        osc.inbox
            .lock()
            .unwrap()
            .iter()
            .any(|(_, m)| m.addr == "/heartbeat")
    });
    let closed = capture("closed.png");
    assert!(
        started.elapsed() + Duration::from_secs(2) < opens_in,
        "the capture came too late to be before the opening"
    );
    assert!(
        closed.pixels().all(|p| p[0] == 0 && p[1] == 0 && p[2] == 0),
        "closed: a black window"
    );
    // the show opens on time and draws the (demo) map
    std::thread::sleep(opens_in.saturating_sub(started.elapsed()) + Duration::from_secs(3));
    let mut open_frame = capture("open.png");
    let waited = Instant::now();
    while common::spread(&open_frame).0 < 50 && waited.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_secs(2));
        let _ = std::fs::remove_file(tmp.path().join("open.png"));
        open_frame = capture("open.png");
    }
    assert!(
        common::spread(&open_frame).0 >= 50,
        "open: the map is drawn again"
    );
    let beats: Vec<Instant> = osc
        .inbox
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, m)| m.addr == "/heartbeat")
        .map(|(t, _)| *t)
        .collect();
    assert!(beats.len() >= 20, "{} heartbeats", beats.len());
    for w in beats.windows(2) {
        assert!(
            w[1] - w[0] <= Duration::from_secs(2),
            "heartbeats {:?} apart",
            w[1] - w[0]
        );
    }
    signal(&child, "TERM");
    let status = wait_for(&mut child, Duration::from_secs(120));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(143), "{text}");
    assert!(
        text.contains("outside the opening hours")
            && text.contains("opening hours: the show goes on"),
        "{text}"
    );
}

/// Named clusters and metadata in the running app: the tour flies to each cluster and tells the
/// controller its number and name (`/tour/cluster i name`, the caption on screen); `/cluster i`
/// flies there (the cluster fills the window: less background than the whole map),
/// `/cluster -1` back to the whole map, `/cluster 99` changes nothing; with the demo set's
/// `labels.csv` as `--metadata`, `/filter flag` dims every image but the flags.
#[test]
fn the_tour_and_a_controller_visit_named_clusters() {
    let (display, _xvfb) = display();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr.txt");
    let osc = Controller::new();
    let mut child = app_command(&display, tmp.path())
        // the demo set where its labels.csv is (the metadata's relative paths lead there)
        .arg(common::demo_dir())
        .args(["--size", "640x400", "--hide-gui", "--settle-seconds", "0"])
        .args([
            "--background",
            "#101014",
            "--gallery",
            "--toggle-every",
            "0",
        ])
        .arg("--metadata")
        .arg(common::demo_dir().join("labels.csv"))
        .args(osc.app_args())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start the app");
    let capture = |name: &str| osc.capture(&tmp.path().join(name), &log);
    // the tour's second move visits cluster 0 and names it
    let mut visit = None;
    wait_until("/tour/cluster", &log, || {
        visit = osc
            .inbox
            .lock()
            .unwrap()
            .iter()
            .find(|(_, m)| m.addr == "/tour/cluster")
            .map(|(_, m)| m.args.clone());
        visit.is_some()
    });
    match visit.unwrap().as_slice() {
        [OscType::Int(0), OscType::String(name)] => assert!(!name.is_empty()),
        other => panic!("/tour/cluster {other:?}"),
    }
    // a controller takes over: the whole map, then cluster 0 close up
    osc.send("/cluster", vec![OscType::Int(-1)]);
    std::thread::sleep(Duration::from_secs(3));
    let whole = capture("whole.png");
    osc.send("/cluster", vec![OscType::Int(0)]);
    std::thread::sleep(Duration::from_secs(3));
    let close = capture("cluster.png");
    osc.send("/cluster", vec![OscType::Int(99)]);
    std::thread::sleep(Duration::from_secs(1));
    let still = capture("still.png");
    let bg = [16, 16, 20];
    let share = |img: &image::RgbaImage| {
        let is_bg = |p: &image::Rgba<u8>| (0..3).all(|c| (p[c] as i32 - bg[c] as i32).abs() <= 6);
        img.pixels().filter(|p| is_bg(p)).count() as f64 / (img.width() * img.height()) as f64
    };
    let (w, c) = (share(&whole), share(&close));
    eprintln!("background share: whole map {w:.3}, cluster 0 {c:.3}");
    assert!(
        c + 0.1 < w,
        "cluster 0 fills the window: background {c:.2}, whole map {w:.2}"
    );
    let d = mean_abs_diff(&close, &still);
    assert!(d < 1.0, "/cluster 99 moved the view (mean |Δ| {d:.2})");
    // the filter: the flags keep their light, the rest dims to 15 %
    osc.send("/cluster", vec![OscType::Int(-1)]);
    std::thread::sleep(Duration::from_secs(3));
    let before = capture("unfiltered.png");
    osc.send("/filter", vec![OscType::String("flag".into())]);
    std::thread::sleep(Duration::from_secs(1));
    let filtered = capture("filtered.png");
    let light = |img: &image::RgbaImage| {
        img.pixels()
            .map(|p| p[0] as f64 + p[1] as f64 + p[2] as f64)
            .sum::<f64>()
            / (img.width() * img.height()) as f64
    };
    let (lb, lf) = (light(&before), light(&filtered));
    // where the map is drawn, most pixels keep 15 % of their light, the flags' all of it
    let (mut kept, mut dimmed, mut drawn) = (0usize, 0usize, 0usize);
    for (a, b) in before.pixels().zip(filtered.pixels()) {
        let (la, lb) = (
            a[0] as f64 + a[1] as f64 + a[2] as f64,
            b[0] as f64 + b[1] as f64 + b[2] as f64,
        );
        if la > 150.0 {
            drawn += 1;
            kept += usize::from(lb > 0.85 * la);
            dimmed += usize::from(lb < 0.6 * la);
        }
    }
    let (kept, dimmed) = (kept as f64 / drawn as f64, dimmed as f64 / drawn as f64);
    eprintln!(
        "mean light: unfiltered {lb:.1}, filtered {lf:.1}; of the bright pixels {kept:.3} kept, {dimmed:.3} dimmed"
    );
    assert!(lf < 0.75 * lb, "the filter dims the map: {lb:.1} → {lf:.1}");
    assert!(
        kept > 0.03 && dimmed > 0.6,
        "kept {kept:.3}, dimmed {dimmed:.3}"
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !text.contains("match no image"),
        "the demo's labels.csv describes every image: {text}"
    );
    if let Some(keep) = std::env::var_os("OSC_TEST_KEEP") {
        for f in ["whole.png", "cluster.png", "filtered.png"] {
            let _ = std::fs::copy(tmp.path().join(f), Path::new(&keep).join(f));
        }
    }
    signal(&child, "TERM");
    let status = wait_for(&mut child, Duration::from_secs(120));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(143), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
