//! Counting a store's HTTP requests by kind, below object_store's retries: a listing that
//! pages, or a request retried after a throttle, counts every time it goes over the wire.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpRequest, HttpResponse, HttpService, ReqwestConnector,
};

/// Requests made so far, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RequestCounts {
    /// Listings, each page counted.
    pub list: u64,
    /// Reads of objects or ranges of them.
    pub get: u64,
    pub head: u64,
    /// Writes, copies and deletes.
    pub write: u64,
}

impl RequestCounts {
    pub fn total(&self) -> u64 {
        self.list + self.get + self.head + self.write
    }
}

impl std::ops::Add for RequestCounts {
    type Output = RequestCounts;

    fn add(self, other: RequestCounts) -> RequestCounts {
        RequestCounts {
            list: self.list + other.list,
            get: self.get + other.get,
            head: self.head + other.head,
            write: self.write + other.write,
        }
    }
}

impl std::fmt::Display for RequestCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} list, {} get, {} head, {} write",
            self.list, self.get, self.head, self.write
        )
    }
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    list: AtomicU64,
    get: AtomicU64,
    head: AtomicU64,
    write: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            list: self.list.load(Ordering::Relaxed),
            get: self.get.load(Ordering::Relaxed),
            head: self.head.load(Ordering::Relaxed),
            write: self.write.load(Ordering::Relaxed),
        }
    }

    fn count(&self, request: &HttpRequest) {
        let query = request.uri().query().unwrap_or("");
        // Azure lists with `comp=list`, S3 with `list-type=2` (or a bare GET of the bucket).
        let listing = query.contains("comp=list") || query.contains("list-type=");
        let counter = match request.method().as_str() {
            "GET" if listing => &self.list,
            "GET" => &self.get,
            "HEAD" => &self.head,
            _ => &self.write,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Builds object_store's usual reqwest client, wrapped to count.
#[derive(Debug)]
pub(super) struct CountingConnector(pub(super) Arc<Counters>);

impl HttpConnector for CountingConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(Counting {
            inner,
            counters: Arc::clone(&self.0),
        }))
    }
}

#[derive(Debug)]
struct Counting {
    inner: HttpClient,
    counters: Arc<Counters>,
}

#[async_trait::async_trait]
impl HttpService for Counting {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.counters.count(&request);
        self.inner.execute(request).await
    }
}
