//! One output stream filtered through a [`Masker`]: read into [`Stream::space`], then
//! [`Stream::filled`] hands back what can be written now. Its buffers are allocated once (and
//! grown only when a rotation brings a longer value): nothing is allocated per chunk.

use super::Masker;

/// How much is read at a time.
const CHUNK: usize = 256 * 1024;

/// The state of one filtered stream.
#[derive(Default)]
pub struct Stream {
    /// What was held back (at `tail`), then the chunk read after it.
    buf: Vec<u8>,
    /// Where the bytes held back from the last chunk are in `buf` (moved to its start before
    /// the next read: the last chunk may be written from `buf` itself until then).
    tail: std::ops::Range<usize>,
    /// A chunk with a match, as written.
    out: Vec<u8>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The buffers hold output, which may hold values: only their size is shown.
        f.debug_struct("Stream")
            .field("held", &self.tail.len())
            .finish_non_exhaustive()
    }
}

impl Stream {
    /// A stream with nothing read yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where to read the next chunk into (after what was held back), sized for `masker`.
    pub fn space(&mut self, masker: &Masker) -> &mut [u8] {
        let held = self.tail.len();
        if self.tail.start > 0 {
            self.buf.copy_within(self.tail.clone(), 0);
        }
        self.tail = 0..held;
        let want = masker.longest() + CHUNK;
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        &mut self.buf[held..held + CHUNK]
    }

    /// `read` bytes were read into [`Stream::space`]: what may be written now, masked. Holds
    /// back the end that could still begin a value. A chunk without a match is handed back
    /// where it was read: most output is never copied.
    pub fn filled(&mut self, read: usize, masker: &Masker) -> &[u8] {
        let len = self.tail.len() + read;
        self.out.clear();
        let (keep, changed) = masker.mask(&self.buf[..len], &mut self.out);
        self.tail = keep..len;
        if changed { &self.out } else { &self.buf[..keep] }
    }

    /// The stream ended: the rest, masked. What was held back is not a whole value, but if it
    /// is most of one (at least 8 bytes of it), it is masked too.
    pub fn finish(&mut self, masker: &Masker) -> &[u8] {
        self.out.clear();
        masker.mask_all(&self.buf[self.tail.clone()], &mut self.out);
        self.tail = 0..0;
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `input` written in `chunks` (lengths), all of it then the end; what comes out.
    fn run(masker: &Masker, input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut stream = Stream::new();
        let mut out = Vec::new();
        let mut rest = input;
        for &cut in cuts.iter().chain(std::iter::once(&usize::MAX)) {
            let n = cut.min(rest.len());
            let space = stream.space(masker);
            space[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            out.extend_from_slice(stream.filled(n, masker));
        }
        out.extend_from_slice(stream.finish(masker));
        out
    }

    #[test]
    fn values_are_masked_however_the_output_is_cut() {
        let (m, _) = Masker::new([
            ("A", "secretvalue1"),
            ("B", "secretvalue12345"),
            ("C", "another-secret"),
        ])
        .unwrap();
        let input = b"a secretvalue1 b secretvalue12345 c another-secret secretvalue123 end";
        let want = b"a <A> b <B> c <C> <A>23 end".to_vec();
        for cut in 1..input.len() {
            assert_eq!(run(&m, input, &[cut]), want, "cut at {cut}");
            let every = vec![cut; input.len()];
            assert_eq!(run(&m, input, &every), want, "chunks of {cut}");
        }
    }

    #[test]
    fn what_cannot_begin_a_value_is_written_at_once_and_a_prefix_never_alone() {
        let (m, _) = Masker::new([("KEY", "sk-live-0123456789")]).unwrap();
        let mut stream = Stream::new();
        let mut feed = |bytes: &[u8]| {
            let space = stream.space(&m);
            space[..bytes.len()].copy_from_slice(bytes);
            String::from_utf8(stream.filled(bytes.len(), &m).to_vec()).unwrap()
        };
        assert_eq!(feed(b"line one\nkey="), "line one\nkey=");
        assert_eq!(feed(b"sk-live-01234"), "", "a prefix of the value waits");
        assert_eq!(feed(b"56789\n"), "<KEY>\n");
        assert_eq!(feed(b"sk-lime\n"), "sk-lime\n");
    }

    #[test]
    fn what_follows_a_match_is_judged_again() {
        // "1234XY" could begin B, but A took "1234": "XY" alone begins nothing.
        let (m, _) = Masker::new([("A", "sk-AAAA-1234"), ("B", "1234XYZW-rest-secret")]).unwrap();
        let mut stream = Stream::new();
        let space = stream.space(&m);
        space[..14].copy_from_slice(b"sk-AAAA-1234XY");
        assert_eq!(stream.filled(14, &m), b"<A>XY");
    }

    #[test]
    fn the_end_of_the_output_that_is_most_of_a_value_is_masked() {
        let (m, _) = Masker::new([("KEY", "sk-live-0123456789")]).unwrap();
        assert_eq!(run(&m, b"key=sk-live-01234567", &[]), b"key=<KEY>");
        // Shorter than a value may be: written as it is.
        assert_eq!(run(&m, b"key=sk-live", &[]), b"key=sk-live");
        // A shorter value inside the end does not hide the longer one it begins.
        let (m, _) = Masker::new([("A", "sk-live-0123"), ("B", "sk-live-0123456789abcdef")]).unwrap();
        assert_eq!(run(&m, b"xxsk-live-0123456789abcde", &[]), b"xx<B>");
        assert_eq!(run(&m, b"sk-live-0123 sk-live-0123456789abcde", &[5, 9]), b"<A> <B>");
    }

    #[test]
    fn binary_output_is_untouched_but_for_matches() {
        let (m, _) = Masker::new([("KEY", "sk-live-0123456789")]).unwrap();
        let mut input: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        assert_eq!(run(&m, &input, &[7, 300, 1]), input);
        input.extend_from_slice(b"sk-live-0123456789\xff\x00");
        let mut want: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        want.extend_from_slice(b"<KEY>\xff\x00");
        assert_eq!(run(&m, &input, &[4990, 3]), want);
    }
}
