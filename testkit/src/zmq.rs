//! A ZMQ publisher that sends what Bitcoin Core sends: three frames per
//! message (topic, body, 4-byte little-endian sequence number per topic),
//! and can drop messages, restart, or send garbage on purpose.

use std::collections::HashMap;

/// A publisher bound on loopback. On the wire it is Core's PUB socket; it
/// is an XPUB so a test can see subscriptions arrive (ZMQ drops what a
/// publisher sends before a subscription reaches it) instead of sleeping.
pub struct ZmqPublisher {
    socket: zmq::Socket,
    endpoint: String,
    seq: HashMap<String, u32>,
    _context: zmq::Context,
}

impl std::fmt::Debug for ZmqPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZmqPublisher")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl ZmqPublisher {
    /// Binds `endpoint` (e.g. `tcp://127.0.0.1:0` for any port).
    pub fn bind(endpoint: &str) -> Self {
        let context = zmq::Context::new();
        let socket = context.socket(zmq::XPUB).expect("XPUB socket");
        socket.set_linger(0).expect("linger");
        socket.set_sndhwm(1_000_000).expect("hwm");
        socket.bind(endpoint).expect("bind loopback");
        let endpoint = socket
            .get_last_endpoint()
            .expect("endpoint")
            .expect("utf-8 endpoint");
        Self {
            socket,
            endpoint,
            seq: HashMap::new(),
            _context: context,
        }
    }

    /// The bound endpoint, `tcp://127.0.0.1:port`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends `body` on `topic` with the topic's next sequence number.
    pub fn send(&mut self, topic: &str, body: &[u8]) {
        let seq = self.next_seq(topic);
        self.socket
            .send_multipart([topic.as_bytes(), body, &seq.to_le_bytes()], 0)
            .expect("send");
    }

    /// Counts a message on `topic` without sending it: a subscriber sees a gap.
    pub fn drop_next(&mut self, topic: &str) {
        self.next_seq(topic);
    }

    /// Sends arbitrary frames.
    pub fn send_frames(&mut self, frames: &[&[u8]]) {
        self.socket.send_multipart(frames, 0).expect("send");
    }

    /// A `sequence` message: `hash` in display order, a label (`R`, `A`,
    /// `C`, `D`) and, for `A`/`R`, an 8-byte mempool sequence.
    pub fn send_sequence(&mut self, txid_internal: &[u8; 32], label: u8) {
        let mut body = txid_internal.to_vec();
        body.reverse();
        body.push(label);
        body.extend_from_slice(&0u64.to_le_bytes());
        self.send("sequence", &body);
    }

    /// Waits (up to 10 s) until a subscriber has subscribed to each of
    /// `topics` here: what is sent after it reaches the subscriber.
    ///
    /// # Panics
    /// When the subscriptions do not arrive in time.
    pub fn wait_subscribed(&self, topics: &[&str]) {
        self.socket.set_rcvtimeo(10_000).expect("receive timeout");
        let mut missing: Vec<&str> = topics.to_vec();
        while !missing.is_empty() {
            // A subscription is 1 then the topic; 0 then the topic ends one.
            let message = self
                .socket
                .recv_bytes(0)
                .unwrap_or_else(|e| panic!("no subscription to {missing:?} in 10 s: {e}"));
            if let Some((1, topic)) = message.split_first() {
                missing.retain(|t| t.as_bytes() != topic);
            }
        }
    }

    fn next_seq(&mut self, topic: &str) -> u32 {
        let slot = self.seq.entry(topic.to_string()).or_insert(u32::MAX);
        *slot = slot.wrapping_add(1);
        *slot
    }
}
