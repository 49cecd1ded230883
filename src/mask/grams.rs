//! The prefilter in front of the automaton: a Bloom filter of the 4-byte grams that begin each
//! pattern, probed at every fourth byte of the output.
//!
//! Every pattern is at least [`super::MIN_LEN`] (8) bytes long, so an occurrence starting at
//! `s` covers a position `i` in `s..s + 4` that is a multiple of 4, and the 4 bytes at `i` are
//! the pattern's own at offset `i - s` (0 to 3): the grams at offsets 0..4 of every pattern
//! are in the filter, so probing multiples of 4 misses no occurrence. Only windows around a
//! hit (from 3 bytes before it to the longest pattern after it) are searched by the automaton:
//! log text almost never hits, so almost every byte costs a quarter of a probe. With two hash
//! functions (a hit needs both bits) and the table sized to the patterns, false hits are rare.

/// The filter.
#[derive(Clone)]
pub(super) struct Grams {
    bits: Box<[u64]>,
    /// 32 minus the table's bit width.
    shift: u32,
}

/// The offsets at which a pattern's grams go in.
const OFFSETS: usize = 4;

impl Grams {
    /// The filter for `patterns` (each at least 8 bytes).
    pub fn new(patterns: &[Box<[u8]>]) -> Self {
        // About 16 bits per entry (two per gram), between 32 KiB (L1-sized) and 2 MiB.
        let entries = patterns.len().saturating_mul(OFFSETS * 2 * 16);
        let width = entries.next_power_of_two().trailing_zeros().clamp(18, 24);
        let mut grams = Self {
            bits: vec![0u64; 1 << (width - 6)].into_boxed_slice(),
            shift: 32 - width,
        };
        for pattern in patterns {
            for offset in 0..OFFSETS {
                if let Some(gram) = gram(pattern, offset) {
                    for slot in grams.slots(gram) {
                        grams.bits[slot >> 6] |= 1 << (slot & 63);
                    }
                }
            }
        }
        grams
    }

    fn slots(&self, gram: u32) -> [usize; 2] {
        let a = gram.wrapping_mul(0x9E37_79B1) >> self.shift;
        let b = gram.wrapping_mul(0x85EB_CA77).rotate_left(13).wrapping_mul(0xC2B2_AE3D) >> self.shift;
        [a as usize, b as usize]
    }

    fn hit(&self, gram: u32) -> bool {
        self.slots(gram)
            .iter()
            .all(|&slot| self.bits[slot >> 6] & (1 << (slot & 63)) != 0)
    }

    /// The windows of `data` that may hold an occurrence, in order and disjoint, each to be
    /// searched by `search` (patterns at most `longest` bytes); `search` returns false to stop.
    pub fn windows(&self, data: &[u8], longest: usize, mut search: impl FnMut(usize, usize) -> bool) {
        let mut window: Option<(usize, usize)> = None;
        let mut at = 0;
        while let Some(gram) = gram(data, at) {
            if self.hit(gram) {
                let (start, end) = (at.saturating_sub(OFFSETS - 1), (at + longest).min(data.len()));
                window = match window {
                    Some((from, to)) if start <= to => Some((from, end.max(to))),
                    Some((from, to)) => {
                        if !search(from, to) {
                            return;
                        }
                        Some((start, end))
                    }
                    None => Some((start, end)),
                };
            }
            at += OFFSETS;
        }
        if let Some((from, to)) = window {
            search(from, to);
        }
    }
}

/// The 4 bytes at `at`, if there are 4.
fn gram(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at + OFFSETS)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_occurrence_at_any_offset_is_in_a_window() {
        let pattern: Box<[u8]> = Box::from(&b"sk-live-0123"[..]);
        let grams = Grams::new(std::slice::from_ref(&pattern));
        for offset in 0..12 {
            let mut data = vec![b'.'; offset];
            data.extend_from_slice(&pattern);
            data.extend_from_slice(b"....");
            let mut windows = Vec::new();
            grams.windows(&data, pattern.len(), |from, to| {
                windows.push((from, to));
                true
            });
            assert!(
                windows
                    .iter()
                    .any(|&(from, to)| from <= offset && offset + pattern.len() <= to),
                "offset {offset}: {windows:?}"
            );
        }
        let mut none = 0;
        grams.windows(&[b'x'; 4096], 12, |_, _| {
            none += 1;
            true
        });
        assert_eq!(none, 0);
    }
}
