//! Vultr API v2 over HTTP: bearer auth, JSON, errors as `{error, status}` mapped to provider
//! errors, bounded retries with backoff for requests that are safe to repeat (honouring
//! `Retry-After`), and lists followed through `meta.links.next` to the end. Bodies are never
//! logged: a create carries `user_data` (the VPS's private host key) and answers with
//! `default_password`.

use crate::config::ApiKey;
use mngr_plugin_api::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Page size asked for (Vultr's maximum).
const PER_PAGE: &str = "500";
/// A list longer than this many pages is a server bug, not a reason to loop forever.
const MAX_PAGES: usize = 10_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// A `Retry-After` longer than this is cut down to it.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);

pub struct Api {
    http: reqwest::Client,
    base: String,
    key: Option<ApiKey>,
    /// The provider instance, for hints.
    instance: String,
    max_attempts: u32,
}

/// One answer (any status).
pub struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: Value,
}

/// What one attempt gave: an answer, or no answer at all (the request may or may not have
/// reached Vultr).
pub enum Attempt {
    Answered(Answer),
    NoAnswer(String),
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }
    /// Worth another try: rate limited or a server error (501 means never).
    pub fn transient(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS
            || (self.status.is_server_error() && self.status != StatusCode::NOT_IMPLEMENTED)
    }
    fn message(&self) -> String {
        match self.body.get("error").and_then(Value::as_str) {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => match &self.body {
                Value::String(s) if !s.is_empty() => s.chars().take(200).collect(),
                _ => self
                    .status
                    .canonical_reason()
                    .unwrap_or("no message")
                    .to_string(),
            },
        }
    }
}

impl Api {
    pub fn new(
        base: &str,
        key: Option<ApiKey>,
        instance: &str,
        max_attempts: u32,
    ) -> ProviderResult<Api> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("mngr-vultr/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::internal(format!("setting up the HTTP client: {e}")))?;
        Ok(Api {
            http,
            base: base.to_string(),
            key,
            instance: instance.to_string(),
            max_attempts,
        })
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    fn key(&self) -> ProviderResult<&ApiKey> {
        self.key.as_ref().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Unauthenticated,
                format!("no Vultr API key for provider '{}'", self.instance),
            )
            .with_hint(format!(
                "set {} or providers.{}.api_key",
                crate::config::API_KEY_ENV,
                self.instance
            ))
        })
    }

    /// One attempt.
    pub async fn attempt(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> ProviderResult<Attempt> {
        let key = self.key()?;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key.expose())
            .header("accept", "application/json")
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Ok(Attempt::NoAnswer(without_url(e))),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(RETRY_AFTER_MAX));
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return Ok(Attempt::NoAnswer(without_url(e))),
        };
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Attempt::Answered(Answer {
            status,
            retry_after,
            body,
        }))
    }

    /// The wait before attempt `n + 1` (`n` from 0): the answer's `Retry-After`, else
    /// exponential from half a second, capped.
    pub fn backoff(n: u32, answer: Option<&Answer>) -> Duration {
        if let Some(wait) = answer.and_then(|a| a.retry_after) {
            return wait;
        }
        BACKOFF_START
            .saturating_mul(2u32.saturating_pow(n))
            .min(BACKOFF_MAX)
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// A request that is safe to repeat (GET, DELETE, and POSTs Vultr refused outright), with
    /// retries. Answers the successful answer, or the final one if it is a client error;
    /// `Err` once the attempts run out.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> ProviderResult<Answer> {
        let mut last = String::new();
        for n in 0..self.max_attempts {
            let answer = match self.attempt(method.clone(), path, query, body).await? {
                Attempt::Answered(a) if !a.transient() => return Ok(a),
                Attempt::Answered(a) => {
                    last = format!("{} {}", a.status.as_u16(), a.message());
                    Some(a)
                }
                Attempt::NoAnswer(why) => {
                    last = why;
                    None
                }
            };
            if n + 1 < self.max_attempts {
                tokio::time::sleep(Self::backoff(n, answer.as_ref())).await;
            }
        }
        Err(self.gave_up(&method, path, &last))
    }

    pub fn gave_up(&self, method: &Method, path: &str, last: &str) -> ProviderError {
        ProviderError::unavailable(format!(
            "the Vultr API at {} did not answer {method} {path} after {} attempts: {last}",
            self.base, self.max_attempts
        ))
        .retryable()
    }

    /// A successful answer's body, or the error the answer means.
    pub fn expect_ok(&self, what: &str, answer: Answer) -> ProviderResult<Value> {
        if answer.ok() {
            return Ok(answer.body);
        }
        let message = format!(
            "Vultr refused {what}: {} {}",
            answer.status.as_u16(),
            answer.message()
        );
        Err(match answer.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                ProviderError::new(ErrorKind::Unauthenticated, message).with_hint(format!(
                    "check the API key ({} or providers.{}.api_key) and its allowed IP ranges",
                    crate::config::API_KEY_ENV,
                    self.instance
                ))
            }
            StatusCode::NOT_FOUND => ProviderError::not_found(message),
            s if s.is_client_error() => ProviderError::invalid_input(message),
            _ => ProviderError::unavailable(message),
        })
    }

    /// GET with retries; `None` for a 404.
    pub async fn get(&self, what: &str, path: &str) -> ProviderResult<Option<Value>> {
        let answer = self.request(Method::GET, path, &[], None).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.expect_ok(what, answer).map(Some)
    }

    /// DELETE with retries; already gone (404) is done.
    pub async fn delete(&self, what: &str, path: &str) -> ProviderResult<()> {
        let answer = self.request(Method::DELETE, path, &[], None).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        self.expect_ok(what, answer).map(|_| ())
    }

    /// Every item of a list (`field` of each page), following `meta.links.next` to the end.
    pub async fn list(
        &self,
        what: &str,
        path: &str,
        field: &str,
        filters: &[(&str, &str)],
    ) -> ProviderResult<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let mut query: Vec<(&str, &str)> = filters.to_vec();
            query.push(("per_page", PER_PAGE));
            if !cursor.is_empty() {
                query.push(("cursor", &cursor));
            }
            let answer = self.request(Method::GET, path, &query, None).await?;
            let mut page = self.expect_ok(what, answer)?;
            if let Some(Value::Array(list)) = page.get_mut(field).map(Value::take) {
                items.extend(list);
            }
            let next = page
                .pointer("/meta/links/next")
                .and_then(Value::as_str)
                .unwrap_or("");
            if next.is_empty() {
                return Ok(items);
            }
            cursor = next.to_string();
        }
        Err(ProviderError::internal(format!(
            "the Vultr API's {path} list did not end after {MAX_PAGES} pages"
        )))
    }
}

/// A transport error's text without the URL's query (which may carry filters) but with the
/// reason.
fn without_url(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let source = std::error::Error::source(&e)
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    format!("{kind}{source}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_and_retry_after_wins() {
        assert_eq!(Api::backoff(0, None), Duration::from_millis(500));
        assert_eq!(Api::backoff(2, None), Duration::from_secs(2));
        assert_eq!(Api::backoff(10, None), BACKOFF_MAX);
        let told = Answer {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(Duration::from_secs(3)),
            body: Value::Null,
        };
        assert_eq!(Api::backoff(0, Some(&told)), Duration::from_secs(3));
        assert!(told.transient());
        let not_implemented = Answer {
            status: StatusCode::NOT_IMPLEMENTED,
            retry_after: None,
            body: Value::Null,
        };
        assert!(!not_implemented.transient());
    }
}
