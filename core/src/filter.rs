//! Which transactions count (ALGORITHM.md step 6), decided in the same walk
//! that parses them.

use crate::outputs::RawOutput;
use crate::run::Run;
use crate::tx::{Transaction, TxIn, TxOut};
use crate::txid::Txid;
use crate::visitor::Visitor;

/// Most inputs a used transaction may have.
const MAX_INPUTS: usize = 5;
/// Largest witness item, and largest total of one input's items, in bytes.
const MAX_WITNESS: usize = 500;

/// A visitor that gathers one transaction's facts and hands its verdict to
/// the run when the transaction is complete.
pub(crate) struct TxFilter<'r, 'a, T, O> {
    run: &'r mut Run<T, O>,
    at: (u32, u32),
    rejected: bool,
    inputs: usize,
    prevouts: [&'a [u8; 32]; MAX_INPUTS],
    values: [u64; 2],
    witness_total: usize,
}

impl<'r, T, O> TxFilter<'r, '_, T, O>
where
    T: AsRef<[Txid]> + AsMut<[Txid]>,
    O: AsRef<[RawOutput]> + AsMut<[RawOutput]>,
{
    pub(crate) fn new(run: &'r mut Run<T, O>, height: u32, time: u32) -> Self {
        Self {
            run,
            at: (height, time),
            rejected: false,
            inputs: 0,
            prevouts: [&[0; 32]; MAX_INPUTS],
            values: [0; 2],
            witness_total: 0,
        }
    }
}

impl<'a, T, O> Visitor<'a> for TxFilter<'_, 'a, T, O>
where
    T: AsRef<[Txid]> + AsMut<[Txid]>,
    O: AsRef<[RawOutput]> + AsMut<[RawOutput]>,
{
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
        let txid = tx.txid();
        let prevouts = self.prevouts.get(..self.inputs).unwrap_or_default();
        let candidate = (!self.rejected).then_some((prevouts, self.values));
        self.run.take(&txid, candidate, self.at);
    }
}
