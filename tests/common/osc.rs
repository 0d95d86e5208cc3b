//! The show controller's side of OSC for tests: a socket that collects what the app sends, and
//! messages to send it.

use rosc::{OscMessage, OscPacket, OscType};
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages the app sent, with when they arrived.
pub type Inbox = Arc<Mutex<Vec<(Instant, OscMessage)>>>;

pub fn listen(socket: UdpSocket) -> Inbox {
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
