//! Zero-copy views of transactions, legacy and segwit (BIP 144).
//!
//! [`Transaction::parse`] walks the bytes once, checking every length against
//! what remains, and returns a view whose accessors cannot fail. It accepts
//! and rejects the same byte strings as rust-bitcoin 0.32's consensus
//! decoding (the tests compare the two on real and malformed data).

use crate::error::{ParseError, ParseErrorKind};
use crate::reader::{Reader, MAX_VEC_SIZE};
use crate::txid::{sha256d, Txid};
use crate::visitor::{NoopVisitor, Visitor};

/// Smallest serialised input: previous output (36), empty script (1), sequence (4).
const MIN_INPUT_LEN: usize = 41;
/// Smallest serialised output: value (8) and an empty script (1).
const MIN_OUTPUT_LEN: usize = 9;

/// A transaction input, borrowed from the transaction's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxIn<'a> {
    /// Id of the transaction whose output this input spends (internal byte order).
    pub prev_txid: &'a [u8; 32],
    /// Index of the spent output in that transaction.
    pub prev_vout: u32,
    /// The unlocking script.
    pub script_sig: &'a [u8],
    /// The sequence number.
    pub sequence: u32,
}

impl TxIn<'_> {
    /// Returns true for the input of a coinbase transaction: a null previous
    /// output (all-zero txid, index `0xffffffff`).
    pub fn is_coinbase(&self) -> bool {
        self.prev_vout == u32::MAX && self.prev_txid.iter().all(|&b| b == 0)
    }
}

/// A transaction output, borrowed from the transaction's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxOut<'a> {
    /// The amount in satoshis.
    pub value: u64,
    /// The locking script.
    pub script_pubkey: &'a [u8],
}

impl TxOut<'_> {
    /// Returns true when the script starts with `OP_RETURN` (0x6a).
    pub fn is_op_return(&self) -> bool {
        self.script_pubkey.first() == Some(&0x6a)
    }
}

/// A parsed transaction: its bytes and where each section starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction<'a> {
    bytes: &'a [u8],
    input_count: usize,
    output_count: usize,
    /// Offset of the first input (after the input count).
    inputs_at: usize,
    /// Offset of the output count.
    outputs_at: usize,
    /// Offset of the witness section; `len - 4` when there is none.
    witness_at: usize,
    segwit: bool,
}

impl<'a> Transaction<'a> {
    /// Parses one transaction that fills `bytes` exactly.
    ///
    /// # Errors
    /// Returns a [`ParseError`] if the bytes are not one well-formed
    /// transaction, including [`ParseErrorKind::TrailingBytes`] if bytes remain.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let (tx, rest) = Self::parse_prefix(bytes)?;
        if rest.is_empty() {
            Ok(tx)
        } else {
            Err(ParseError::new(ParseErrorKind::TrailingBytes, tx.len()))
        }
    }

    /// Parses one transaction from the start of `bytes` and returns it with
    /// the bytes that follow it.
    ///
    /// # Errors
    /// Returns a [`ParseError`] if the bytes do not start with a well-formed
    /// transaction.
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), ParseError> {
        Self::visit(bytes, &mut NoopVisitor)
    }

    /// Parses one transaction from the start of `bytes`, reporting its parts
    /// to `visitor`, and returns it with the bytes that follow it.
    ///
    /// # Errors
    /// Returns a [`ParseError`] if the bytes do not start with a well-formed
    /// transaction; the visitor may have seen some of its parts by then.
    pub fn visit<V: Visitor<'a> + ?Sized>(
        bytes: &'a [u8],
        visitor: &mut V,
    ) -> Result<(Self, &'a [u8]), ParseError> {
        let mut r = Reader::new(bytes);
        r.take(4)?; // version
        let mut segwit = false;
        let mut input_count = r.count(MIN_INPUT_LEN)?;
        if input_count == 0 {
            // BIP 144: a zero input count is the segwit marker; then comes the flag.
            let flag_at = r.pos();
            match r.u8()? {
                1 => segwit = true,
                flag => {
                    return Err(ParseError::new(
                        ParseErrorKind::UnsupportedSegwitFlag(flag),
                        flag_at,
                    ))
                }
            }
            input_count = r.count(MIN_INPUT_LEN)?;
        }
        let inputs_at = r.pos();
        visitor.visit_input_count(input_count);
        for index in 0..input_count {
            let input = read_input(&mut r)?;
            visitor.visit_input(index, &input);
        }

        let outputs_at = r.pos();
        let output_count = r.count(MIN_OUTPUT_LEN)?;
        visitor.visit_output_count(output_count);
        for index in 0..output_count {
            let output = read_output(&mut r)?;
            visitor.visit_output(index, &output);
        }

        let witness_at = r.pos();
        if segwit {
            let mut any_witness = false;
            for input in 0..input_count {
                any_witness |= read_witness(&mut r, input, visitor)? > 0;
            }
            if input_count > 0 && !any_witness {
                return Err(r.error(ParseErrorKind::SegwitFlagWithoutWitness));
            }
        }
        r.take(4)?; // lock time

        let len = r.pos();
        let (bytes, rest) = bytes.split_at_checked(len).unwrap_or((bytes, &[]));
        let tx = Self {
            bytes,
            input_count,
            output_count,
            inputs_at,
            outputs_at,
            witness_at: if segwit { witness_at } else { len - 4 },
            segwit,
        };
        visitor.visit_transaction(&tx);
        Ok((tx, rest))
    }

    /// Returns the transaction's serialisation, witness included.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Returns the length of the serialisation in bytes.
    #[allow(clippy::len_without_is_empty)] // a transaction is never empty
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Returns the version field.
    pub fn version(&self) -> i32 {
        i32::from_le_bytes(self.word(0))
    }

    /// Returns the lock time field.
    pub fn lock_time(&self) -> u32 {
        u32::from_le_bytes(self.word(self.len().saturating_sub(4)))
    }

    /// Returns true for the BIP 144 serialisation (marker, flag and witnesses).
    pub const fn is_segwit(&self) -> bool {
        self.segwit
    }

    /// Returns the number of inputs.
    pub const fn input_count(&self) -> usize {
        self.input_count
    }

    /// Returns the number of outputs.
    pub const fn output_count(&self) -> usize {
        self.output_count
    }

    /// Returns the inputs in order.
    pub fn inputs(&self) -> Inputs<'a> {
        Inputs {
            reader: self.reader_at(self.inputs_at),
            left: self.input_count,
        }
    }

    /// Returns the outputs in order.
    pub fn outputs(&self) -> Outputs<'a> {
        let mut reader = self.reader_at(self.outputs_at);
        // The count was validated at parse time; skip past it.
        let left = reader.compact_size().map_or(0, |_| self.output_count);
        Outputs { reader, left }
    }

    /// Returns each input's witness in input order; none for a legacy transaction.
    pub fn witnesses(&self) -> Witnesses<'a> {
        Witnesses {
            reader: self.reader_at(self.witness_at),
            left: if self.segwit { self.input_count } else { 0 },
        }
    }

    /// Computes the txid: the double SHA-256 of the serialisation without
    /// the segwit marker, flag and witnesses.
    pub fn txid(&self) -> Txid {
        let len = self.len();
        let digest = if self.segwit {
            let version = self.bytes.get(..4).unwrap_or_default();
            // Leave out the marker and flag (bytes 4 and 5) and the witnesses.
            let body = self.bytes.get(6..self.witness_at).unwrap_or_default();
            let lock_time = self.bytes.get(len - 4..).unwrap_or_default();
            sha256d(&[version, body, lock_time])
        } else {
            sha256d(&[self.bytes])
        };
        Txid(digest)
    }

    /// Returns the height a coinbase commits to (BIP 34): a push of 1 to 8
    /// bytes at the start of its only input's script. `None` for other
    /// transactions or scripts.
    pub fn bip34_height(&self) -> Option<u64> {
        let mut inputs = self.inputs();
        let input = inputs
            .next()
            .filter(|i| i.is_coinbase() && inputs.len() == 0)?;
        let (&len, rest) = input.script_sig.split_first()?;
        if !(1..=8).contains(&len) {
            return None;
        }
        let digits = rest.get(..usize::from(len))?;
        Some(
            digits
                .iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    fn word(&self, at: usize) -> [u8; 4] {
        self.bytes
            .get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .unwrap_or_default()
    }

    fn reader_at(&self, at: usize) -> Reader<'a> {
        let mut reader = Reader::new(self.bytes);
        // Offsets come from the parse, so this never fails; an empty reader if it did.
        if reader.take(at).is_err() {
            reader = Reader::new(&[]);
        }
        reader
    }
}

fn read_input<'a>(r: &mut Reader<'a>) -> Result<TxIn<'a>, ParseError> {
    Ok(TxIn {
        prev_txid: r.array::<32>()?,
        prev_vout: r.u32()?,
        script_sig: r.var_bytes()?,
        sequence: r.u32()?,
    })
}

fn read_output<'a>(r: &mut Reader<'a>) -> Result<TxOut<'a>, ParseError> {
    Ok(TxOut {
        value: r.u64()?,
        script_pubkey: r.var_bytes()?,
    })
}

/// Reads one input's witness, reporting it to `visitor`; returns its item count.
fn read_witness<'a, V: Visitor<'a> + ?Sized>(
    r: &mut Reader<'a>,
    input: usize,
    visitor: &mut V,
) -> Result<usize, ParseError> {
    let count_at = r.pos();
    let items = r.count(1)?;
    if items > MAX_VEC_SIZE {
        return Err(ParseError::new(ParseErrorKind::OversizedWitness, count_at));
    }
    visitor.visit_witness(input, items);
    // rust-bitcoin caps a witness's serialised items (lengths included) at
    // MAX_VEC_SIZE bytes; only inputs over 4 MB can reach it.
    let mut size = 0usize;
    for _ in 0..items {
        let item_at = r.pos();
        let item = r.var_bytes()?;
        size += r.pos() - item_at;
        if size > MAX_VEC_SIZE {
            return Err(ParseError::new(ParseErrorKind::OversizedWitness, item_at));
        }
        visitor.visit_witness_item(input, item);
    }
    Ok(items)
}

/// The inputs of a [`Transaction`], in order.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    reader: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for Inputs<'a> {
    type Item = TxIn<'a>;

    fn next(&mut self) -> Option<TxIn<'a>> {
        self.left = self.left.checked_sub(1)?;
        read_input(&mut self.reader).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Inputs<'_> {}

/// The outputs of a [`Transaction`], in order.
#[derive(Debug, Clone)]
pub struct Outputs<'a> {
    reader: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for Outputs<'a> {
    type Item = TxOut<'a>;

    fn next(&mut self) -> Option<TxOut<'a>> {
        self.left = self.left.checked_sub(1)?;
        read_output(&mut self.reader).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Outputs<'_> {}

/// The witnesses of a [`Transaction`], one per input.
#[derive(Debug, Clone)]
pub struct Witnesses<'a> {
    reader: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for Witnesses<'a> {
    type Item = Witness<'a>;

    fn next(&mut self) -> Option<Witness<'a>> {
        self.left = self.left.checked_sub(1)?;
        let items = self.reader.compact_size().ok()?;
        let start = self.reader;
        for _ in 0..items {
            self.reader.var_bytes().ok()?;
        }
        Some(Witness {
            reader: start,
            left: usize::try_from(items).ok()?,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Witnesses<'_> {}

/// One input's witness: an iterator over its items.
#[derive(Debug, Clone)]
pub struct Witness<'a> {
    reader: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for Witness<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.left = self.left.checked_sub(1)?;
        self.reader.var_bytes().ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Witness<'_> {}
