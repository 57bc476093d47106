//! Store I/O from synchronous code: ingest's reading threads and the lake writer block on it.

use std::future::Future;

/// A small runtime of its own. Dropping it does not wait for its tasks, so its owner may be
/// dropped inside another runtime, where blocking is not allowed.
#[derive(Debug)]
pub struct BlockingRuntime(Option<tokio::runtime::Runtime>);

impl BlockingRuntime {
    /// # Errors
    /// The runtime's threads cannot be started.
    pub fn new() -> std::io::Result<BlockingRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(BlockingRuntime(Some(runtime)))
    }

    /// Runs `future` to its end on this runtime; callable from several threads at once.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0
            .as_ref()
            .expect("present until dropped")
            .block_on(future)
    }
}

impl Drop for BlockingRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
