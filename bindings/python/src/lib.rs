//! `fiatline._core`: fiatline-core for Python, with the numbers of the
//! `fiatline` command line (the same code computes them).
//!
//! Blocks and transactions come in as `bytes` (or hex `str`, or for
//! transactions a dict shaped like Bitcoin Core's verbose JSON); results go
//! out as dicts with the fields of `fiatline price --json`. Long work runs
//! with the GIL released; every error is a Python exception carrying the
//! message the command line prints; nothing panics across the boundary.

use std::fmt::Display;

use fiatline_adapters::consensus::{Consensus, Outcome};
use fiatline_adapters::hourly::Hourly;
use fiatline_adapters::report::{RefinedDay, Report};
use fiatline_core::{Block, PricePoint, Refinement};
use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

create_exception!(
    _core,
    FiatlineError,
    PyValueError,
    "Bad input: a malformed block or transaction, an unknown option."
);
create_exception!(
    _core,
    NoPriceError,
    FiatlineError,
    "The data hold no price (no outputs in range, no fit, no price points)."
);

fn bad(e: impl Display) -> PyErr {
    FiatlineError::new_err(e.to_string())
}

/// How the final price is made, by name.
#[derive(Clone, Copy)]
struct Mode {
    refinement: Refinement,
    hourly: bool,
}

impl Mode {
    fn parse(name: &str) -> PyResult<Self> {
        let (refinement, hourly) = match name {
            "reference" => (Refinement::Reference, false),
            "recentre" => (Refinement::Recentre, false),
            "hourly" => (Refinement::Reference, true),
            other => {
                return Err(bad(format!(
                    "refinement {other:?}: expected \"reference\", \"recentre\" or \"hourly\""
                )))
            }
        };
        Ok(Self { refinement, hourly })
    }

    /// Finishes a run as `fiatline price` does (hours from the first block).
    fn finish(self, run: &Consensus) -> Result<Outcome, String> {
        let mut outcome = run
            .finish(self.refinement)
            .map_err(|e| format!("no price from these blocks: {e}"))?;
        if self.hourly {
            outcome
                .refine_hourly(None)
                .map_err(|e| format!("no refined price from these blocks: {e}"))?;
        }
        Ok(outcome)
    }
}

/// A report as a dict, through its JSON (the command line's exact fields).
fn to_dict<'py>(py: Python<'py>, report: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(report).map_err(bad)?;
    py.import("json")?.call_method1("loads", (text,))
}

/// Bytes from `bytes`, `bytearray`, `memoryview` or a hex `str`.
fn raw_bytes(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if obj.is_instance_of::<PyString>() {
        // Python's own decoder: the fastest way from a str under the stable ABI.
        let raw = obj
            .py()
            .get_type::<PyBytes>()
            .call_method1("fromhex", (obj,))
            .map_err(|e| bad(format!("{what}: not hex: {}", e.value(obj.py()))))?;
        return raw.extract::<Vec<u8>>();
    }
    obj.extract::<Vec<u8>>()
        .map_err(|_| PyTypeError::new_err(format!("{what}: expected bytes or a hex str")))
}

/// Prices blocks as one run, in the order given; returns the fields of
/// `fiatline price --json`.
#[pyfunction]
#[pyo3(signature = (blocks, refinement = "reference"))]
fn price_blocks<'py>(
    py: Python<'py>,
    blocks: &Bound<'py, PyAny>,
    refinement: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let mode = Mode::parse(refinement)?;
    let blocks: Vec<Vec<u8>> = blocks
        .try_iter()?
        .enumerate()
        .map(|(i, b)| raw_bytes(&b?, &format!("block {i}")))
        .collect::<PyResult<_>>()?;
    let outcome = py.detach(|| {
        let txs = blocks
            .iter()
            .filter_map(|b| Block::parse(b).ok())
            .map(|b| b.tx_count())
            .sum();
        let mut run = Consensus::new(txs);
        for (i, b) in blocks.iter().enumerate() {
            run.add(b, None, || format!("block {i}"))
                .map_err(|e| e.to_string())?;
        }
        mode.finish(&run)
    });
    match outcome {
        Ok(o) => to_dict(py, &Report::new(None, &o)),
        Err(message) => Err(error_of(&message)),
    }
}

/// `no price…` messages are [`NoPriceError`]s; the rest bad input.
fn error_of(message: &str) -> PyErr {
    if message.starts_with("no ") {
        NoPriceError::new_err(message.to_owned())
    } else {
        FiatlineError::new_err(message.to_owned())
    }
}

/// The raw transactions of a block, in order.
#[pyfunction]
fn block_transactions<'py>(
    py: Python<'py>,
    block: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let bytes = raw_bytes(block, "block")?;
    let parsed =
        Block::parse(&bytes).map_err(|e| bad(format!("block is not a valid block: {e}")))?;
    PyList::new(
        py,
        parsed
            .transactions()
            .map(|tx| PyBytes::new(py, tx.as_bytes())),
    )
}

/// A transaction given as Core's verbose JSON (`getblock <hash> 2`,
/// `getrawtransaction <txid> true`), serialised again: its `hex` when it has
/// one, else built from `version`, `vin`, `vout` (values in BTC) and
/// `locktime` by rust-bitcoin.
fn tx_from_dict(d: &Bound<'_, PyDict>, what: &str) -> PyResult<(Vec<u8>, Option<u32>)> {
    use bitcoin::{
        absolute, transaction, Amount, OutPoint, ScriptBuf, Sequence, TxIn, TxOut, Txid, Witness,
    };
    let time = ["blocktime", "time"]
        .iter()
        .find_map(|k| d.get_item(k).ok().flatten()?.extract::<u32>().ok());
    if let Some(hex_tx) = d.get_item("hex")? {
        return Ok((raw_bytes(&hex_tx, what)?, time));
    }
    let field = |k: &str| -> PyResult<Bound<'_, PyAny>> {
        d.get_item(k)?
            .ok_or_else(|| bad(format!("{what}: no {k:?} (and no \"hex\")")))
    };
    let script = |obj: &Bound<'_, PyAny>, key: &str| -> PyResult<ScriptBuf> {
        let hex_script = obj
            .get_item(key)
            .and_then(|s| s.get_item("hex"))
            .map_err(|_| bad(format!("{what}: no {key}.hex")))?;
        Ok(ScriptBuf::from_bytes(raw_bytes(&hex_script, what)?))
    };
    let mut inputs = Vec::new();
    for vin in field("vin")?.try_iter()? {
        let vin = vin?;
        let sequence = Sequence(key(&vin, "sequence", what)?.extract()?);
        let witness: Vec<Vec<u8>> = match vin.get_item("txinwitness") {
            Ok(items) => items
                .try_iter()?
                .map(|i| raw_bytes(&i?, what))
                .collect::<PyResult<_>>()?,
            Err(_) => Vec::new(),
        };
        let (previous_output, script_sig) = if let Ok(cb) = vin.get_item("coinbase") {
            (
                OutPoint::null(),
                ScriptBuf::from_bytes(raw_bytes(&cb, what)?),
            )
        } else {
            let txid: String = key(&vin, "txid", what)?.extract()?;
            let txid: Txid = txid
                .parse()
                .map_err(|e| bad(format!("{what}: txid: {e}")))?;
            let vout: u32 = key(&vin, "vout", what)?.extract()?;
            (OutPoint { txid, vout }, script(&vin, "scriptSig")?)
        };
        inputs.push(TxIn {
            previous_output,
            script_sig,
            sequence,
            witness: Witness::from_slice(&witness),
        });
    }
    let mut outputs = Vec::new();
    for vout in field("vout")?.try_iter()? {
        let vout = vout?;
        let btc: f64 = key(&vout, "value", what)?.extract()?;
        // Core prints 8 decimals; the nearest satoshi is the amount.
        let value = Amount::from_btc(btc).map_err(|e| bad(format!("{what}: value {btc}: {e}")))?;
        outputs.push(TxOut {
            value,
            script_pubkey: script(&vout, "scriptPubKey")?,
        });
    }
    let tx = bitcoin::Transaction {
        version: transaction::Version(field("version")?.extract()?),
        lock_time: absolute::LockTime::from_consensus(field("locktime")?.extract()?),
        input: inputs,
        output: outputs,
    };
    Ok((bitcoin::consensus::serialize(&tx), time))
}

/// `obj[k]`, or an error naming the missing field.
fn key<'py>(obj: &Bound<'py, PyAny>, k: &str, what: &str) -> PyResult<Bound<'py, PyAny>> {
    obj.get_item(k)
        .map_err(|_| bad(format!("{what}: no {k:?} in an input or output")))
}

/// A transaction argument: bytes, hex, or a dict of Core's verbose JSON.
fn tx_bytes(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<u8>, Option<u32>)> {
    match obj.cast::<PyDict>() {
        Ok(d) => tx_from_dict(d, what),
        Err(_) => Ok((raw_bytes(obj, what)?, None)),
    }
}

/// A run that takes blocks and transactions as they come, and estimates at
/// any time.
#[pyclass(module = "fiatline._core")]
struct Calculator {
    run: Consensus,
    mode: Mode,
    txs: u64,
}

#[pymethods]
impl Calculator {
    #[new]
    #[pyo3(signature = (refinement = "reference"))]
    fn new(refinement: &str) -> PyResult<Self> {
        Ok(Self {
            run: Consensus::new(3_000),
            mode: Mode::parse(refinement)?,
            txs: 0,
        })
    }

    /// Adds a block (bytes or hex); its height from its BIP 34 coinbase
    /// unless given.
    #[pyo3(signature = (block, height = None))]
    fn add_block(
        &mut self,
        py: Python<'_>,
        block: &Bound<'_, PyAny>,
        height: Option<u32>,
    ) -> PyResult<()> {
        let bytes = raw_bytes(block, "block")?;
        let run = &mut self.run;
        py.detach(|| run.add(&bytes, height, || "block".to_owned()))
            .map_err(bad)
    }

    /// Adds one transaction: bytes, hex, or a dict of Core's verbose JSON;
    /// `time` (Unix seconds) places its price points in the hourly
    /// refinement (a dict's `blocktime` or `time` when not given).
    #[pyo3(signature = (raw, time = None, height = 0))]
    fn add_transaction(
        &mut self,
        raw: &Bound<'_, PyAny>,
        time: Option<u32>,
        height: u32,
    ) -> PyResult<()> {
        let what = format!("transaction {}", self.txs);
        let (bytes, own_time) = tx_bytes(raw, &what)?;
        let time = time.or(own_time).unwrap_or(0);
        self.run
            .add_transaction(&bytes, height, time, || what)
            .map_err(bad)?;
        self.txs += 1;
        Ok(())
    }

    /// Estimates everything added so far; the fields of `fiatline price --json`.
    fn estimate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (run, mode) = (&self.run, self.mode);
        match py.detach(|| mode.finish(run)) {
            Ok(o) => to_dict(py, &Report::new(None, &o)),
            Err(m) => Err(error_of(&m)),
        }
    }

    /// Prices `txs` alone (bytes, hex or dicts of Core's verbose JSON), as
    /// one run, whatever was added before; returns `{"price_usd",
    /// "confidence"}`.
    fn calculate_price_for_transactions<'py>(
        &self,
        py: Python<'py>,
        txs: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut items = Vec::new();
        for (i, tx) in txs.try_iter()?.enumerate() {
            items.push(tx_bytes(&tx?, &format!("transaction {i}"))?);
        }
        let mode = self.mode;
        let outcome = py.detach(move || {
            let mut run = Consensus::new(items.len());
            for (i, (bytes, time)) in items.iter().enumerate() {
                run.add_transaction(bytes, 0, time.unwrap_or(0), || format!("transaction {i}"))
                    .map_err(|e| e.to_string())?;
            }
            mode.finish(&run)
        });
        let o = outcome.map_err(|m| error_of(&m))?;
        let report = Report::new(None, &o);
        let d = PyDict::new(py);
        d.set_item("price_usd", report.headline())?;
        d.set_item("confidence", report.confidence)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("Calculator({} transactions added)", self.txs)
    }
}

/// Re-prices a day from its price points with the hourly refinement, as
/// `fiatline refine` does: `points` are `(time, price)` pairs, `central`
/// the day's reference price, `date` the UTC day (`YYYY-MM-DD`).
#[pyfunction]
fn refine<'py>(
    py: Python<'py>,
    points: &Bound<'py, PyAny>,
    central: f64,
    date: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let day: fiatline_adapters::UtcDate = date.parse().map_err(bad)?;
    if !(central.is_finite() && central > 0.0) {
        return Err(bad(format!(
            "central {central}: expected a positive price in USD"
        )));
    }
    let mut pts = Vec::new();
    for p in points.try_iter()? {
        let (time, price): (u32, f64) = p?.extract()?;
        pts.push(PricePoint {
            price,
            time,
            ..PricePoint::default()
        });
    }
    let start = day.midnight();
    let h = py
        .detach(|| Hourly::of(&pts, central, start))
        .map_err(|e| NoPriceError::new_err(format!("no refined price: {e}")))?;
    to_dict(
        py,
        &RefinedDay::new(day.to_string(), central, pts.len(), &h),
    )
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(price_blocks, m)?)?;
    m.add_function(wrap_pyfunction!(block_transactions, m)?)?;
    m.add_function(wrap_pyfunction!(refine, m)?)?;
    m.add_class::<Calculator>()?;
    m.add("FiatlineError", m.py().get_type::<FiatlineError>())?;
    m.add("NoPriceError", m.py().get_type::<NoPriceError>())?;
    Ok(())
}
