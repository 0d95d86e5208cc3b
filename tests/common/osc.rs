//! The show controller's side of OSC for tests: a socket that collects what the app sends, and
//! messages to send it.

use rosc::{OscMessage, OscPacket, OscType};
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages the app sent, with when they arrived.
pub type Inbox = Arc<Mutex<Vec<(Instant, OscMessage)>>>;

fn listen(socket: UdpSocket) -> Inbox {
    let inbox: Inbox = Arc::default();
    let sink = inbox.clone();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok(n) = socket.recv(&mut buf) else {
                if Arc::strong_count(&sink) == 1 {
                    return;
                }
                continue;
            };
            if let Ok((_, OscPacket::Message(m))) = rosc::decoder::decode_udp(&buf[..n]) {
                sink.lock().unwrap().push((Instant::now(), m));
            }
        }
    });
    inbox
}

pub fn encode(addr: &str, args: Vec<OscType>) -> Vec<u8> {
    rosc::encoder::encode(&OscPacket::Message(OscMessage {
        addr: addr.into(),
        args,
    }))
    .unwrap()
}

/// The controller's side of one app run: what the app reports comes into `inbox` (the app is
/// given `--osc-out` to `report_to`), commands go from a socket of its own to `port`, a free
/// port for the app's `--osc-in`.
pub struct Controller {
    pub inbox: Inbox,
    pub report_to: SocketAddr,
    pub port: u16,
    sender: UdpSocket,
}

impl Controller {
    pub fn new() -> Controller {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let report_to = socket.local_addr().unwrap();
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Controller {
            inbox: listen(socket),
            report_to,
            port,
            sender: UdpSocket::bind("127.0.0.1:0").unwrap(),
        }
    }

    /// `--osc-in PORT --osc-out ADDR`: the app's side of this controller.
    pub fn app_args(&self) -> [String; 4] {
        [
            "--osc-in".into(),
            self.port.to_string(),
            "--osc-out".into(),
            self.report_to.to_string(),
        ]
    }

    /// Sends the app one message.
    pub fn send(&self, addr: &str, args: Vec<OscType>) {
        self.send_raw(&encode(addr, args));
    }

    /// Sends the app any bytes (a UDP send that fails is ignored, as a network would).
    pub fn send_raw(&self, packet: &[u8]) {
        let _ = self.sender.send_to(packet, ("127.0.0.1", self.port));
    }

    /// `/capture` the app's window into `path` and read it back, once nannou's capture thread
    /// has written it whole (`log`: the app's stderr, shown if it never comes).
    pub fn capture(&self, path: &std::path::Path, log: &std::path::Path) -> image::RgbaImage {
        self.send(
            "/capture",
            vec![OscType::String(path.to_string_lossy().into_owned())],
        );
        let name = path.display().to_string();
        super::wait_until(&name, log, || path.is_file());
        let mut img = None;
        super::wait_until("a readable capture", log, || {
            img = image::open(path).ok();
            img.is_some()
        });
        img.unwrap().to_rgba8()
    }

    /// Whether the app has sent this message.
    pub fn got(&self, addr: &str, args: &[OscType]) -> bool {
        self.inbox
            .lock()
            .unwrap()
            .iter()
            .any(|(_, m)| m.addr == addr && m.args == args)
    }
}
