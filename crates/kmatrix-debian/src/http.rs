//! Minimal blocking HTTP client with timeouts and URL-naming errors.

use std::io::Read;
use std::time::Duration;

use crate::DebianError;

/// Largest `InRelease` we accept; real ones are ~100-300 KB.
const MAX_TEXT_BYTES: u64 = 16 * 1024 * 1024;

/// HTTP client shared by all downloads of an `Archive`.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub(crate) fn new() -> Http {
        let config = ureq::Agent::config_builder()
            // We inspect status codes ourselves to tell 404 (absent) apart.
            .http_status_as_error(false)
            .timeout_resolve(Some(Duration::from_secs(30)))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            // No total cap: a 300 MB debug package may legitimately take long,
            // but a stalled connection is abandoned.
            .timeout_per_read(Some(Duration::from_secs(60)))
            .user_agent(concat!("kmatrix/", env!("CARGO_PKG_VERSION")))
            .build();
        Http {
            agent: config.into(),
        }
    }

    /// GETs `url`; `Ok(None)` on 404, an error on any other non-200 status.
    pub(crate) fn get(&self, url: &str) -> Result<Option<Box<dyn Read + Send>>, DebianError> {
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|source| DebianError::Connection {
                url: url.to_string(),
                source: Box::new(source),
            })?;
        let status = response.status().as_u16();
        match status {
            200 => Ok(Some(Box::new(response.into_body().into_reader()))),
            404 => Ok(None),
            _ => Err(DebianError::HttpStatus {
                url: url.to_string(),
                status,
            }),
        }
    }

    /// GETs `url`, treating 404 as an error too.
    pub(crate) fn get_required(&self, url: &str) -> Result<Box<dyn Read + Send>, DebianError> {
        self.get(url)?.ok_or_else(|| DebianError::HttpStatus {
            url: url.to_string(),
            status: 404,
        })
    }

    /// GETs a small text file; `Ok(None)` on 404.
    pub(crate) fn get_text(&self, url: &str) -> Result<Option<String>, DebianError> {
        let Some(reader) = self.get(url)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        reader
            .take(MAX_TEXT_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|source| DebianError::Download {
                url: url.to_string(),
                source,
            })?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}
