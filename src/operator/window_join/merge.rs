//! The merge itself, free of I/O: two cursors over the buffered right rows, moved by the left
//! rows in (key, time) order. The stream in `stream.rs` feeds it batches when it asks and
//! turns its candidate pairs into output.

use std::cmp::Ordering;
use std::collections::VecDeque;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array};
use datafusion::arrow::buffer::ScalarBuffer;
use datafusion::arrow::compute::{filter, interleave, take};
use datafusion::arrow::datatypes::UInt32Type;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::row::{Row, Rows};

use super::held::{HeldBuffers, compacted};

/// A batch of one side, its rows valid (no null key or time) and in (key, time) order, with
/// the keys in row format (comparable as bytes) and the times as integers.
pub struct Chunk {
    pub batch: RecordBatch,
    pub keys: Rows,
    pub times: ScalarBuffer<i64>,
    /// Memory of the keys and times, which only this chunk holds (its batch's buffers may
    /// be shared: see [`HeldBuffers`]).
    size: usize,
    /// Its text is already in buffers of its own ([`Merge::compact`]).
    compacted: bool,
}

impl Chunk {
    pub fn new(batch: RecordBatch, keys: Rows, times: ScalarBuffer<i64>) -> Self {
        let size = keys.size() + times.inner().capacity();
        Chunk {
            batch,
            keys,
            times,
            size,
            compacted: false,
        }
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    fn key_time(&self, row: usize) -> (Row<'_>, i64) {
        (self.keys.row(row), self.times[row])
    }
}

/// A right row: the chunk's sequence number since the start, and the row in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    chunk: usize,
    row: usize,
}

/// What the merge needs before it can go on.
#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    /// The next left batch ([`Merge::push_left`]), or [`Merge::finish_left`] at its end.
    Left,
    /// The next right batch ([`Merge::push_right`]), or [`Merge::finish_right`] at its end.
    Right,
    /// Candidate pairs are waiting to be taken ([`Merge::take_pairs`]).
    Flush,
    /// Every pair has been produced and taken.
    Done,
}

/// The window over the right side and the left batch being joined.
pub struct Merge {
    /// Inclusive offsets: a right row matches when its time lies in
    /// `[left time + lower, left time + upper]`.
    lower: i64,
    upper: i64,
    /// Right rows from `front` on; chunks wholly before it are dropped.
    window: VecDeque<Chunk>,
    /// Rows in `window`, and bytes of `window` and `left`: kept as chunks come and go, since
    /// the stream reads them after every step.
    window_rows: usize,
    /// The held chunks' own memory, and their batches' buffers counted once.
    chunk_bytes: usize,
    buffers: HeldBuffers,
    first_chunk: usize,
    right_done: bool,
    /// First right row not before (key, time + lower) of the current left row.
    front: Pos,
    /// First right row after (key, time + upper) of the current left row.
    back: Pos,
    left: Option<Chunk>,
    left_row: usize,
    left_done: bool,
    /// Next right row to pair with the current left row; `None` until its range is known.
    emitting: Option<Pos>,
    left_indices: Vec<u32>,
    right_indices: Vec<Pos>,
    /// The oldest chunk `right_indices` refer to (`usize::MAX` when none). Not always the
    /// first entry's: a left row whose pairs were split by a flush leaves its tail first, and
    /// the next left row's pairs may start before it.
    oldest_referenced: usize,
    /// Largest number of candidate pairs per [`Need::Flush`].
    batch_size: usize,
}

impl Merge {
    pub fn new(lower: i64, upper: i64, batch_size: usize) -> Self {
        let start = Pos { chunk: 0, row: 0 };
        Merge {
            lower,
            upper,
            window: VecDeque::new(),
            window_rows: 0,
            chunk_bytes: 0,
            buffers: HeldBuffers::default(),
            first_chunk: 0,
            right_done: false,
            front: start,
            back: start,
            left: None,
            left_row: 0,
            left_done: false,
            emitting: None,
            left_indices: Vec::new(),
            right_indices: Vec::new(),
            oldest_referenced: usize::MAX,
            batch_size: batch_size.max(1),
        }
    }

    pub fn push_left(&mut self, chunk: Chunk) {
        debug_assert!(
            self.left_indices.is_empty(),
            "candidates refer to the previous batch"
        );
        self.drop_left();
        if chunk.len() > 0 {
            self.hold(&chunk);
            self.left = Some(chunk);
        }
        self.left_row = 0;
    }

    pub fn finish_left(&mut self) {
        self.left_done = true;
    }

    pub fn push_right(&mut self, chunk: Chunk) {
        if chunk.len() > 0 {
            self.window_rows += chunk.len();
            self.hold(&chunk);
            self.window.push_back(chunk);
        }
    }

    pub fn finish_right(&mut self) {
        self.right_done = true;
    }

    /// Right rows held in the window.
    pub fn window_rows(&self) -> usize {
        self.window_rows
    }

    /// Bytes held in the window and the left batch (the memory the operator reserves).
    pub fn held_bytes(&self) -> usize {
        self.chunk_bytes + self.buffers.bytes()
    }

    /// Copies the text the held batches refer to into buffers of their own, letting go of
    /// the rest of the pages they were read from. Rows keep their places. Chunks compacted
    /// before are left as they are, so a window under steady memory pressure copies each
    /// batch's text once.
    ///
    /// # Errors
    /// A batch that cannot be rebuilt (it cannot happen: the columns keep their types).
    pub fn compact(&mut self) -> Result<(), ArrowError> {
        let chunks = self.window.iter_mut().chain(self.left.as_mut());
        for chunk in chunks.filter(|chunk| !chunk.compacted) {
            self.buffers.release(&chunk.batch);
            chunk.batch = compacted(&chunk.batch)?;
            chunk.compacted = true;
            self.buffers.hold(&chunk.batch);
        }
        Ok(())
    }

    fn hold(&mut self, chunk: &Chunk) {
        self.chunk_bytes += chunk.size;
        self.buffers.hold(&chunk.batch);
    }

    fn release(&mut self, chunk: &Chunk) {
        self.chunk_bytes -= chunk.size;
        self.buffers.release(&chunk.batch);
    }

    fn drop_left(&mut self) {
        if let Some(left) = self.left.take() {
            self.release(&left);
        }
    }

    fn end(&self) -> Pos {
        Pos {
            chunk: self.first_chunk + self.window.len(),
            row: 0,
        }
    }

    fn chunk(&self, pos: Pos) -> &Chunk {
        &self.window[pos.chunk - self.first_chunk]
    }

    fn next(&self, pos: Pos) -> Pos {
        if pos.row + 1 < self.chunk(pos).len() {
            Pos {
                chunk: pos.chunk,
                row: pos.row + 1,
            }
        } else {
            Pos {
                chunk: pos.chunk + 1,
                row: 0,
            }
        }
    }

    /// Moves `pos` over the right rows that `before` (given the right key's order against the
    /// current left row's key, and the right time) puts before the target, or to the end of
    /// what is loaded. `None` when more right rows are needed to know.
    fn seek(&self, mut pos: Pos, before: impl Fn(Ordering, i64) -> bool) -> Option<Pos> {
        let left = self.left.as_ref()?;
        let left_key = left.keys.row(self.left_row);
        let end = self.end();
        while pos < end {
            let (key, time) = self.chunk(pos).key_time(pos.row);
            if !before(key.cmp(&left_key), time) {
                return Some(pos);
            }
            pos = self.next(pos);
        }
        self.right_done.then_some(pos)
    }

    /// Runs the merge until it needs something.
    pub fn advance(&mut self) -> Need {
        loop {
            if self.left_indices.len() >= self.batch_size {
                return Need::Flush;
            }
            let Some(left) = &self.left else {
                return if self.left_done {
                    Need::Done
                } else {
                    Need::Left
                };
            };
            if self.left_row >= left.len() {
                // The candidates refer to this batch: it goes only once they are taken.
                if !self.left_indices.is_empty() {
                    return Need::Flush;
                }
                self.drop_left();
                continue;
            }
            let time = left.times[self.left_row];
            let Some(from) = self.emitting else {
                let low = time.saturating_add(self.lower);
                let high = time.saturating_add(self.upper);
                // Right rows before (key, low) can match no later left row: drop them.
                let Some(front) =
                    self.seek(self.front, |key, t| key.is_lt() || (key.is_eq() && t < low))
                else {
                    // Everything loaded is behind the target: free it before loading more.
                    self.front = self.end();
                    return if self.drop_dead_chunks() {
                        Need::Right
                    } else {
                        Need::Flush
                    };
                };
                self.front = front;
                if !self.drop_dead_chunks() {
                    return Need::Flush;
                }
                let Some(back) = self.seek(self.back.max(self.front), |key, t| {
                    key.is_lt() || (key.is_eq() && t <= high)
                }) else {
                    self.back = self.end();
                    return Need::Right;
                };
                self.back = back;
                self.emitting = Some(self.front);
                continue;
            };
            // Pair the current left row with the right rows in [from, back).
            let mut pos = from;
            self.oldest_referenced = self.oldest_referenced.min(pos.chunk);
            while pos < self.back && self.left_indices.len() < self.batch_size {
                self.left_indices.push(self.left_row as u32);
                self.right_indices.push(pos);
                pos = self.next(pos);
            }
            if pos < self.back {
                self.emitting = Some(pos);
            } else {
                self.emitting = None;
                self.left_row += 1;
            }
        }
    }

    /// Drops the chunks wholly before `front`, unless candidates still refer to them
    /// (then `false`: flush first).
    fn drop_dead_chunks(&mut self) -> bool {
        while self.first_chunk < self.front.chunk {
            if self.oldest_referenced <= self.first_chunk {
                return false;
            }
            if let Some(chunk) = self.window.pop_front() {
                self.window_rows -= chunk.len();
                self.release(&chunk);
            }
            self.first_chunk += 1;
        }
        true
    }

    /// The candidate pairs found since the last flush, in left order and, for each left row,
    /// in right order.
    ///
    /// # Errors
    /// When no left batch is held (there are then no pairs to take).
    pub fn take_pairs(&mut self) -> Result<Pairs<'_>, ArrowError> {
        let left = self
            .left
            .as_ref()
            .map(|chunk| &chunk.batch)
            .ok_or_else(|| ArrowError::InvalidArgumentError("no left batch".into()))?;
        let left_indices = UInt32Array::from(std::mem::take(&mut self.left_indices));
        self.oldest_referenced = usize::MAX;
        let right_indices: Vec<(usize, usize)> = std::mem::take(&mut self.right_indices)
            .into_iter()
            .map(|pos| (pos.chunk - self.first_chunk, pos.row))
            .collect();
        Ok(Pairs {
            left,
            window: self.window.iter().map(|chunk| &chunk.batch).collect(),
            left_indices,
            right_indices,
        })
    }
}

/// Candidate pairs: rows of the left batch and of the window's batches, joined row by row.
pub struct Pairs<'a> {
    left: &'a RecordBatch,
    window: Vec<&'a RecordBatch>,
    left_indices: UInt32Array,
    right_indices: Vec<(usize, usize)>,
}

impl Pairs<'_> {
    pub fn len(&self) -> usize {
        self.left_indices.len()
    }

    /// Columns of the joined rows (the left columns, then the right ones), by index.
    pub fn gather(
        &self,
        columns: impl IntoIterator<Item = usize>,
    ) -> Result<Vec<ArrayRef>, ArrowError> {
        let width = self.left.num_columns();
        columns
            .into_iter()
            .map(|column| match column.checked_sub(width) {
                None => take(self.left.column(column), &self.left_indices, None),
                Some(right) => {
                    let values: Vec<&dyn Array> = self
                        .window
                        .iter()
                        .map(|batch| batch.column(right).as_ref())
                        .collect();
                    interleave(&values, &self.right_indices)
                }
            })
            .collect()
    }

    /// Only the pairs `keep` (without nulls) selects.
    pub fn keep(self, keep: &BooleanArray) -> Result<Self, ArrowError> {
        let left_indices = filter(&self.left_indices, keep)?
            .as_primitive::<UInt32Type>()
            .clone();
        let right_indices = self
            .right_indices
            .into_iter()
            .zip(keep.values())
            .filter_map(|(pair, kept)| kept.then_some(pair))
            .collect();
        Ok(Pairs {
            left_indices,
            right_indices,
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{AsArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::arrow::row::{RowConverter, SortField};

    use super::*;

    fn converter() -> RowConverter {
        RowConverter::new(vec![SortField::new(DataType::Utf8)]).unwrap()
    }

    fn side_schema(prefix: &str) -> Vec<Field> {
        vec![
            Field::new(format!("{prefix}k"), DataType::Utf8, false),
            Field::new(format!("{prefix}t"), DataType::Int64, false),
        ]
    }

    /// Chunks of `size` rows of (key, time).
    fn chunks(rows: &[(&str, i64)], size: usize, prefix: &str) -> Vec<Chunk> {
        let schema = Arc::new(Schema::new(side_schema(prefix)));
        rows.chunks(size)
            .map(|rows| {
                let keys: ArrayRef =
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0)));
                let times = Int64Array::from_iter_values(rows.iter().map(|r| r.1));
                let rows = converter()
                    .convert_columns(std::slice::from_ref(&keys))
                    .unwrap();
                let values = times.values().clone();
                let batch =
                    RecordBatch::try_new(schema.clone(), vec![keys, Arc::new(times)]).unwrap();
                Chunk::new(batch, rows, values)
            })
            .collect()
    }

    /// Holding text read as views holds the whole buffers they point into; compacted, the
    /// window holds only its rows' text, and the rows and pairs stay as they were.
    #[test]
    fn compacting_lets_go_of_the_pages_and_keeps_the_rows() {
        use datafusion::arrow::array::StringViewArray;

        // One large array, as a page read as views, of which the chunks are slices.
        let keys: Vec<String> = (0..4000)
            .map(|n| format!("user-{:05}@contoso.example", n / 4))
            .collect();
        let page = StringViewArray::from_iter_values(&keys);
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8View, false),
            Field::new("t", DataType::Int64, false),
        ]));
        let converter = RowConverter::new(vec![SortField::new(DataType::Utf8View)]).unwrap();
        let chunk = |from: usize| {
            let keys: ArrayRef = Arc::new(page.slice(from, 4));
            let times = Int64Array::from_iter_values(0..4);
            let rows = converter
                .convert_columns(std::slice::from_ref(&keys))
                .unwrap();
            let values = times.values().clone();
            Chunk::new(
                RecordBatch::try_new(Arc::clone(&schema), vec![keys, Arc::new(times)]).unwrap(),
                rows,
                values,
            )
        };
        let mut merge = Merge::new(0, 10, 100);
        merge.push_right(chunk(0));
        merge.push_right(chunk(4));
        merge.push_left(chunk(0));
        let page_bytes: usize = page.data_buffers().iter().map(|b| b.capacity()).sum();
        let before = merge.held_bytes();
        let text = |merge: &Merge| -> Vec<String> {
            merge
                .window
                .iter()
                .chain(merge.left.as_ref())
                .flat_map(|chunk| {
                    let keys = chunk.batch.column(0).as_string_view();
                    keys.iter()
                        .map(|k| k.unwrap().to_string())
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let held = text(&merge);
        // The page is counted once, though three chunks point into it.
        assert!(before >= page_bytes && before < 2 * page_bytes, "{before}");
        merge.compact().unwrap();
        assert_eq!(text(&merge), held);
        // Compacted once, a chunk is not copied again.
        let first_buffer = |merge: &Merge| {
            merge.window[0]
                .batch
                .column(0)
                .as_string_view()
                .data_buffers()[0]
                .as_ptr()
        };
        let once = first_buffer(&merge);
        merge.compact().unwrap();
        assert_eq!(first_buffer(&merge), once);
        assert!(
            merge.held_bytes() < before - page_bytes / 2,
            "{}",
            merge.held_bytes()
        );
        // The left rows (user 0 at times 0..3) meet user 0's right rows at times 0..3 that
        // are not earlier: 4 + 3 + 2 + 1 pairs.
        let mut pairs = 0;
        loop {
            match merge.advance() {
                Need::Left => merge.finish_left(),
                Need::Right => merge.finish_right(),
                Need::Flush => pairs += merge.take_pairs().unwrap().len(),
                Need::Done => break,
            }
        }
        assert_eq!(pairs, 10);
    }

    /// Runs the merge to the end, answering what it needs; returns the (key, left time, right
    /// time) pairs in output order and the peak number of right rows held.
    fn run(
        left: &[(&str, i64)],
        right: &[(&str, i64)],
        (lower, upper): (i64, i64),
        (left_batch, right_batch, pairs_per_flush): (usize, usize, usize),
    ) -> (Vec<(String, i64, i64)>, usize) {
        let mut fields = side_schema("l");
        fields.extend(side_schema("r"));
        let schema = Arc::new(Schema::new(fields));
        let mut lefts = chunks(left, left_batch, "l").into_iter();
        let mut rights = chunks(right, right_batch, "r").into_iter();
        let mut merge = Merge::new(lower, upper, pairs_per_flush);
        let (mut pairs, mut peak) = (Vec::new(), 0);
        loop {
            peak = peak.max(merge.window_rows());
            match merge.advance() {
                Need::Left => match lefts.next() {
                    Some(chunk) => merge.push_left(chunk),
                    None => merge.finish_left(),
                },
                Need::Right => match rights.next() {
                    Some(chunk) => merge.push_right(chunk),
                    None => merge.finish_right(),
                },
                Need::Flush => {
                    let pairs_taken = merge.take_pairs().unwrap();
                    let columns = pairs_taken.gather(0..schema.fields().len()).unwrap();
                    let out = RecordBatch::try_new(schema.clone(), columns).unwrap();
                    assert!(out.num_rows() <= pairs_per_flush);
                    for row in 0..out.num_rows() {
                        let key = out.column(0).as_string::<i32>().value(row);
                        assert_eq!(key, out.column(2).as_string::<i32>().value(row));
                        let time = |c: usize| out.column(c).as_primitive::<Int64Type>().value(row);
                        pairs.push((key.to_string(), time(1), time(3)));
                    }
                }
                Need::Done => return (pairs, peak),
            }
        }
    }

    fn owned(pairs: &[(&str, i64, i64)]) -> Vec<(String, i64, i64)> {
        pairs
            .iter()
            .map(|&(k, l, r)| (k.to_string(), l, r))
            .collect()
    }

    #[test]
    fn pairs_each_left_row_with_the_right_rows_in_its_window() {
        let left = [("a", 10), ("a", 12), ("b", 0), ("c", 5)];
        let right = [
            ("a", 5),
            ("a", 10),
            ("a", 15),
            ("a", 20),
            ("a", 23),
            ("b", 11),
            ("d", 5),
        ];
        // Window [t, t + 10], by hand: a@10 meets 10, 15, 20; a@12 meets 15, 20; b@0 meets
        // nothing (11 is past 10); c has no right rows; d no left rows.
        let expected = owned(&[
            ("a", 10, 10),
            ("a", 10, 15),
            ("a", 10, 20),
            ("a", 12, 15),
            ("a", 12, 20),
        ]);
        for batch in [1, 2, 3, 100] {
            for per_flush in [1, 2, 8192] {
                let (pairs, _) = run(&left, &right, (0, 10), (batch, batch, per_flush));
                assert_eq!(pairs, expected, "batch {batch}, flush {per_flush}");
            }
        }
    }

    #[test]
    fn negative_and_empty_windows() {
        let left = [("a", 10), ("a", 10)];
        let right = [("a", 7), ("a", 8), ("a", 9), ("a", 10)];
        // [t - 2, t - 1]: 8 and 9, for each of the duplicate left rows.
        let expected = owned(&[("a", 10, 8), ("a", 10, 9), ("a", 10, 8), ("a", 10, 9)]);
        assert_eq!(run(&left, &right, (-2, -1), (1, 1, 3)).0, expected);
        // Lower above upper (an exclusive bound made it empty): nothing.
        assert_eq!(run(&left, &right, (1, 0), (2, 2, 8192)).0, Vec::new());
        // Empty sides.
        assert_eq!(run(&[], &right, (0, 10), (2, 2, 8192)).0, Vec::new());
        assert_eq!(run(&left, &[], (0, 10), (2, 2, 8192)).0, Vec::new());
    }

    #[test]
    fn holds_only_the_window_of_a_giant_key() {
        // One key with 10,000 right rows one tick apart; left rows every 1,000 ticks with a
        // window of 5: the merge must never hold more than the window plus a batch or two.
        let right: Vec<(&str, i64)> = (0..10_000).map(|t| ("k", t)).collect();
        let left: Vec<(&str, i64)> = (0..10).map(|i| ("k", i * 1_000)).collect();
        let (pairs, peak) = run(&left, &right, (0, 5), (16, 16, 8192));
        assert_eq!(pairs.len(), 10 * 6);
        assert!(peak <= 3 * 16, "held {peak} right rows");
    }

    /// Found by the criterion bench on a skewed key: k@-1 fills 10 of 17 pairs, k@0 is split
    /// by the flush and leaves its tail (k7..k10) first in the pending list, k@1's pairs
    /// start before that tail (from k1), and k@20 moves the front past k1. The chunks k1..k6
    /// are still referenced then and must stay until the flush.
    #[test]
    fn keeps_chunks_referenced_behind_a_split_left_row() {
        let left = [("k", -1), ("k", 0), ("k", 1), ("k", 20)];
        let mut right: Vec<(&str, i64)> = (0..12).map(|t| ("k", t)).collect();
        right.extend([("k", 20), ("k", 21)]);
        let mut expected: Vec<(&str, i64, i64)> = (0..=9).map(|t| ("k", -1, t)).collect();
        expected.extend((0..=10).map(|t| ("k", 0, t)));
        expected.extend((1..=11).map(|t| ("k", 1, t)));
        expected.extend([("k", 20, 20), ("k", 20, 21)]);
        let (pairs, _) = run(&left, &right, (0, 10), (100, 1, 17));
        assert_eq!(pairs, owned(&expected));
    }
}
