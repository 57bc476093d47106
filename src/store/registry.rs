//! Stores found by URL alone. A cluster's scheduler and executors receive plans that name
//! files by URL (`az://container/…`, `s3://bucket/…`), not the stores the client built from
//! `--lake`: each of them builds a store the first time a URL names it, from its own
//! environment's credentials, as the client builds its own.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use url::Url;

use super::location::Location;

#[derive(Debug, Default)]
pub struct StoresFromEnvironment {
    built: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for StoresFromEnvironment {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.built.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.built.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.built.get_store(url) {
            return Ok(store);
        }
        match Location::parse(url.as_str()) {
            Ok(Location::Remote(remote)) => {
                let store = Arc::clone(remote.store());
                self.built.register_store(url, Arc::clone(&store));
                Ok(store)
            }
            Ok(Location::Local(_)) => self.built.get_store(url),
            Err(error) => Err(DataFusionError::External(Box::new(error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_built_once_per_container_and_bad_urls_are_named() {
        let stores = StoresFromEnvironment::default();
        let url = Url::parse("s3://bucket/").unwrap();
        let first = stores.get_store(&url).unwrap();
        let again = stores.get_store(&url).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = stores
            .get_store(&Url::parse("s3://other/").unwrap())
            .unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(stores.get_store(&Url::parse("file:///").unwrap()).is_ok());
        let error = stores
            .get_store(&Url::parse("gs://bucket/").unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("gs://bucket"), "{error}");
    }
}
