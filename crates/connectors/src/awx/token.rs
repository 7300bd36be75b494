//! The controller token, from the configuration or from a file.

use std::path::PathBuf;

use async_trait::async_trait;
use ops_core::PortError;
use ops_core::ports::Secret;
use ops_http::TokenProvider;
use tokio::sync::Mutex;

use super::SERVICE;

/// A token that AWX issued ahead of time (a personal access token or an OAuth 2 token).
///
/// The controller has no refresh for such tokens. A token given in the configuration stays
/// the same, so a 401 after it expired is final. A token file is read again after a 401, so
/// a token rotated into the file is used from the next request on.
pub(super) struct ConfiguredToken {
    source: Source,
    cached: Mutex<Option<Secret>>,
}

enum Source {
    Value(Secret),
    File(PathBuf),
}

impl ConfiguredToken {
    pub(super) fn value(token: Secret) -> ConfiguredToken {
        ConfiguredToken {
            source: Source::Value(token),
            cached: Mutex::new(None),
        }
    }

    pub(super) fn file(path: PathBuf) -> ConfiguredToken {
        ConfiguredToken {
            source: Source::File(path),
            cached: Mutex::new(None),
        }
    }
}

#[async_trait]
impl TokenProvider for ConfiguredToken {
    async fn token(&self) -> Result<Secret, PortError> {
        let path = match &self.source {
            Source::Value(token) => return Ok(token.clone()),
            Source::File(path) => path,
        };
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref() {
            return Ok(token.clone());
        }
        let operation = "read token file";
        let text = tokio::fs::read_to_string(path).await.map_err(|error| {
            PortError::permanent(
                SERVICE,
                operation,
                format!(
                    "{} could not be read: check connectors.ansible.token_file",
                    path.display()
                ),
            )
            .with_source(error)
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(PortError::permanent(
                SERVICE,
                operation,
                format!(
                    "{} is empty: write the controller token into it",
                    path.display()
                ),
            ));
        }
        tracing::debug!(service = SERVICE, path = %path.display(), "read the controller token");
        let token = Secret::new(token);
        *cached = Some(token.clone());
        Ok(token)
    }

    async fn invalidate(&self) {
        if matches!(self.source, Source::File(_)) {
            *self.cached.lock().await = None;
        }
    }
}
