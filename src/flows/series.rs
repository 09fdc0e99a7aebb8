//! Per-flow goodput series: unique payload bytes per fixed interval, both directions.
//!
//! Bins start at the flow's first packet. A series holds at most [`MAX_BINS`] bins; a flow
//! that lasts longer doubles the interval and merges neighbouring bins (as often as needed),
//! so memory per flow is bounded and the whole flow stays covered. The interval in effect is
//! reported with the series.

use super::Side;
use crate::capture::Timestamp;

/// Bins per direction before the interval doubles (4096 bins = 6.8 minutes at 100 ms).
pub const MAX_BINS: usize = 4096;

#[derive(Debug, Clone)]
pub struct Series {
    start: Timestamp,
    interval_ns: i64,
    up: Vec<u64>,
    down: Vec<u64>,
    /// The bin the last byte fell in and the time span it covers, to spare a division per
    /// packet (bytes arrive in time order, mostly in the same bin as the last).
    hot: (usize, Timestamp, Timestamp),
}

impl Series {
    pub fn new(start: Timestamp, interval_ns: i64) -> Series {
        Series {
            start,
            interval_ns: interval_ns.max(1),
            up: Vec::new(),
            down: Vec::new(),
            hot: (0, start, start),
        }
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn interval_ns(&self) -> i64 {
        self.interval_ns
    }

    /// Bytes per bin sent by `side` (client: up, server: down).
    pub fn bins(&self, side: Side) -> &[u64] {
        match side {
            Side::Client => &self.up,
            Side::Server => &self.down,
        }
    }

    /// Adds `bytes` first seen at `ts`. Times before the start (a capture whose clock steps
    /// back) fall in the first bin.
    pub fn add(&mut self, side: Side, ts: Timestamp, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let (hot_idx, from, until) = self.hot;
        let idx = if from <= ts && ts < until {
            hot_idx
        } else {
            let mut idx = (ts.nanos_since(self.start).max(0) / self.interval_ns) as usize;
            while idx >= MAX_BINS {
                self.coarsen();
                idx = (ts.nanos_since(self.start).max(0) / self.interval_ns) as usize;
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
        let bins = match side {
            Side::Client => &mut self.up,
            Side::Server => &mut self.down,
        };
        if bins.len() <= idx {
            bins.resize(idx + 1, 0);
        }
        if let Some(b) = bins.get_mut(idx) {
            *b = b.saturating_add(bytes);
        }
    }

    /// Exchanges the two directions (when a flow's roles turn out swapped).
    pub fn swap_sides(&mut self) {
        std::mem::swap(&mut self.up, &mut self.down);
    }

    fn coarsen(&mut self) {
        self.interval_ns = self.interval_ns.saturating_mul(2);
        self.hot = (0, self.start, self.start);
        for bins in [&mut self.up, &mut self.down] {
            let merged: Vec<u64> = bins.chunks(2).map(|c| c.iter().sum()).collect();
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
        let mut s = Series::new(Timestamp(1_000 * MS), 100 * MS);
        s.add(Side::Client, Timestamp(1_000 * MS), 10);
        s.add(Side::Client, Timestamp(1_099 * MS), 5);
        s.add(Side::Client, Timestamp(1_100 * MS), 7);
        s.add(Side::Server, Timestamp(1_350 * MS), 3);
        assert_eq!(s.bins(Side::Client), &[15, 7]);
        assert_eq!(s.bins(Side::Server), &[0, 0, 0, 3]);
    }

    #[test]
    fn long_flows_double_the_interval_and_keep_every_byte() {
        let mut s = Series::new(Timestamp(0), 100 * MS);
        let mut total = 0;
        for i in 0..(3 * MAX_BINS as i64) {
            s.add(Side::Server, Timestamp(i * 100 * MS), 1);
            total += 1;
        }
        assert!(s.bins(Side::Server).len() <= MAX_BINS);
        assert_eq!(s.interval_ns(), 400 * MS);
        assert_eq!(s.bins(Side::Server).iter().sum::<u64>(), total);
    }

    #[test]
    fn a_flow_spanning_all_of_time_does_not_overflow() {
        let mut s = Series::new(Timestamp(i64::MIN / 2), 100 * MS);
        s.add(Side::Client, Timestamp(i64::MIN / 2), 1);
        s.add(Side::Client, Timestamp(i64::MAX), 1);
        s.add(Side::Client, Timestamp(i64::MAX - 1), 1);
        assert_eq!(s.bins(Side::Client).iter().sum::<u64>(), 3);
        assert!(s.bins(Side::Client).len() <= MAX_BINS);
    }

    #[test]
    fn time_stepping_back_goes_to_the_first_bin() {
        let mut s = Series::new(Timestamp(500 * MS), 100 * MS);
        s.add(Side::Client, Timestamp(0), 4);
        assert_eq!(s.bins(Side::Client), &[4]);
    }
}
