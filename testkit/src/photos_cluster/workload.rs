//! What the load driver sends: uploads with deterministic content (pattern bytes of a per-upload seed, so
//! verifying needs no stored copy) and sizes drawn from a seeded generator, mostly small, some above the
//! storage's part size so that multipart uploads run.

use std::time::Duration;

/// How big the load is.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Uploads while node 3 is killed and restarted.
    pub uploads: usize,
    /// Requests (half uploads, half reads of earlier uploads) while node 2 is killed and restarted: a third
    /// before, a third while it is down (more if they take less than `outage`), a third once it is back.
    pub outage_requests: usize,
    /// How long node 2 stays down, at least.
    pub outage: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The storage's `part_size`: content above it goes as a multipart upload.
    pub part_size: u64,
    /// Every this many uploads, one above the part size.
    pub multipart_every: usize,
    /// Every this many multipart uploads, one of 16 to 20 MiB.
    pub large_every: usize,
    /// The largest small upload.
    pub small_max: u64,
    /// Seeds the sizes and the contents.
    pub seed: u64,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

impl Plan {
    /// Issue 10's numbers: 2,000 uploads of 1 KiB to 20 MiB at concurrency 32, one in 19 (5.3 %) above a part
    /// size of 5 MiB, about 750 MB in all; then at least 400 requests around an endpoint outage of at least 10 s.
    pub fn issue() -> Self {
        Self {
            uploads: 2_000,
            outage_requests: 400,
            outage: Duration::from_secs(10),
            concurrency: 32,
            part_size: 5 * MIB,
            multipart_every: 19,
            large_every: 25,
            small_max: 256 * KIB,
            seed: 10,
        }
    }

    /// The same shape, small enough to check that the scenario runs (`cargo test --benches`).
    pub fn smoke() -> Self {
        Self {
            uploads: 120,
            outage_requests: 60,
            outage: Duration::from_secs(2),
            concurrency: 16,
            large_every: 3,
            ..Self::issue()
        }
    }

    /// The uploads of the first load (node 3's failure).
    pub fn node_failure_uploads(&self) -> Vec<Upload> {
        (0..self.uploads).map(|i| self.upload(i)).collect()
    }

    /// Upload `i` of the plan: the second load continues the numbering, so every upload has its own seed.
    pub fn upload(&self, i: usize) -> Upload {
        let mut rng = fastrand::Rng::with_seed(self.seed.wrapping_mul(1_000_003) ^ i as u64);
        let size = if i % self.multipart_every == 0 {
            if (i / self.multipart_every) % self.large_every == self.large_every - 1 {
                rng.u64(16 * MIB..=20 * MIB)
            } else {
                rng.u64(self.part_size + KIB..=self.part_size + MIB)
            }
        } else {
            // Log-uniform from 1 KiB: most uploads are small, as photos and thumbnails are.
            let span = (self.small_max as f64 / KIB as f64).ln();
            (KIB as f64 * (rng.f64() * span).exp()) as u64
        };
        let seed = self.seed << 32 | i as u64;
        Upload {
            seed,
            size,
            file_name: format!("u{seed:x}-{size}.png"),
        }
    }
}

/// One upload: its content is `size` bytes of pattern `seed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The pattern's seed.
    pub seed: u64,
    /// Bytes.
    pub size: u64,
    /// The name it is sent under (the app stores it under `photos/`).
    pub file_name: String,
}

/// How a list of uploads adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Uploads.
    pub count: usize,
    /// Bytes in all.
    pub bytes: u64,
    /// Uploads above the part size (multipart).
    pub multipart: usize,
    /// The smallest upload.
    pub smallest: u64,
    /// The largest upload.
    pub largest: u64,
}

impl Totals {
    /// The totals of `uploads` against `part_size`.
    pub fn of(uploads: &[Upload], part_size: u64) -> Self {
        Self {
            count: uploads.len(),
            bytes: uploads.iter().map(|u| u.size).sum(),
            multipart: uploads.iter().filter(|u| u.size > part_size).count(),
            smallest: uploads.iter().map(|u| u.size).min().unwrap_or_default(),
            largest: uploads.iter().map(|u| u.size).max().unwrap_or_default(),
        }
    }
}
