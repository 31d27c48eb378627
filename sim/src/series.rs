//! File sizes over a run: a bounded time series, and exact peaks.
//!
//! A sample is taken after every call that changes a size. The series keeps at most
//! [`SERIES_CAP`] points by halving (every other point dropped, and the sampling stride
//! doubled) when full, so a run of millions of calls still plots in a few KiB; the peaks are
//! tracked exactly and separately, so no maximum is ever lost to downsampling.

/// Points kept in the series at most.
pub const SERIES_CAP: usize = 4096;

/// Sizes after one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// The traced call after which this was taken.
    pub seq: u64,
    /// The largest apparent size of any live file.
    pub largest_apparent: u64,
    /// The most bytes allocated to any one live file.
    pub largest_allocated: u64,
    /// Allocated bytes of every live file together.
    pub partition_used: u64,
}

/// Maxima over the whole run, any file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peaks {
    pub apparent: u64,
    pub allocated: u64,
    pub partition_used: u64,
}

#[derive(Debug, Clone)]
pub struct Series {
    points: Vec<Sample>,
    stride: u64,
    seen: u64,
    last: Option<Sample>,
    peaks: Peaks,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            points: Vec::new(),
            stride: 1,
            seen: 0,
            last: None,
            peaks: Peaks::default(),
        }
    }
}

impl Series {
    /// Record sizes after call `s.seq`; samples equal to the last one (but for seq) are skipped.
    pub fn record(&mut self, s: Sample) {
        self.peaks.apparent = self.peaks.apparent.max(s.largest_apparent);
        self.peaks.allocated = self.peaks.allocated.max(s.largest_allocated);
        self.peaks.partition_used = self.peaks.partition_used.max(s.partition_used);
        if let Some(l) = self.last
            && (l.largest_apparent, l.largest_allocated, l.partition_used)
                == (s.largest_apparent, s.largest_allocated, s.partition_used)
        {
            return;
        }
        self.last = Some(s);
        if self.seen.is_multiple_of(self.stride) {
            self.points.push(s);
            if self.points.len() >= SERIES_CAP {
                let mut i = 0;
                self.points.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
            }
        }
        self.seen += 1;
    }

    /// The kept points, ending with the latest sample.
    pub fn points(&self) -> Vec<Sample> {
        let mut v = self.points.clone();
        if let Some(l) = self.last
            && v.last() != Some(&l)
        {
            v.push(l);
        }
        v
    }

    pub fn peaks(&self) -> Peaks {
        self.peaks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_stays_bounded_and_peaks_are_exact() {
        let mut s = Series::default();
        for i in 0..100_000u64 {
            let spike = if i == 77_777 { 1 << 40 } else { i };
            s.record(Sample {
                seq: i,
                largest_apparent: spike,
                largest_allocated: i,
                partition_used: i * 2,
            });
        }
        let pts = s.points();
        assert!(pts.len() <= SERIES_CAP + 1, "{}", pts.len());
        assert!(pts.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(pts.last().map(|p| p.seq), Some(99_999));
        assert_eq!(s.peaks().apparent, 1 << 40);
        assert_eq!(s.peaks().partition_used, 199_998);
    }

    #[test]
    fn unchanged_samples_are_not_recorded() {
        let mut s = Series::default();
        for seq in 0..10 {
            s.record(Sample {
                seq,
                largest_apparent: 5,
                ..Sample::default()
            });
        }
        assert_eq!(s.points().len(), 1);
    }
}
