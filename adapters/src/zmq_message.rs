//! Bitcoin Core's ZMQ message format, decoded without a socket: three
//! frames (topic, body, 4-byte little-endian sequence number per topic).
//! The ZMQ source feeds every received message through [`decode`]; the
//! fuzzer does too.

use crate::live::LiveEvent;

/// A well-formed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// `rawtx`, `rawblock` or `sequence`.
    pub topic: &'static str,
    /// The topic's sequence number.
    pub seq: u32,
    /// What it means for the window: `None` for `sequence` messages that
    /// need no action (`A`, `C`, `D`).
    pub event: Option<LiveEvent>,
}

/// Decodes one multipart message received at `now` (Unix seconds).
///
/// # Errors
/// Returns why the message is malformed: wrong frame count, a sequence
/// number that is not 4 bytes, an unknown topic, or a body that is not what
/// the topic says (checked with the core's parser).
pub fn decode(frames: &[Vec<u8>], now: u32) -> Result<Decoded, String> {
    let [topic, body, seq] = frames else {
        return Err(format!("{} frames instead of 3", frames.len()));
    };
    let seq = <[u8; 4]>::try_from(seq.as_slice())
        .map(u32::from_le_bytes)
        .map_err(|_| format!("a {}-byte sequence number", seq.len()))?;
    let (topic, event) = match topic.as_slice() {
        b"rawtx" => {
            fiatline_core::Transaction::parse(body)
                .map_err(|e| format!("a malformed rawtx body: {e}"))?;
            (
                "rawtx",
                Some(LiveEvent::Tx {
                    raw: body.clone(),
                    time: now,
                }),
            )
        }
        b"rawblock" => {
            fiatline_core::Block::parse(body)
                .map_err(|e| format!("a malformed rawblock body: {e}"))?;
            (
                "rawblock",
                Some(LiveEvent::Block {
                    raw: body.clone(),
                    time: now,
                }),
            )
        }
        b"sequence" => ("sequence", sequence_event(body)?),
        other => {
            return Err(format!(
                "unknown topic {:?}",
                String::from_utf8_lossy(other)
            ))
        }
    };
    Ok(Decoded { topic, seq, event })
}

/// A `sequence` body: a 32-byte hash in display order, a label, and for
/// `A`/`R` an 8-byte mempool sequence. `R` (removed) and `D` (a block
/// disconnected) need action; `A` and `C` come with `rawtx` and `rawblock`.
fn sequence_event(body: &[u8]) -> Result<Option<LiveEvent>, String> {
    let (hash, rest) = body
        .split_first_chunk::<32>()
        .ok_or("a sequence body under 33 bytes")?;
    match rest.first() {
        Some(b'R') => {
            let mut txid = *hash;
            // Core sends hashes in display order; the window keys by internal order.
            txid.reverse();
            Ok(Some(LiveEvent::Gone { txid }))
        }
        Some(b'D') => {
            let mut hash = *hash;
            hash.reverse();
            Ok(Some(LiveEvent::Disconnected { hash }))
        }
        Some(b'A' | b'C') => Ok(None),
        Some(other) => Err(format!("sequence label {other:#04x}")),
        None => Err("a sequence body under 33 bytes".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_come_out_in_internal_order() {
        let mut body: Vec<u8> = (0..32).collect();
        body.push(b'R');
        body.extend_from_slice(&7u64.to_le_bytes());
        let d = decode(
            &[b"sequence".to_vec(), body, 9u32.to_le_bytes().to_vec()],
            1,
        )
        .unwrap();
        let mut txid: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap());
        txid.reverse();
        assert_eq!(
            d,
            Decoded {
                topic: "sequence",
                seq: 9,
                event: Some(LiveEvent::Gone { txid })
            }
        );
    }

    #[test]
    fn malformed_messages_say_why() {
        assert!(decode(&[b"rawtx".to_vec()], 0)
            .unwrap_err()
            .contains("1 frames"));
        assert!(decode(&[b"rawtx".to_vec(), vec![], vec![1, 2]], 0)
            .unwrap_err()
            .contains("2-byte"));
        assert!(decode(&[b"rawtx".to_vec(), vec![1], vec![0; 4]], 0)
            .unwrap_err()
            .contains("malformed rawtx"));
        assert!(decode(&[b"hashtx".to_vec(), vec![], vec![0; 4]], 0)
            .unwrap_err()
            .contains("unknown topic"));
        assert!(decode(&[b"sequence".to_vec(), vec![0; 33], vec![0; 4]], 0)
            .unwrap_err()
            .contains("label"));
    }
}
