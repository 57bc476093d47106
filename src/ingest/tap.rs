//! What passes from a file or blob into the decompressor: counted as it goes, so that a piece
//! reports the bytes it came from, a local file gets its manifest hash and an append blob the
//! place and hash a later read resumes from, all without a second read.

use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;

/// Bytes before a resume point that a resumed read compares with the manifest's hash of them.
pub(super) const TAIL: usize = 4096;

/// What has passed so far.
#[derive(Default)]
pub(super) struct Tapped {
    pub bytes: u64,
    pub newlines: u64,
    /// The last [`TAIL`] bytes.
    pub tail: Vec<u8>,
    hasher: Option<blake3::Hasher>,
    /// The first failure to read the input: the input's fault, not damaged content.
    pub error: Option<std::io::Error>,
}

impl Tapped {
    /// BLAKE3 of everything that passed, hex; empty unless asked for.
    pub fn hash(&self) -> String {
        self.hasher
            .as_ref()
            .map(|h| h.finalize().to_hex().to_string())
            .unwrap_or_default()
    }

    pub fn ends_line(&self) -> bool {
        self.tail.last() == Some(&b'\n')
    }
}

/// A reader that records what passes through it in a [`Tapped`] its creator can look at.
pub(super) struct Tap<R> {
    inner: R,
    tapped: Rc<RefCell<Tapped>>,
}

impl<R: Read> Tap<R> {
    pub fn new(inner: R, hash: bool) -> (Tap<R>, Rc<RefCell<Tapped>>) {
        let tapped = Rc::new(RefCell::new(Tapped {
            hasher: hash.then(blake3::Hasher::new),
            ..Tapped::default()
        }));
        let tap = Tap {
            inner,
            tapped: Rc::clone(&tapped),
        };
        (tap, tapped)
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let mut tapped = self.tapped.borrow_mut();
                let copy = std::io::Error::new(e.kind(), e.to_string());
                tapped.error.get_or_insert(e);
                return Err(copy);
            }
        };
        let read = &buf[..n];
        let mut tapped = self.tapped.borrow_mut();
        tapped.bytes += n as u64;
        tapped.newlines += memchr::memchr_iter(b'\n', read).count() as u64;
        if n >= TAIL {
            tapped.tail.clear();
            tapped.tail.extend_from_slice(&read[n - TAIL..]);
        } else {
            tapped.tail.extend_from_slice(read);
            let excess = tapped.tail.len().saturating_sub(TAIL);
            tapped.tail.drain(..excess);
        }
        if let Some(hasher) = &mut tapped.hasher {
            hasher.update(read);
        }
        Ok(n)
    }
}
