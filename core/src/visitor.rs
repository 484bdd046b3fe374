//! Callbacks the parser makes while it walks a transaction or a block.

use crate::block::Header;
use crate::tx::{Transaction, TxIn, TxOut};

/// Receives the parts of transactions and blocks as the parser meets them.
///
/// Every method has a no-op default, so a visitor implements only what it
/// needs and the rest compiles away. The lifetime `'a` is that of the parsed
/// bytes: a visitor may keep the borrowed views it is given.
///
/// Callbacks arrive in serialisation order: inputs, outputs, then (for segwit
/// transactions) each input's witness, then [`Visitor::visit_transaction`].
/// A callback made before a parse error is not taken back: a visitor that
/// must not act on a malformed transaction should act in
/// `visit_transaction`, which comes only once the transaction is complete.
#[allow(unused_variables)]
pub trait Visitor<'a> {
    /// Called with a block's header, before its transactions.
    fn visit_header(&mut self, header: &Header<'a>) {}
    /// Called with a block's transaction count, before its transactions.
    fn visit_tx_count(&mut self, count: usize) {}
    /// Called with a transaction's input count, before its inputs.
    fn visit_input_count(&mut self, count: usize) {}
    /// Called for each input, `index` counting from zero.
    fn visit_input(&mut self, index: usize, input: &TxIn<'a>) {}
    /// Called with a transaction's output count, before its outputs.
    fn visit_output_count(&mut self, count: usize) {}
    /// Called for each output, `index` counting from zero.
    fn visit_output(&mut self, index: usize, output: &TxOut<'a>) {}
    /// Called before the witness items of input `input`, with their count.
    fn visit_witness(&mut self, input: usize, item_count: usize) {}
    /// Called for each witness item of input `input`.
    fn visit_witness_item(&mut self, input: usize, item: &'a [u8]) {}
    /// Called once a transaction has parsed completely.
    fn visit_transaction(&mut self, tx: &Transaction<'a>) {}
}

/// A visitor that does nothing: parsing with it only validates.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopVisitor;

impl Visitor<'_> for NoopVisitor {}
