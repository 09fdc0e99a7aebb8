//! Per-flow goodput series: unique payload bytes per fixed interval, both directions.
//!
//! Bins start at the flow's first packet. A series holds at most [`MAX_BINS`] bins; a flow
//! that lasts longer doubles the interval and merges neighbouring bins (as often as needed),
//! so the whole flow stays covered. All series of a capture share a [`Budget`] of bins: once
//! it is spent, a series that would grow coarsens instead, so memory stays bounded however
//! many flows there are and however far apart their packets fall. The interval in effect is
//! reported with each series.

use super::{PerSide, Side};
use crate::capture::Timestamp;

/// Bins per direction before the interval doubles (4096 bins = 6.8 minutes at 100 ms).
pub const MAX_BINS: usize = 4096;

/// Bins (of 4 bytes) all series of a capture may hold together: 4 Mi bins, 16 MiB.
pub const BUDGET_BINS: usize = 4 << 20;

/// The bins all series of a capture share.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub used: usize,
    pub max: usize,
    /// Times a series coarsened because the budget was spent.
    pub coarsened: u64,
    /// Times a series coarsened because it reached its own bound ([`MAX_BINS`]).
    pub own_bound_coarsened: u64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            used: 0,
            max: BUDGET_BINS,
            coarsened: 0,
            own_bound_coarsened: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Series {
    start: Timestamp,
    interval_ns: i64,
    /// Bins of the bytes each side sent (client: up, server: down).
    bins: PerSide<Vec<u32>>,
    /// The bin the last byte fell in and the time span it covers, to spare a division per
    /// packet (bytes arrive in time order, mostly in the same bin as the last).
    hot: (usize, Timestamp, Timestamp),
}

impl Series {
    pub fn new(start: Timestamp, interval_ns: i64) -> Series {
        Series {
            start,
            interval_ns: interval_ns.max(1),
            bins: PerSide::default(),
            hot: (0, start, start),
        }
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn interval_ns(&self) -> i64 {
        self.interval_ns
    }

    /// Bytes per bin sent by `side` (client: up, server: down), saturating at 2^32 - 1.
    pub fn bins(&self, side: Side) -> &[u32] {
        &self.bins[side]
    }

    /// Bins held, both directions (what the series draws from its [`Budget`]).
    pub fn held_bins(&self) -> usize {
        self.bins.iter().map(Vec::len).sum()
    }

    fn index(&self, ts: Timestamp) -> usize {
        (ts.nanos_since(self.start).max(0) / self.interval_ns) as usize
    }

    /// Adds `bytes` first seen at `ts`, drawing new bins from `budget`. Times before the start
    /// (a capture whose clock steps back) fall in the first bin.
    pub fn add(&mut self, side: Side, ts: Timestamp, bytes: u64, budget: &mut Budget) {
        if bytes == 0 {
            return;
        }
        let (hot_idx, from, until) = self.hot;
        let idx = if from <= ts && ts < until {
            hot_idx
        } else {
            let mut idx = self.index(ts);
            loop {
                let len = self.bins(side).len();
                let growth = (idx + 1).saturating_sub(len);
                // The flow's own bound comes first: only a series that would stay within
                // it and still not fit has been held back by the shared budget.
                let over_own = idx >= MAX_BINS;
                let over_budget =
                    !over_own && growth > 0 && budget.used + growth > budget.max && idx > 0;
                if !over_own && !over_budget {
                    break;
                }
                if over_budget {
                    budget.coarsened += 1;
                } else {
                    budget.own_bound_coarsened += 1;
                }
                let before = self.held_bins();
                self.coarsen();
                budget.used = budget.used.saturating_sub(before - self.held_bins());
                idx = self.index(ts);
            }
            let from = Timestamp(
                self.start
                    .0
                    .saturating_add((idx as i64).saturating_mul(self.interval_ns)),
            );
            // The first bin also takes times before the start.
            let from = if idx == 0 { Timestamp(i64::MIN) } else { from };
            let until = Timestamp(
                self.start
                    .0
                    .saturating_add((idx as i64 + 1).saturating_mul(self.interval_ns)),
            );
            self.hot = (idx, from, until);
            idx
        };
        let bins = &mut self.bins[side];
        if bins.len() <= idx {
            budget.used += idx + 1 - bins.len();
            bins.resize(idx + 1, 0);
        }
        if let Some(b) = bins.get_mut(idx) {
            *b = b.saturating_add(u32::try_from(bytes).unwrap_or(u32::MAX));
        }
    }

    /// Exchanges the two directions (when a flow's roles turn out swapped).
    pub fn swap_sides(&mut self) {
        self.bins.swap();
    }

    fn coarsen(&mut self) {
        self.interval_ns = self.interval_ns.saturating_mul(2);
        self.hot = (0, self.start, self.start);
        for bins in self.bins.iter_mut() {
            let merged: Vec<u32> = bins
                .chunks(2)
                .map(|c| c.iter().fold(0u32, |a, &b| a.saturating_add(b)))
                .collect();
            *bins = merged;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn bytes_land_in_their_interval() {
        let mut b = Budget::default();
        let mut s = Series::new(Timestamp(1_000 * MS), 100 * MS);
        s.add(Side::Client, Timestamp(1_000 * MS), 10, &mut b);
        s.add(Side::Client, Timestamp(1_099 * MS), 5, &mut b);
        s.add(Side::Client, Timestamp(1_100 * MS), 7, &mut b);
        s.add(Side::Server, Timestamp(1_350 * MS), 3, &mut b);
        assert_eq!(s.bins(Side::Client), &[15, 7]);
        assert_eq!(s.bins(Side::Server), &[0, 0, 0, 3]);
    }

    #[test]
    fn long_flows_double_the_interval_and_keep_every_byte() {
        let mut b = Budget::default();
        let mut s = Series::new(Timestamp(0), 100 * MS);
        let mut total = 0;
        for i in 0..(3 * MAX_BINS as i64) {
            s.add(Side::Server, Timestamp(i * 100 * MS), 1, &mut b);
            total += 1;
        }
        assert!(s.bins(Side::Server).len() <= MAX_BINS);
        assert_eq!(s.interval_ns(), 400 * MS);
        assert_eq!(
            s.bins(Side::Server)
                .iter()
                .map(|&x| u64::from(x))
                .sum::<u64>(),
            total
        );
    }

    #[test]
    fn a_flow_spanning_all_of_time_does_not_overflow() {
        let mut b = Budget::default();
        let mut s = Series::new(Timestamp(i64::MIN / 2), 100 * MS);
        s.add(Side::Client, Timestamp(i64::MIN / 2), 1, &mut b);
        s.add(Side::Client, Timestamp(i64::MAX), 1, &mut b);
        s.add(Side::Client, Timestamp(i64::MAX - 1), 1, &mut b);
        assert_eq!(
            s.bins(Side::Client)
                .iter()
                .map(|&x| u64::from(x))
                .sum::<u64>(),
            3
        );
        assert!(s.bins(Side::Client).len() <= MAX_BINS);
    }

    #[test]
    fn a_spent_budget_makes_series_coarsen_instead_of_grow() {
        let mut b = Budget {
            max: 100,
            ..Budget::default()
        };
        let mut flows: Vec<Series> = (0..10)
            .map(|_| Series::new(Timestamp(0), 100 * MS))
            .collect();
        for s in flows.iter_mut() {
            // Two bytes 400 s apart: 4000 bins if nothing held it back.
            s.add(Side::Client, Timestamp(0), 1, &mut b);
            s.add(Side::Client, Timestamp(400_000 * MS), 1, &mut b);
            assert_eq!(
                s.bins(Side::Client)
                    .iter()
                    .map(|&x| u64::from(x))
                    .sum::<u64>(),
                2
            );
        }
        let held: usize = flows.iter().map(|s| s.bins(Side::Client).len()).sum();
        assert_eq!(held, b.used);
        assert!(b.used <= 100 + 10, "{}", b.used);
        assert!(b.coarsened > 0);
    }

    #[test]
    fn a_long_flow_reaching_its_own_bound_is_not_blamed_on_the_shared_budget() {
        let mut b = Budget::default();
        let mut s = Series::new(Timestamp(0), 100 * MS);
        s.add(Side::Client, Timestamp(0), 1, &mut b);
        // Ten days: far beyond 4096 bins of 100 ms, and far beyond the shared budget too if
        // the series grew that far (it never does: it coarsens first).
        s.add(Side::Client, Timestamp(864_000_000 * MS), 1, &mut b);
        assert!(s.bins(Side::Client).len() <= MAX_BINS);
        assert_eq!(b.coarsened, 0);
        assert!(b.own_bound_coarsened > 0);
    }

    #[test]
    fn time_stepping_back_goes_to_the_first_bin() {
        let mut b = Budget::default();
        let mut s = Series::new(Timestamp(500 * MS), 100 * MS);
        s.add(Side::Client, Timestamp(0), 4, &mut b);
        assert_eq!(s.bins(Side::Client), &[4]);
    }
}
