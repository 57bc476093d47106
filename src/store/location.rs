//! What `--lake` and ingest inputs name: a local path, or a prefix in an object store.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, ObjectStoreScheme};
use url::Url;

use super::error::{FailureKind, StoreError};
use super::requests::{Counters, CountingConnector, RequestCounts};

/// A local path or a prefix in an object store.
#[derive(Debug, Clone)]
pub enum Location {
    Local(PathBuf),
    Remote(Remote),
}

/// A prefix in a container or bucket, with the store that reaches it.
#[derive(Debug, Clone)]
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// `scheme://container` (with the account where the URL names one): objects are named as
    /// this plus their path, so output and the manifest never hold a SAS token.
    base: String,
    /// The URL DataFusion registers the store under.
    store_url: Url,
    counters: Arc<Counters>,
}

impl Location {
    /// Reads what the user typed: `az://`, `abfs[s]://`, `https://ACCOUNT.blob|dfs.core.windows.net/`
    /// (a SAS token may follow as the query), `s3://` and `file://` URLs, or a plain path.
    /// Credentials come from object_store's environment variables (`AZURE_STORAGE_*`,
    /// `AWS_*`), never from output.
    ///
    /// # Errors
    /// A URL of a store this build cannot reach, or one its builder rejects (no account name,
    /// say).
    pub fn parse(text: &str) -> Result<Location, StoreError> {
        if !text.contains("://") {
            return Ok(Location::Local(PathBuf::from(text)));
        }
        let url = Url::parse(text).map_err(|e| StoreError::bad_url(redacted(text), e))?;
        let (scheme, prefix) =
            ObjectStoreScheme::parse(&url).map_err(|e| StoreError::bad_url(redacted(text), e))?;
        let counters = Arc::new(Counters::default());
        let connector = CountingConnector(Arc::clone(&counters));
        let mut bare = url.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        let store: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::Local => return Ok(Location::Local(PathBuf::from(url.path()))),
            ObjectStoreScheme::MicrosoftAzure => {
                let mut builder = MicrosoftAzureBuilder::from_env()
                    .with_url(bare.as_str())
                    .with_http_connector(connector);
                if let Some(sas) = url.query() {
                    builder = builder.with_config(AzureConfigKey::SasKey, sas);
                }
                Arc::new(
                    builder
                        .build()
                        .map_err(|e| StoreError::new(bare.as_str(), e))?,
                )
            }
            ObjectStoreScheme::AmazonS3 => Arc::new(
                AmazonS3Builder::from_env()
                    .with_url(bare.as_str())
                    .with_http_connector(connector)
                    .build()
                    .map_err(|e| StoreError::new(bare.as_str(), e))?,
            ),
            other => {
                return Err(StoreError::message(
                    bare.as_str(),
                    FailureKind::Unsupported,
                    format!(
                        "{other:?} stores are not supported: use az://, abfss://, \
                         https://ACCOUNT.blob.core.windows.net/, s3:// or a local path"
                    ),
                ));
            }
        };
        let base = base_of(&bare);
        let store_url = store_url_of(&bare);
        Ok(Location::Remote(Remote {
            store,
            prefix,
            base,
            store_url,
            counters,
        }))
    }

    /// How output names it: the path, or the URL without its query.
    pub fn display(&self) -> String {
        match self {
            Location::Local(path) => path.display().to_string(),
            Location::Remote(remote) => remote.url_of(&remote.prefix),
        }
    }
}

impl Remote {
    /// Wraps `store` (a test's fault-injecting one, say) as if `url` had named it.
    ///
    /// # Errors
    /// `url` is not a URL.
    pub fn with_store(url: &str, store: Arc<dyn ObjectStore>) -> Result<Remote, StoreError> {
        let parsed = Url::parse(url).map_err(|e| StoreError::bad_url(redacted(url), e))?;
        let (_, prefix) =
            ObjectStoreScheme::parse(&parsed).map_err(|e| StoreError::bad_url(redacted(url), e))?;
        let store_url = store_url_of(&parsed);
        Ok(Remote {
            base: base_of(&parsed),
            store,
            prefix,
            store_url,
            counters: Arc::default(),
        })
    }

    /// A local folder reached as a store is, through object_store's `LocalFileSystem` (as
    /// DataFusion reads local files): objects are named by their absolute paths, and `url_of`
    /// gives those paths, as output names local files.
    ///
    /// # Errors
    /// `folder` cannot be made absolute.
    pub fn folder(folder: &std::path::Path) -> Result<Remote, StoreError> {
        // Canonical where it exists, as DataFusion names the files of a listing table.
        let absolute = std::fs::canonicalize(folder)
            .or_else(|_| std::path::absolute(folder))
            .map_err(|e| {
                StoreError::message(
                    &folder.display().to_string(),
                    FailureKind::NotFound,
                    e.to_string(),
                )
            })?;
        let prefix = ObjectPath::from_absolute_path(&absolute).map_err(|e| {
            StoreError::message(
                &absolute.display().to_string(),
                FailureKind::Unsupported,
                e.to_string(),
            )
        })?;
        Ok(Remote {
            store: Arc::new(object_store::local::LocalFileSystem::new()),
            prefix,
            base: String::new(),
            store_url: Url::parse("file:///").expect("a URL"),
            counters: Arc::default(),
        })
    }

    /// The same location reached through `store`, a wrapper of this one's (its requests
    /// still counted here).
    pub fn through(&self, store: Arc<dyn ObjectStore>) -> Remote {
        Remote {
            store,
            ..self.clone()
        }
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The path inside the container or bucket that the URL pointed at.
    pub fn prefix(&self) -> &ObjectPath {
        &self.prefix
    }

    /// The URL of `path`, an object of this store, without any secret.
    pub fn url_of(&self, path: &ObjectPath) -> String {
        if path.as_ref().is_empty() {
            match self.base.is_empty() {
                true => "/".to_string(),
                false => self.base.clone(),
            }
        } else {
            format!("{}/{}", self.base, path)
        }
    }

    /// The URL a DataFusion session registers this store under: scheme and host only.
    pub fn store_url(&self) -> &Url {
        &self.store_url
    }

    /// `path` (an object of this store) as a DataFusion table URL, under [`Self::store_url`].
    pub fn table_url(&self, path: &ObjectPath) -> String {
        let root = self.store_url.as_str().trim_end_matches('/');
        if self.store_url.scheme() == "file" {
            // Percent-encoded: a folder named `a?b` or `a#b` would otherwise end the path at
            // a query or fragment, and DataFusion would list (and read) nothing.
            let file = std::path::Path::new("/").join(path.as_ref());
            Url::from_file_path(&file)
                .map(String::from)
                .unwrap_or_else(|()| format!("file:///{path}"))
        } else if path.as_ref().is_empty() {
            root.to_string()
        } else {
            format!("{root}/{path}")
        }
    }

    /// Every object below `folder`, its listing paged through.
    ///
    /// # Errors
    /// The store cannot be listed, named by the folder's URL.
    pub async fn list_all(&self, folder: &ObjectPath) -> Result<Vec<ObjectMeta>, StoreError> {
        self.store
            .list(Some(folder))
            .try_collect()
            .await
            .map_err(|e| StoreError::new(&self.url_of(folder), e))
    }

    /// The whole object at `path`.
    ///
    /// # Errors
    /// The store cannot read it (kind `NotFound` if there is none), named by its URL.
    pub async fn read_all(&self, path: &ObjectPath) -> Result<Bytes, StoreError> {
        let read = async { self.store.get(path).await?.bytes().await };
        read.await
            .map_err(|e| StoreError::new(&self.url_of(path), e))
    }

    /// The HTTP requests made through this location's store so far.
    pub fn requests(&self) -> RequestCounts {
        self.counters.snapshot()
    }
}

/// The URL up to where the object path starts, without query: `az://container`,
/// `abfss://fs@account.dfs.core.windows.net`, `https://account.blob.core.windows.net/container`
/// (where the container is the path's first segment).
fn base_of(url: &Url) -> String {
    let mut base = url.clone();
    base.set_query(None);
    base.set_fragment(None);
    let container = match url.scheme() {
        "https" | "http" => url.path_segments().and_then(|mut s| s.next()),
        _ => None,
    };
    base.set_path("");
    let base = base.as_str().trim_end_matches('/').to_string();
    match container {
        Some(container) if !container.is_empty() => format!("{base}/{container}"),
        _ => base,
    }
}

/// What DataFusion knows the store by: its scheme and authority, which it splits off a table's
/// URL to find the store. Paths below are relative to the container or bucket, so an
/// `https://ACCOUNT.blob.core.windows.net/CONTAINER/…` URL, whose container is in the path,
/// is known as `az://CONTAINER`.
fn store_url_of(url: &Url) -> Url {
    let container = url
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|c| !c.is_empty());
    match (url.scheme(), container) {
        ("https" | "http", Some(container)) => {
            Url::parse(&format!("az://{container}")).expect("a container name is a host")
        }
        _ => {
            let mut store = url.clone();
            store.set_path("");
            store.set_query(None);
            store.set_fragment(None);
            store
        }
    }
}

/// `text` with any URL query (where SAS tokens travel) cut off.
pub fn redacted(text: &str) -> String {
    match text.split_once('?') {
        Some((head, _)) => format!("{head}?<redacted>"),
        None => text.to_string(),
    }
}
