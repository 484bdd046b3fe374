//! The rough price (docs/algorithm.md step 9): slide the stencils along the
//! curve, keep the best fit, and weigh it with its better neighbour.

use crate::bins::edge;
use crate::histogram::Curve;
use crate::stencil::{spike_score, SMOOTH, STENCIL_LEN};

/// Bin of 0.001 BTC: where $100 sits at a price of $100,000.
const CENTER: usize = 601;
/// First bin under the stencil at slide zero: `CENTER - int((803 + 1) / 2)`.
const LEFT: usize = CENTER - STENCIL_LEN.div_ceil(2);
/// First slide tried (about $500k).
pub const MIN_SLIDE: i32 = -141;
/// One past the last slide tried (about $10k at 200).
pub const MAX_SLIDE: i32 = 201;
/// Slides from here on are scored by the spike stencil alone.
const SPIKE_ONLY_FROM: i32 = 150;
const SMOOTH_WEIGHT: f64 = 0.65;
const SLIDES: usize = (MAX_SLIDE - MIN_SLIDE) as usize;
/// Slides scored together: each keeps its own sequential sum (the order of
/// additions is part of the result), and the lanes give the CPU independent
/// work to overlap.
const LANES: usize = 8;

/// The outcome of step 9.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rough {
    /// The rough price in USD, truncated as the reference's `int()` does.
    pub price: u32,
    /// The best slide (0 puts $100 at 0.001 BTC).
    pub slide: i32,
    /// The best slide's score.
    pub best_score: f64,
    /// The score of the better neighbour slide (spike stencil only).
    pub neighbour_score: f64,
    /// The mean score over all slides.
    pub mean_score: f64,
}

/// Finds the rough price of a normalised curve; `None` when no slide scores
/// above the mean (an empty or structureless curve), where the reference
/// divides by zero.
pub fn rough_price(curve: &Curve) -> Option<Rough> {
    let scores = slide_scores(curve);
    let mut best = (0i32, 0.0f64);
    let mut total = 0.0;
    for (slide, &score) in (MIN_SLIDE..).zip(&scores) {
        if score > best.1 {
            best = (slide, score);
        }
        total += score;
    }
    let (slide, best_score) = best;
    let up = spike_score(window(curve, slide + 1));
    let down = spike_score(window(curve, slide - 1));
    let (neighbour, neighbour_score) = if down > up { (-1, down) } else { (1, up) };

    let price_best = 100.0 / edge(bin_at(slide)?)?;
    let price_next = 100.0 / edge(bin_at(slide + neighbour)?)?;
    let mean_score = total / SLIDES as f64;
    let a1 = best_score - mean_score;
    let a2 = (neighbour_score - mean_score).abs();
    let (w1, w2) = (a1 / (a1 + a2), a2 / (a1 + a2));
    let price = w1 * price_best + w2 * price_next;
    if !(price.is_finite() && price >= 0.0) {
        return None;
    }
    // The reference's int(): cut toward zero (the price is finite and not
    // negative, checked above; the cast saturates past u32::MAX).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let price = price as u32;
    Some(Rough {
        price,
        slide,
        best_score,
        neighbour_score,
        mean_score,
    })
}

/// The least and greatest price a rough fit can give: a weighted mean of
/// the prices at the best slide and its neighbour, each at a slide from
/// `MIN_SLIDE - 1` to `MAX_SLIDE` (a higher slide is a larger amount, so
/// a lower price).
#[cfg(test)]
pub(crate) fn price_bounds() -> (f64, f64) {
    let price = |slide| 100.0 / bin_at(slide).and_then(edge).unwrap_or(f64::NAN);
    (price(MAX_SLIDE), price(MIN_SLIDE - 1))
}

/// The bin under the stencil's centre for `slide`.
fn bin_at(slide: i32) -> Option<usize> {
    CENTER.checked_add_signed(isize::try_from(slide).ok()?)
}

/// The curve from the first bin under the stencil at `slide`.
fn window(curve: &Curve, slide: i32) -> &[f64] {
    isize::try_from(slide)
        .ok()
        .and_then(|slide| LEFT.checked_add_signed(slide))
        .and_then(|start| curve.get(start..))
        .unwrap_or_default()
}

/// Scores every slide: spike plus 0.65 × smooth below slide 150, spike alone after.
fn slide_scores(curve: &Curve) -> [f64; SLIDES] {
    let mut scores = [0.0; SLIDES];
    let smooth_slides = (SPIKE_ONLY_FROM - MIN_SLIDE) as usize;
    let mut smooth = [0.0; SLIDES];
    let needed = smooth.get_mut(..smooth_slides).unwrap_or_default();
    for (first, out) in (MIN_SLIDE..).step_by(LANES).zip(needed.chunks_mut(LANES)) {
        smooth_scores(curve, first, out);
    }
    for ((score, slide), &sm) in scores.iter_mut().zip(MIN_SLIDE..).zip(&smooth) {
        let spike = spike_score(window(curve, slide));
        *score = if slide < SPIKE_ONLY_FROM {
            spike + sm * SMOOTH_WEIGHT
        } else {
            spike
        };
    }
    scores
}

/// Computes the smooth score of `out.len()` consecutive slides from `first`,
/// each a sequential sum over the stencil in index order.
fn smooth_scores(curve: &Curve, first: i32, out: &mut [f64]) {
    let mut acc = [0.0f64; LANES];
    let base = window(curve, first);
    let lanes = out.len().min(LANES);
    for (n, &s) in SMOOTH.iter().enumerate() {
        for (lane, a) in acc.iter_mut().enumerate().take(lanes) {
            *a += base.get(n + lane).copied().unwrap_or(0.0) * s;
        }
    }
    for (o, a) in out.iter_mut().zip(acc) {
        *o = a;
    }
}
