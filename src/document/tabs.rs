//! Tabs where PyYAML refuses them.
//!
//! PyYAML separates tokens with spaces only: a tab between tokens, after a plain scalar, in the
//! indentation or inside a plain scalar stops it with "found character '\t' that cannot start
//! any token", so LiteLLM does not start. YAML 1.2 allows tabs as separators, so saphyr reads
//! such a file; osenv must refuse it. Tabs stay fine where PyYAML takes any character: inside
//! quotes, in block scalar content and in comments.

use super::{Node, NodeKind, ScalarStyle};

/// The byte offset of the first tab PyYAML refuses, given the parsed `nodes` (in document
/// order, spans in bytes of `text`).
pub(super) fn refused(text: &str, nodes: &[Node]) -> Option<usize> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b'\t') {
        return None;
    }
    let scalars: Vec<&Node> = nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Scalar { .. }))
        .collect();
    let containing = |at: usize| {
        let i = scalars.partition_point(|n| n.start as usize <= at);
        (i > 0 && at < scalars[i - 1].end as usize).then(|| scalars[i - 1])
    };
    let is_block = |n: &Node| matches!(n.kind, NodeKind::Scalar { style } if style.is_block());
    // Whether `at` is on the line where a span starting at `start` starts, after other text.
    let on_header = |start: usize, line_start: usize, at: usize| {
        !text[start..at].contains(['\n', '\r']) && !text[line_start..start].trim_start_matches(' ').is_empty()
    };
    let is_blank = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut comment_from = None;
    let mut line_start = 0;
    for (at, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' | b'\r' => {
                line_start = at + 1;
                comment_from = None;
            }
            b'#' if comment_from.is_none()
                && (at == line_start || is_blank(bytes[at - 1]))
                && containing(at).is_none() =>
            {
                comment_from = Some(at);
            }
            // A block scalar's span starts at its content, so its header line (`|-  # c`) is
            // outside it: a tab there counts only in the comment, as PyYAML has it.
            b'\t' if comment_from.is_none() => match containing(at) {
                // An empty block scalar's span is its header line.
                Some(n) if is_block(n) && on_header(n.start as usize, line_start, at) => return Some(at),
                Some(n)
                    if matches!(
                        n.kind,
                        NodeKind::Scalar {
                            style: ScalarStyle::SingleQuoted
                                | ScalarStyle::DoubleQuoted
                                | ScalarStyle::Literal
                                | ScalarStyle::Folded
                        }
                    ) => {}
                _ => return Some(at),
            },
            _ => {}
        }
    }
    None
}
