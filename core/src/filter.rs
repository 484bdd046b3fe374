//! Which transactions count (docs/algorithm.md step 6), decided in the same walk
//! that parses them.

use crate::tx::{Transaction, TxIn, TxOut};
use crate::visitor::Visitor;

/// Most inputs a used transaction may have.
const MAX_INPUTS: usize = 5;
/// Largest witness item, and largest total of one input's items, in bytes.
const MAX_WITNESS: usize = 500;

/// What step 6 says of a transaction before the same-day rule: `None` if a
/// filter rejects it, else its previous txids (at most five) and the values
/// of its two outputs.
pub(crate) type Candidate<'v, 'a> = Option<(&'v [&'a [u8; 32]], [u64; 2])>;

/// A visitor that gathers each transaction's facts and hands the finished
/// transaction, with its verdict, to `sink`.
pub(crate) struct TxFilter<'a, F> {
    sink: F,
    rejected: bool,
    inputs: usize,
    prevouts: [&'a [u8; 32]; MAX_INPUTS],
    values: [u64; 2],
    witness_total: usize,
}

impl<'a, F: FnMut(&Transaction<'a>, Candidate<'_, 'a>)> TxFilter<'a, F> {
    pub(crate) fn new(sink: F) -> Self {
        Self {
            sink,
            rejected: false,
            inputs: 0,
            prevouts: [&[0; 32]; MAX_INPUTS],
            values: [0; 2],
            witness_total: 0,
        }
    }
}

impl<'a, F: FnMut(&Transaction<'a>, Candidate<'_, 'a>)> Visitor<'a> for TxFilter<'a, F> {
    // The input count comes first in every transaction: the facts restart here.
    fn visit_input_count(&mut self, count: usize) {
        self.rejected = count > MAX_INPUTS;
        self.inputs = count;
    }

    fn visit_input(&mut self, index: usize, input: &TxIn<'a>) {
        if let Some(p) = self.prevouts.get_mut(index) {
            *p = input.prev_txid;
        }
        self.rejected |= input.is_coinbase();
    }

    fn visit_output_count(&mut self, count: usize) {
        self.rejected |= count != 2;
    }

    fn visit_output(&mut self, index: usize, output: &TxOut<'a>) {
        if let Some(v) = self.values.get_mut(index) {
            *v = output.value;
        }
        self.rejected |= output.is_op_return();
    }

    fn visit_witness(&mut self, _input: usize, _items: usize) {
        self.witness_total = 0;
    }

    fn visit_witness_item(&mut self, _input: usize, item: &'a [u8]) {
        // The total restarts with each input; an item over the limit makes the total exceed it too.
        self.witness_total += item.len();
        self.rejected |= self.witness_total > MAX_WITNESS;
    }

    fn visit_transaction(&mut self, tx: &Transaction<'a>) {
        let prevouts = self.prevouts.get(..self.inputs).unwrap_or_default();
        let candidate = (!self.rejected).then_some((prevouts, self.values));
        (self.sink)(tx, candidate);
    }
}

/// Whether an amount enters the histogram: strictly between 1e-5 and 1e5
/// BTC, compared in BTC as the reference writes it.
pub(crate) fn in_range(btc: f64) -> bool {
    1e-5 < btc && btc < 1e5
}
