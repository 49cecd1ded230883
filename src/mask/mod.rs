//! Masking a command's output (`exec --mask`): every resolved value, in every form it takes in
//! output ([`forms`]), replaced by a marker that names its variable (`<OPENAI_API_KEY>`).
//!
//! One [`Masker`] holds the patterns of a set of values, matched in one pass (an Aho-Corasick
//! automaton, leftmost-longest so a value and a longer one sharing its start are told apart);
//! a [`Stream`] filters one output stream through it, chunk by chunk, holding back only the
//! bytes that could still begin a pattern ([`Masker::held`]): output that cannot be part of a
//! value is written at once, and no prefix of a value is written on its own, however long the
//! command pauses in the middle of one.

mod forms;
mod grams;
mod stream;

pub use stream::Stream;

use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::BTreeMap;

/// Values shorter than this are not masked: masking them would replace common words and
/// numbers in the output, and a pattern that short says little. osenv warns about them.
pub const MIN_LEN: usize = 8;

/// The longest value masked: the automaton's memory grows with the patterns' bytes (about
/// 120 bytes each), and a value longer than this is a file (a certificate chain, a bundle)
/// rather than a key. A longer value is an error, not a value left unmasked.
pub const MAX_VALUE: usize = 16 * 1024;

/// The most pattern bytes (every form of every value) one masker holds: about 250 MB of
/// automaton at most.
pub const MAX_PATTERN_BYTES: usize = 2 * 1024 * 1024;

use crate::error::MaskError;

/// The patterns of a set of values, and the marker each is replaced by.
#[derive(Clone)]
pub struct Masker {
    automaton: Option<AhoCorasick>,
    grams: grams::Grams,
    /// The marker for each pattern, by pattern id.
    markers: Vec<std::sync::Arc<[u8]>>,
    /// The patterns, sorted, for [`Masker::held`].
    sorted: Vec<Box<[u8]>>,
    /// Whether some pattern starts with this byte.
    first: [bool; 256],
    longest: usize,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Patterns are values: never shown.
        f.debug_struct("Masker")
            .field("patterns", &self.sorted.len())
            .finish_non_exhaustive()
    }
}

impl Masker {
    /// The masker for `values` (name, value). A value in several names is marked with the
    /// first name in order. Returns the names whose values are too short to mask.
    pub fn new<'a>(values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(Self, Vec<String>), MaskError> {
        let mut short = Vec::new();
        // pattern → marker; the first name wins.
        let mut patterns: BTreeMap<Vec<u8>, std::sync::Arc<[u8]>> = BTreeMap::new();
        for (name, value) in values {
            if value.len() < MIN_LEN {
                short.push(name.to_owned());
                continue;
            }
            if value.len() > MAX_VALUE {
                return Err(MaskError::ValueTooLong {
                    name: name.to_owned(),
                    bytes: value.len(),
                    limit: MAX_VALUE,
                });
            }
            let marker: std::sync::Arc<[u8]> = format!("<{name}>").into_bytes().into();
            for form in forms::of(value) {
                if form.len() >= MIN_LEN {
                    patterns.entry(form).or_insert_with(|| marker.clone());
                }
            }
        }
        short.sort();
        short.dedup();
        Ok((Self::from_patterns(patterns)?, short))
    }

    fn from_patterns(patterns: BTreeMap<Vec<u8>, std::sync::Arc<[u8]>>) -> Result<Self, MaskError> {
        let bytes: usize = patterns.keys().map(Vec::len).sum();
        if bytes > MAX_PATTERN_BYTES {
            return Err(MaskError::TooManyBytes {
                bytes,
                limit: MAX_PATTERN_BYTES,
            });
        }
        let mut first = [false; 256];
        let mut longest = 0;
        let mut sorted = Vec::with_capacity(patterns.len());
        let mut markers = Vec::with_capacity(patterns.len());
        for (pattern, marker) in patterns {
            first[usize::from(pattern[0])] = true;
            longest = longest.max(pattern.len());
            sorted.push(pattern.into_boxed_slice());
            markers.push(marker);
        }
        // The crate's own choice of automaton (a contiguous NFA for more than a few patterns):
        // behind the prefilter it searches a few windows, so building fast (a DFA of a hundred
        // values took 30 ms at start) matters more than searching fast.
        let automaton = if sorted.is_empty() {
            None
        } else {
            let built = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&sorted)
                .map_err(MaskError::Automaton)?;
            Some(built)
        };
        Ok(Self {
            automaton,
            grams: grams::Grams::new(&sorted),
            markers,
            sorted,
            first,
            longest,
        })
    }

    /// A masker that masks nothing.
    pub fn none() -> Self {
        Self {
            automaton: None,
            grams: grams::Grams::new(&[]),
            markers: Vec::new(),
            sorted: Vec::new(),
            first: [false; 256],
            longest: 0,
        }
    }

    /// This masker and `other`'s patterns together (`--watch`: old and new values both
    /// masked); for a pattern in both, this one's marker.
    pub fn with(&self, other: &Self) -> Result<Self, MaskError> {
        let mut patterns: BTreeMap<Vec<u8>, std::sync::Arc<[u8]>> = BTreeMap::new();
        for masker in [self, other] {
            for (pattern, marker) in masker.sorted.iter().zip(&masker.markers) {
                patterns.entry(pattern.to_vec()).or_insert_with(|| marker.clone());
            }
        }
        Self::from_patterns(patterns)
    }

    /// The length of the longest pattern.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// The length of the longest end of `data` that could still become a pattern: a proper
    /// prefix of one (a complete pattern that a longer one extends counts too).
    pub fn held(&self, data: &[u8]) -> usize {
        let most = data.len().min(self.longest.saturating_sub(1));
        for len in (1..=most).rev() {
            let tail = &data[data.len() - len..];
            if !self.first[usize::from(tail[0])] {
                continue;
            }
            // The patterns starting with `tail` sort together, from the first one not below it.
            let at = self.sorted.partition_point(|p| &**p < tail);
            let extends = |p: &[u8]| p.len() > len && p.starts_with(tail);
            if self.sorted[at..].iter().take(2).any(|p| extends(p)) {
                return len;
            }
        }
        0
    }

    /// The marker of a pattern that `tail` begins, if `tail` is long enough to be taken for a
    /// value ([`MIN_LEN`]): the end of a command's output that is most of a value.
    pub fn prefix_marker(&self, tail: &[u8]) -> Option<&[u8]> {
        if tail.len() < MIN_LEN {
            return None;
        }
        let at = self.sorted.partition_point(|p| &**p < tail);
        self.sorted
            .get(at)
            .filter(|p| p.starts_with(tail))
            .map(|_| &*self.markers[at])
    }

    /// Write `data[from..]` to `out` with every match replaced by its marker, up to the last
    /// match; returns where that match ended (`from` if none). Matches that start at or after
    /// `stop` are left alone (they may still grow).
    fn replace(&self, data: &[u8], from: usize, stop: usize, out: &mut Vec<u8>) -> usize {
        let Some(automaton) = &self.automaton else {
            return from;
        };
        let mut at = from;
        // Only where the prefilter hits; a match lies inside one window (see `grams`).
        self.grams.windows(&data[from..], self.longest, |start, end| {
            let span = from + start..from + end;
            for found in automaton.find_iter(aho_corasick::Input::new(data).span(span)) {
                if found.start() >= stop {
                    return false;
                }
                out.extend_from_slice(&data[at..found.start()]);
                out.extend_from_slice(&self.markers[found.pattern().as_usize()]);
                at = found.end();
            }
            true
        });
        at
    }

    /// Write to `out` what of `data` may be written now, masked; returns how much of `data`
    /// that covers (the rest is held back: it could still begin a value) and whether anything
    /// was masked (if not, `data[..covered]` is what to write, and `out` is untouched).
    pub fn mask(&self, data: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        let mut at = 0;
        let mut stop = data.len() - self.held(data);
        loop {
            let after = self.replace(data, at, stop, out);
            if after == at && out.is_empty() {
                return (stop, false);
            }
            if after <= stop {
                out.extend_from_slice(&data[after..stop]);
                return (stop, true);
            }
            // A match ran past what was held back: what follows it is judged again.
            at = after;
            stop = data.len() - self.held(&data[after..]);
        }
    }

    /// All of `data`, masked: the end of a stream. A tail that is most of a value (at least
    /// [`MIN_LEN`] bytes of one, the value cut short) is masked too.
    pub fn mask_all(&self, data: &[u8], out: &mut Vec<u8>) {
        let mut at = 0;
        loop {
            // The end first: a shorter value inside it must not hide the longer one it begins.
            let tail = data.len() - self.held(&data[at..]);
            let marker = self.prefix_marker(&data[tail..]);
            let stop = if marker.is_some() { tail } else { data.len() };
            let after = self.replace(data, at, stop, out);
            if after <= stop {
                out.extend_from_slice(&data[after..stop]);
                if let Some(marker) = marker {
                    out.extend_from_slice(marker);
                }
                return;
            }
            // A match ran into the tail: what follows it is judged again.
            at = after;
        }
    }
}

impl Default for Masker {
    fn default() -> Self {
        Self::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefilter changes nothing: on random text over a small alphabet (overlaps and near
    /// misses everywhere), the same output as the automaton over all of it.
    #[test]
    fn the_prefilter_finds_every_match_the_automaton_finds() {
        for seed in 0..200 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut word = |len: usize| -> String { (0..len).map(|_| rng.choice(['a', 'b', 'c']).unwrap()).collect() };
            let values: Vec<(String, String)> = (0..4).map(|i| (format!("V{i}"), word(8 + i * 3))).collect();
            let text = word(3000);
            let (masker, _) = Masker::new(values.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap();
            let mut filtered = Vec::new();
            let at = masker.replace(text.as_bytes(), 0, text.len(), &mut filtered);
            filtered.extend_from_slice(&text.as_bytes()[at..]);
            let mut plain = Vec::new();
            let mut at = 0;
            for found in masker.automaton.as_ref().unwrap().find_iter(text.as_bytes()) {
                plain.extend_from_slice(&text.as_bytes()[at..found.start()]);
                plain.extend_from_slice(&masker.markers[found.pattern().as_usize()]);
                at = found.end();
            }
            plain.extend_from_slice(&text.as_bytes()[at..]);
            assert_eq!(filtered, plain, "seed {seed}");
        }
    }

    #[test]
    fn short_values_are_named_not_masked() {
        let (masker, short) = Masker::new([("PIN", "1234"), ("EMPTY", ""), ("KEY", "sk-12345678")]).unwrap();
        assert_eq!(short, ["EMPTY", "PIN"]);
        let mut out = Vec::new();
        masker.mask_all(b"key=sk-12345678 pin=1234", &mut out);
        assert_eq!(out, b"key=<KEY> pin=1234");
        assert!(format!("{masker:?}").contains("patterns"));
        assert!(!format!("{masker:?}").contains("sk-"));
    }

    #[test]
    fn what_is_held_is_the_longest_end_that_could_become_a_pattern() {
        let (m, _) = Masker::new([("A", "secretvalue1"), ("B", "secretvalue12345")]).unwrap();
        assert_eq!(m.held(b"log: secr"), 4);
        assert_eq!(m.held(b"log: secretvalue1"), 12, "A is complete but B may follow");
        assert_eq!(m.held(b"log: secretvalue12345"), 0);
        assert_eq!(m.held(b"log: nothing"), 0);
        assert_eq!(m.held(b""), 0);
    }
}
