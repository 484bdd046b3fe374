//! Bitcoin Core's ZMQ message format, decoded without a socket: three
//! frames (topic, body, 4-byte little-endian sequence number per topic).
//! The ZMQ source feeds every received message through [`decode`]; the
//! fuzzer does too.

use fiatline_core::{ParseError, Txid};

use crate::live::LiveEvent;
use crate::BlockHash;

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

/// Why a multipart message is not one Bitcoin Core sends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    /// Not three frames: how many there were.
    Frames(usize),
    /// The sequence-number frame is not 4 bytes: its length.
    SequenceLength(usize),
    /// A topic fiatline does not subscribe to (as lossy UTF-8).
    UnknownTopic(String),
    /// A `rawtx` body that is not one transaction.
    RawTx(ParseError),
    /// A `rawblock` body that is not one block.
    RawBlock(ParseError),
    /// A `sequence` body under 33 bytes: its length.
    ShortSequence(usize),
    /// A `sequence` label other than `A`, `R`, `C` and `D`.
    SequenceLabel(u8),
}

impl core::fmt::Display for MessageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Frames(n) => write!(f, "{n} frames instead of 3"),
            Self::SequenceLength(n) => write!(f, "a {n}-byte sequence number"),
            Self::UnknownTopic(t) => write!(f, "unknown topic {t:?}"),
            Self::RawTx(_) => f.write_str("a malformed rawtx body"),
            Self::RawBlock(_) => f.write_str("a malformed rawblock body"),
            Self::ShortSequence(n) => write!(f, "a {n}-byte sequence body (33 at least)"),
            Self::SequenceLabel(l) => write!(f, "sequence label {l:#04x}"),
        }
    }
}

impl std::error::Error for MessageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::RawTx(e) | Self::RawBlock(e) => Some(e),
            _ => None,
        }
    }
}

/// Decodes one multipart message received at `now` (Unix seconds).
///
/// # Errors
/// Returns a [`MessageError`]: wrong frame count, a sequence number that is
/// not 4 bytes, an unknown topic, or a body that is not what the topic says
/// (checked with the core's parser).
pub fn decode(frames: &[Vec<u8>], now: u32) -> Result<Decoded, MessageError> {
    let [topic, body, seq] = frames else {
        return Err(MessageError::Frames(frames.len()));
    };
    let seq = <[u8; 4]>::try_from(seq.as_slice())
        .map(u32::from_le_bytes)
        .map_err(|_| MessageError::SequenceLength(seq.len()))?;
    let (topic, event) = match topic.as_slice() {
        b"rawtx" => {
            fiatline_core::Transaction::parse(body).map_err(MessageError::RawTx)?;
            (
                "rawtx",
                Some(LiveEvent::Tx {
                    raw: body.clone(),
                    time: now,
                }),
            )
        }
        b"rawblock" => {
            fiatline_core::Block::parse(body).map_err(MessageError::RawBlock)?;
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
            return Err(MessageError::UnknownTopic(
                String::from_utf8_lossy(other).into_owned(),
            ))
        }
    };
    Ok(Decoded { topic, seq, event })
}

/// A `sequence` body: a 32-byte hash in display order, a label, and for
/// `A`/`R` an 8-byte mempool sequence. `R` (removed) and `D` (a block
/// disconnected) need action; `A` and `C` come with `rawtx` and `rawblock`.
fn sequence_event(body: &[u8]) -> Result<Option<LiveEvent>, MessageError> {
    let short = MessageError::ShortSequence(body.len());
    let (hash, rest) = body.split_first_chunk::<32>().ok_or(short.clone())?;
    match rest.first() {
        Some(b'R') => {
            let mut txid = *hash;
            // Core sends hashes in display order; the window keys by internal order.
            txid.reverse();
            Ok(Some(LiveEvent::Gone { txid: Txid(txid) }))
        }
        Some(b'D') => {
            let mut hash = *hash;
            hash.reverse();
            Ok(Some(LiveEvent::Disconnected {
                hash: BlockHash(hash),
            }))
        }
        Some(b'A' | b'C') => Ok(None),
        Some(&other) => Err(MessageError::SequenceLabel(other)),
        None => Err(short),
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
                event: Some(LiveEvent::Gone { txid: Txid(txid) })
            }
        );
    }

    #[test]
    fn malformed_messages_say_why() {
        let e = |frames: &[Vec<u8>]| decode(frames, 0).unwrap_err();
        assert_eq!(e(&[b"rawtx".to_vec()]), MessageError::Frames(1));
        assert_eq!(
            e(&[b"rawtx".to_vec(), vec![], vec![1, 2]]),
            MessageError::SequenceLength(2)
        );
        let bad_tx = e(&[b"rawtx".to_vec(), vec![1], vec![0; 4]]);
        assert!(matches!(bad_tx, MessageError::RawTx(_)));
        assert!(
            std::error::Error::source(&bad_tx).is_some(),
            "the parser's error"
        );
        assert!(matches!(
            e(&[b"rawblock".to_vec(), vec![1], vec![0; 4]]),
            MessageError::RawBlock(_)
        ));
        assert_eq!(
            e(&[b"hashtx".to_vec(), vec![], vec![0; 4]]),
            MessageError::UnknownTopic("hashtx".into())
        );
        assert_eq!(
            e(&[b"sequence".to_vec(), vec![0; 33], vec![0; 4]]),
            MessageError::SequenceLabel(0)
        );
        assert_eq!(
            e(&[b"sequence".to_vec(), vec![0; 32], vec![0; 4]]),
            MessageError::ShortSequence(32)
        );
        assert_eq!(
            MessageError::SequenceLabel(0x5a).to_string(),
            "sequence label 0x5a"
        );
    }
}
