//! OSC show control over UDP: `--osc-in [ADDR:]PORT` takes commands from a show-control
//! system (QLab, Bitfocus Companion, TouchDesigner, Max), `--osc-out HOST:PORT` sends it a
//! heartbeat and events. The addresses and argument types below are the interface.
//!
//! In: `/grid i` (1 grid, 0 t-SNE), `/blend f` (0–1, held: a fader), `/tour i`, `/goto i`
//! (image index) or `/goto s` (path or file name), `/lightbox i` (open image i larger on every
//! output; −1 closes), `/zoom f` (factor, > 1 closer), `/pan f f`
//! (fractions of the window), `/fit`, `/capture s` (this frame as PNG to path s),
//! `/screenshot s` (the whole layout), `/load s` (layout JSON), `/analyze s` (folder),
//! `/watch i`, `/gui i`, and `/quit` with `--osc-allow-quit`. Numbers may come as int, float,
//! long, double or bool (controllers differ); a switch takes 0 or 1.
//!
//! Out: `/heartbeat f i i f` (fps, images shown, GPU errors, uptime in seconds) every second;
//! `/joined s i` (path, index) when a watched image joins; `/tour/at s i` when the tour settles
//! on an image; `/layout i` when the layout switches (1 grid).
//!
//! A packet is read and decoded on its own thread, and only a decoded command reaches the
//! render loop, which takes at most [`MAX_PER_FRAME`] a frame: a flood cannot stall a frame,
//! and nothing a packet holds can panic it. Bad packets (malformed, bundles, unknown
//! addresses, wrong types, values out of range, commands the state refuses) are counted by
//! kind and the first of each kind is warned about.

use super::state::{Remote, RemoteEvent};
use anyhow::{anyhow, Context, Result};
use rosc::{OscMessage, OscPacket, OscType};
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// Commands carried out per frame at most (the rest wait for the next frames).
pub const MAX_PER_FRAME: usize = 64;
/// Commands waiting for the render loop at most; more are dropped (and counted).
const QUEUE: usize = 4096;
/// Longest path or name taken from a message.
const MAX_TEXT: usize = 4096;
/// Seconds between heartbeats.
pub const HEARTBEAT_SECONDS: f64 = 1.0;

/// Why a message was not carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadKind {
    /// Not an OSC packet.
    Malformed,
    /// A bundle (only plain messages are taken).
    Bundle,
    UnknownAddress,
    WrongTypes,
    OutOfRange,
    /// `/quit` without `--osc-allow-quit`.
    QuitNotAllowed,
    /// The viewer could not do it now (no map yet, no such image).
    Refused,
    /// More arrived than the render loop takes; dropped.
    Overflow,
}

/// A refused message: its kind and what was wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Bad {
    pub kind: BadKind,
    pub detail: String,
}

fn bad(kind: BadKind, detail: impl Into<String>) -> Bad {
    Bad {
        kind,
        detail: detail.into(),
    }
}

/// Decode one UDP packet into a command.
pub fn parse(packet: &[u8], allow_quit: bool) -> Result<Remote, Bad> {
    let (_, decoded) =
        rosc::decoder::decode_udp(packet).map_err(|e| bad(BadKind::Malformed, format!("{e:?}")))?;
    match decoded {
        OscPacket::Bundle(_) => Err(bad(
            BadKind::Bundle,
            "bundles are not taken: send plain messages",
        )),
        OscPacket::Message(m) => message(m, allow_quit),
    }
}

/// A number in any of the numeric types controllers send.
fn number(a: &OscType) -> Option<f64> {
    match *a {
        OscType::Int(v) => Some(v as f64),
        OscType::Float(v) => Some(v as f64),
        OscType::Long(v) => Some(v as f64),
        OscType::Double(v) => Some(v),
        OscType::Bool(v) => Some(if v { 1.0 } else { 0.0 }),
        _ => None,
    }
}

fn message(m: OscMessage, allow_quit: bool) -> Result<Remote, Bad> {
    let addr = m.addr.as_str();
    let args = &m.args;
    let types = || {
        bad(
            BadKind::WrongTypes,
            format!("{addr}: arguments {args:?} are not what it takes"),
        )
    };
    let range = |what: &str| bad(BadKind::OutOfRange, format!("{addr}: {what}"));
    let numbers = |n: usize| -> Result<Vec<f64>, Bad> {
        if args.len() != n {
            return Err(types());
        }
        let v: Option<Vec<f64>> = args.iter().map(number).collect();
        let v = v.ok_or_else(types)?;
        if v.iter().any(|x| !x.is_finite()) {
            return Err(range("not a finite number"));
        }
        Ok(v)
    };
    let switch = || -> Result<bool, Bad> {
        match numbers(1)?[0] {
            v if v == 0.0 => Ok(false),
            v if v == 1.0 => Ok(true),
            v => Err(range(&format!("{v} is neither 0 nor 1"))),
        }
    };
    let text = || -> Result<String, Bad> {
        match &args[..] {
            [OscType::String(s)] => {
                if s.is_empty() || s.len() > MAX_TEXT || s.contains('\0') {
                    Err(range("an empty, overlong or NUL-holding text"))
                } else {
                    Ok(s.clone())
                }
            }
            _ => Err(types()),
        }
    };
    let path = || text().map(PathBuf::from);
    // one whole, non-negative number: an image or cluster index (`what`, for the refusal)
    let index = |what: &str| -> Result<usize, Bad> {
        let i = numbers(1)?[0];
        if i < 0.0 || i.fract() != 0.0 || i > u32::MAX as f64 {
            return Err(range(&format!("{i} is not {what}")));
        }
        Ok(i as usize)
    };
    // an index, or −1 for none
    let index_or_none = |what: &str| -> Result<Option<usize>, Bad> {
        if numbers(1)?[0] == -1.0 {
            Ok(None)
        } else {
            index(what).map(Some)
        }
    };
    Ok(match addr {
        "/grid" => Remote::Grid(switch()?),
        "/blend" => {
            let b = numbers(1)?[0];
            if !(0.0..=1.0).contains(&b) {
                return Err(range(&format!("{b} is outside 0–1")));
            }
            Remote::Blend(b as f32)
        }
        "/tour" => Remote::Tour(switch()?),
        "/goto" => match &args[..] {
            [OscType::String(_)] => Remote::GotoPath(text()?),
            _ => Remote::GotoIndex(index("an image index")?),
        },
        "/lightbox" => Remote::Lightbox(index_or_none("an image index (or −1 to close)")?),
        "/filter" => match &args[..] {
            [] => Remote::Filter(String::new()),
            _ => Remote::Filter(text()?),
        },
        "/cluster" => Remote::Cluster(index_or_none("a cluster number (or −1 for the whole map)")?),
        "/zoom" => {
            let f = numbers(1)?[0];
            if !(1e-3..=1e3).contains(&f) {
                return Err(range(&format!("zoom factor {f} is outside 0.001–1000")));
            }
            Remote::Zoom(f as f32)
        }
        "/pan" => {
            let v = numbers(2)?;
            if v.iter().any(|x| x.abs() > 100.0) {
                return Err(range("more than 100 windows at once"));
            }
            Remote::Pan(v[0] as f32, v[1] as f32)
        }
        "/fit" => {
            if !args.is_empty() {
                return Err(types());
            }
            Remote::Fit
        }
        "/capture" => Remote::Capture(path()?),
        "/screenshot" => Remote::Screenshot(path()?),
        "/load" => Remote::Load(path()?),
        "/analyze" => Remote::Analyze(path()?),
        "/watch" => Remote::Watch(switch()?),
        "/gui" => Remote::Gui(switch()?),
        "/quit" => {
            if !allow_quit {
                return Err(bad(
                    BadKind::QuitNotAllowed,
                    "/quit: not allowed (start with --osc-allow-quit)",
                ));
            }
            Remote::Quit
        }
        other => {
            let shown: String = other.chars().take(64).collect();
            return Err(bad(
                BadKind::UnknownAddress,
                format!("unknown address {shown}"),
            ));
        }
    })
}

/// Refused messages counted by kind.
#[derive(Debug, Default)]
pub struct BadCounts {
    counts: BTreeMap<BadKind, u64>,
}

impl BadCounts {
    /// Count one; `true` when it is the first of its kind (to be warned about).
    pub fn record(&mut self, kind: BadKind) -> bool {
        let c = self.counts.entry(kind).or_default();
        *c += 1;
        *c == 1
    }
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
    pub fn of(&self, kind: BadKind) -> u64 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }
}

/// `[ADDR:]PORT` of `--osc-in`: a bare port listens on 127.0.0.1 (this machine only).
pub fn listen_address(spec: &str) -> Result<SocketAddr> {
    if let Ok(port) = spec.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    spec.parse::<SocketAddr>()
        .map_err(|_| anyhow!("--osc-in {spec}: give PORT or ADDR:PORT (e.g. 9000 or 0.0.0.0:9000)"))
}

/// `HOST:PORT` of `--osc-out`, resolved.
pub fn send_address(spec: &str) -> Result<SocketAddr> {
    spec.to_socket_addrs()
        .with_context(|| format!("--osc-out {spec}: give HOST:PORT (e.g. 127.0.0.1:9001)"))?
        .next()
        .ok_or_else(|| anyhow!("--osc-out {spec}: the host has no address"))
}

/// Commands arriving over UDP, decoded on their own thread.
pub struct OscIn {
    rx: Receiver<Result<Remote, Bad>>,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    dropped_told: u64,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The address listened on (the port the system chose, when 0 was asked).
    pub local: SocketAddr,
}

impl OscIn {
    /// Listen on `addr`.
    pub fn bind(addr: SocketAddr, allow_quit: bool) -> Result<OscIn> {
        let socket =
            UdpSocket::bind(addr).with_context(|| format!("cannot listen for OSC on {addr}"))?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let local = socket.local_addr()?;
        let (tx, rx) = sync_channel(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let (stop2, dropped2) = (stop.clone(), dropped.clone());
        let thread = std::thread::Builder::new()
            .name("osc-in".into())
            .spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !stop2.load(Ordering::Relaxed) {
                    let n = match socket.recv_from(&mut buf) {
                        Ok((n, _)) => n,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            continue
                        }
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(50));
                            continue;
                        }
                    };
                    let packet = &buf[..n];
                    // the decoder is not ours: whatever it does with a packet stays here
                    let parsed = std::panic::catch_unwind(|| parse(packet, allow_quit))
                        .unwrap_or_else(|_| Err(bad(BadKind::Malformed, "undecodable packet")));
                    match tx.try_send(parsed) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            dropped2.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(TrySendError::Disconnected(_)) => break,
                    }
                }
            })?;
        Ok(OscIn {
            rx,
            stop,
            dropped,
            dropped_told: 0,
            thread: Some(thread),
            local,
        })
    }

    /// The next decoded message, if one is waiting; messages dropped for a full queue come
    /// out as one [`BadKind::Overflow`] per batch.
    pub fn try_recv(&mut self) -> Option<Result<Remote, Bad>> {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.dropped_told {
            let n = dropped - self.dropped_told;
            self.dropped_told = dropped;
            return Some(Err(bad(
                BadKind::Overflow,
                format!("{n} messages dropped: more arrived than the viewer takes"),
            )));
        }
        self.rx.try_recv().ok()
    }
}

impl Drop for OscIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Messages to a show controller; sending never blocks (a message that cannot go is dropped
/// and counted).
pub struct OscOut {
    socket: UdpSocket,
    target: SocketAddr,
    pub failed: u64,
}

impl OscOut {
    pub fn new(target: SocketAddr) -> Result<OscOut> {
        let any: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(any).context("cannot open a socket for OSC out")?;
        socket.set_nonblocking(true)?;
        Ok(OscOut {
            socket,
            target,
            failed: 0,
        })
    }

    pub fn send(&mut self, addr: &str, args: Vec<OscType>) {
        let packet = OscPacket::Message(OscMessage {
            addr: addr.to_string(),
            args,
        });
        let ok = rosc::encoder::encode(&packet)
            .ok()
            .is_some_and(|bytes| self.socket.send_to(&bytes, self.target).is_ok());
        if !ok {
            self.failed += 1;
        }
    }

    /// `/heartbeat f i i f`: fps, images shown, GPU errors, uptime (s).
    pub fn heartbeat(&mut self, fps: f32, images: usize, gpu_errors: u64, uptime: f64) {
        self.send(
            "/heartbeat",
            vec![
                OscType::Float(fps),
                OscType::Int(images.min(i32::MAX as usize) as i32),
                OscType::Int(gpu_errors.min(i32::MAX as u64) as i32),
                OscType::Float(uptime as f32),
            ],
        );
    }

    pub fn event(&mut self, e: &RemoteEvent) {
        let path_index = |p: &std::path::Path, i: usize| {
            vec![
                OscType::String(p.to_string_lossy().into_owned()),
                OscType::Int(i.min(i32::MAX as usize) as i32),
            ]
        };
        match e {
            RemoteEvent::Joined { path, index } => self.send("/joined", path_index(path, *index)),
            RemoteEvent::TourAt { path, index } => self.send("/tour/at", path_index(path, *index)),
            RemoteEvent::Layout(grid) => self.send("/layout", vec![OscType::Int(*grid as i32)]),
            RemoteEvent::TourCluster { index, label } => self.send(
                "/tour/cluster",
                vec![OscType::Int(*index as i32), OscType::String(label.clone())],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn msg(addr: &str, args: Vec<OscType>) -> Vec<u8> {
        rosc::encoder::encode(&OscPacket::Message(OscMessage {
            addr: addr.into(),
            args,
        }))
        .expect("encode")
    }

    fn kind(r: Result<Remote, Bad>) -> BadKind {
        r.expect_err("refused").kind
    }

    #[test]
    fn the_interface_messages_decode() {
        use OscType::*;
        let p = |a: &str, args: Vec<OscType>| parse(&msg(a, args), false);
        assert_eq!(p("/grid", vec![Int(1)]), Ok(Remote::Grid(true)));
        assert_eq!(p("/grid", vec![Float(0.0)]), Ok(Remote::Grid(false)));
        assert_eq!(p("/grid", vec![Bool(true)]), Ok(Remote::Grid(true)));
        assert_eq!(p("/blend", vec![Float(0.25)]), Ok(Remote::Blend(0.25)));
        assert_eq!(p("/blend", vec![Int(1)]), Ok(Remote::Blend(1.0)));
        assert_eq!(p("/tour", vec![Int(0)]), Ok(Remote::Tour(false)));
        assert_eq!(p("/goto", vec![Int(12)]), Ok(Remote::GotoIndex(12)));
        assert_eq!(p("/lightbox", vec![Int(5)]), Ok(Remote::Lightbox(Some(5))));
        assert_eq!(p("/cluster", vec![Int(2)]), Ok(Remote::Cluster(Some(2))));
        assert_eq!(
            p("/filter", vec![String("red flag".into())]),
            Ok(Remote::Filter("red flag".into()))
        );
        assert_eq!(
            p("/filter", vec![]),
            Ok(Remote::Filter(std::string::String::new()))
        );
        assert_eq!(p("/cluster", vec![Float(-1.0)]), Ok(Remote::Cluster(None)));
        assert!(p("/cluster", vec![Float(1.5)]).is_err());
        assert_eq!(
            p("/lightbox", vec![Float(-1.0)]),
            Ok(Remote::Lightbox(None))
        );
        assert_eq!(p("/goto", vec![Double(3.0)]), Ok(Remote::GotoIndex(3)));
        assert_eq!(
            p("/goto", vec![String("cat.jpg".into())]),
            Ok(Remote::GotoPath("cat.jpg".into()))
        );
        assert_eq!(p("/zoom", vec![Float(2.0)]), Ok(Remote::Zoom(2.0)));
        assert_eq!(
            p("/pan", vec![Float(0.5), Int(-1)]),
            Ok(Remote::Pan(0.5, -1.0))
        );
        assert_eq!(p("/fit", vec![]), Ok(Remote::Fit));
        assert_eq!(
            p("/capture", vec![String("/tmp/a.png".into())]),
            Ok(Remote::Capture("/tmp/a.png".into()))
        );
        assert_eq!(
            p("/screenshot", vec![String("b.png".into())]),
            Ok(Remote::Screenshot("b.png".into()))
        );
        assert_eq!(
            p("/load", vec![String("map.json".into())]),
            Ok(Remote::Load("map.json".into()))
        );
        assert_eq!(
            p("/analyze", vec![String("/photos".into())]),
            Ok(Remote::Analyze("/photos".into()))
        );
        assert_eq!(p("/watch", vec![Long(1)]), Ok(Remote::Watch(true)));
        assert_eq!(p("/gui", vec![Int(0)]), Ok(Remote::Gui(false)));
        assert_eq!(parse(&msg("/quit", vec![]), true), Ok(Remote::Quit));
    }

    #[test]
    fn bad_messages_are_refused_by_kind() {
        use OscType::*;
        let p = |a: &str, args: Vec<OscType>| parse(&msg(a, args), false);
        assert_eq!(kind(p("/quit", vec![])), BadKind::QuitNotAllowed);
        assert_eq!(kind(p("/nope", vec![])), BadKind::UnknownAddress);
        assert_eq!(kind(p("/grid", vec![])), BadKind::WrongTypes);
        assert_eq!(
            kind(p("/grid", vec![String("1".into())])),
            BadKind::WrongTypes
        );
        assert_eq!(kind(p("/grid", vec![Int(2)])), BadKind::OutOfRange);
        assert_eq!(kind(p("/grid", vec![Float(f32::NAN)])), BadKind::OutOfRange);
        assert_eq!(kind(p("/blend", vec![Float(1.5)])), BadKind::OutOfRange);
        assert_eq!(kind(p("/blend", vec![Int(1), Int(2)])), BadKind::WrongTypes);
        assert_eq!(kind(p("/goto", vec![Int(-1)])), BadKind::OutOfRange);
        assert_eq!(kind(p("/lightbox", vec![Int(-2)])), BadKind::OutOfRange);
        assert_eq!(kind(p("/lightbox", vec![])), BadKind::WrongTypes);
        assert_eq!(kind(p("/goto", vec![Float(1.5)])), BadKind::OutOfRange);
        assert_eq!(kind(p("/zoom", vec![Float(0.0)])), BadKind::OutOfRange);
        assert_eq!(
            kind(p("/zoom", vec![Float(f32::INFINITY)])),
            BadKind::OutOfRange
        );
        assert_eq!(kind(p("/pan", vec![Float(1.0)])), BadKind::WrongTypes);
        assert_eq!(
            kind(p("/pan", vec![Float(1e9), Float(0.0)])),
            BadKind::OutOfRange
        );
        assert_eq!(kind(p("/fit", vec![Int(1)])), BadKind::WrongTypes);
        assert_eq!(
            kind(p("/capture", vec![String(std::string::String::new())])),
            BadKind::OutOfRange
        );
        assert_eq!(kind(p("/load", vec![Int(3)])), BadKind::WrongTypes);
        assert_eq!(kind(parse(b"not osc at all", false)), BadKind::Malformed);
        assert_eq!(kind(parse(&[], false)), BadKind::Malformed);
        let bundle = rosc::encoder::encode(&OscPacket::Bundle(rosc::OscBundle {
            timetag: rosc::OscTime {
                seconds: 0,
                fractional: 1,
            },
            content: vec![OscPacket::Message(OscMessage {
                addr: "/fit".into(),
                args: vec![],
            })],
        }))
        .expect("encode");
        assert_eq!(kind(parse(&bundle, false)), BadKind::Bundle);
    }

    /// 10 000 random and mangled packets: each is refused or decoded, none panics.
    #[test]
    fn random_packets_never_panic() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let good = [
            msg("/grid", vec![OscType::Int(1)]),
            msg("/goto", vec![OscType::String("x.png".into())]),
            msg("/pan", vec![OscType::Float(0.1), OscType::Float(0.2)]),
        ];
        let mut decoded = 0;
        for k in 0..10_000 {
            let packet: Vec<u8> = if k % 2 == 0 {
                let len = rng.random_range(0..200);
                (0..len).map(|_| rng.random()).collect()
            } else {
                // a real message with bytes flipped, cut or extended
                let mut p = good[k % good.len()].clone();
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..p.len());
                    p[at] = rng.random();
                }
                let cut = rng.random_range(0..=p.len() + 8);
                p.resize(cut, 0);
                p
            };
            if let Ok(r) = std::panic::catch_unwind(|| parse(&packet, false)) {
                decoded += usize::from(r.is_ok());
            } else {
                panic!("packet {packet:?} panicked the decoder");
            }
        }
        assert!(decoded < 10_000);
    }

    #[test]
    fn addresses_of_the_options() {
        assert_eq!(
            listen_address("9000").unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
        assert_eq!(
            listen_address("0.0.0.0:9001").unwrap(),
            "0.0.0.0:9001".parse().unwrap()
        );
        assert!(listen_address("nine").is_err());
        assert_eq!(
            send_address("127.0.0.1:9002").unwrap(),
            "127.0.0.1:9002".parse().unwrap()
        );
        assert!(send_address("nohost").is_err());
    }

    /// Over loopback: a command sent arrives decoded; what the viewer sends arrives as sent.
    #[test]
    fn loopback_in_and_out() {
        let mut input = OscIn::bind("127.0.0.1:0".parse().unwrap(), false).expect("bind");
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender
            .send_to(&msg("/grid", vec![OscType::Int(1)]), input.local)
            .unwrap();
        sender.send_to(b"garbage", input.local).unwrap();
        let mut got = vec![];
        let start = std::time::Instant::now();
        while got.len() < 2 && start.elapsed() < Duration::from_secs(10) {
            match input.try_recv() {
                Some(r) => got.push(r),
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        assert_eq!(got[0], Ok(Remote::Grid(true)));
        assert_eq!(got[1].as_ref().map_err(|b| b.kind), Err(BadKind::Malformed));

        let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut out = OscOut::new(listener.local_addr().unwrap()).unwrap();
        out.heartbeat(59.5, 360, 0, 12.0);
        out.event(&RemoteEvent::Layout(true));
        let mut buf = [0u8; 1024];
        let mut next = || {
            let n = listener.recv(&mut buf).expect("a message");
            match rosc::decoder::decode_udp(&buf[..n]).expect("osc").1 {
                OscPacket::Message(m) => m,
                OscPacket::Bundle(_) => panic!("a bundle"),
            }
        };
        let hb = next();
        assert_eq!(hb.addr, "/heartbeat");
        assert_eq!(
            hb.args,
            vec![
                OscType::Float(59.5),
                OscType::Int(360),
                OscType::Int(0),
                OscType::Float(12.0)
            ]
        );
        let layout = next();
        assert_eq!(
            (layout.addr.as_str(), layout.args),
            ("/layout", vec![OscType::Int(1)])
        );
        assert_eq!(out.failed, 0);
    }
}
