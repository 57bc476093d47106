//! Store failures as the user needs them: which URL, what kind of failure, and the store's own
//! words with anything secret taken out.

/// What went wrong, as far as the user can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Wrong or missing credentials, or not allowed.
    Authentication,
    /// No such container, bucket or object.
    NotFound,
    /// The store kept answering "slow down" after every retry.
    Throttled,
    /// The store could not be reached.
    Network,
    /// Not a URL this build can read.
    Unsupported,
    /// Anything else the store answered.
    Store,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailureKind::Authentication => "authentication failed",
            FailureKind::NotFound => "not found",
            FailureKind::Throttled => "throttled by the store",
            FailureKind::Network => "network failure",
            FailureKind::Unsupported => "unsupported URL",
            FailureKind::Store => "store error",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{url}: {kind}: {detail}")]
pub struct StoreError {
    pub url: String,
    pub kind: FailureKind,
    pub detail: String,
}

impl StoreError {
    /// `error` met while reaching `url` (an object's URL, without secrets).
    pub fn new(url: &str, error: object_store::Error) -> StoreError {
        let kind = classify(&error);
        StoreError {
            url: url.to_string(),
            kind,
            detail: scrub(&chain(&error)),
        }
    }

    /// An object that is not what it should be (a snapshot that does not parse, say).
    pub fn corrupt(url: &str, reason: String) -> StoreError {
        StoreError::message(url, FailureKind::Store, reason)
    }

    pub(super) fn message(url: &str, kind: FailureKind, detail: String) -> StoreError {
        StoreError {
            url: url.to_string(),
            kind,
            detail,
        }
    }

    pub(super) fn bad_url(url: String, error: impl std::fmt::Display) -> StoreError {
        StoreError {
            url,
            kind: FailureKind::Unsupported,
            detail: error.to_string(),
        }
    }
}

fn classify(error: &object_store::Error) -> FailureKind {
    use object_store::Error;
    match error {
        Error::NotFound { .. } => FailureKind::NotFound,
        Error::PermissionDenied { .. } | Error::Unauthenticated { .. } => {
            FailureKind::Authentication
        }
        _ => {
            let text = chain(error);
            let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
            if has(&[
                "AuthenticationFailed",
                "AuthorizationFailure",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "403 Forbidden",
                "401 Unauthorized",
            ]) {
                FailureKind::Authentication
            } else if has(&["ContainerNotFound", "NoSuchBucket", "404 Not Found"]) {
                FailureKind::NotFound
            } else if has(&["429", "503", "SlowDown", "ServerBusy", "Too Many Requests"]) {
                FailureKind::Throttled
            } else if has(&[
                "error sending request",
                "Connection refused",
                "connection closed",
                "timed out",
                "dns error",
            ]) {
                FailureKind::Network
            } else {
                FailureKind::Store
            }
        }
    }
}

/// The error and its sources, one sentence.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Store errors quote request URLs, and a SAS token rides in their query; keys and secrets
/// from the environment are cut out wherever they appear.
fn scrub(text: &str) -> String {
    static QUERY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(://[^\s?)"']*)\?[^\s)"']*"#).expect("valid pattern")
    });
    let mut scrubbed = QUERY.replace_all(text, "$1?<redacted>").into_owned();
    for name in [
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_STORAGE_SAS_KEY",
        "AZURE_STORAGE_TOKEN",
        "AZURE_CLIENT_SECRET",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        if let Ok(secret) = std::env::var(name)
            && secret.len() >= 8
        {
            scrubbed = scrubbed.replace(&secret, "<redacted>");
        }
    }
    scrubbed
}
