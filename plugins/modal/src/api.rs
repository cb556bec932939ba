//! The Modal control plane over gRPC: one channel, the headers every call carries, Modal's
//! status codes as provider errors, and bounded retries of the transient ones (UNAVAILABLE,
//! DEADLINE_EXCEEDED); everything else, NOT_FOUND included, fails at once.

use crate::credentials::Credentials;
use crate::tls;
use mngr_modal_proto::client::modal_client_client::ModalClientClient;
use mngr_plugin_api::{ErrorKind, ProviderError, ProviderResult};
use std::future::Future;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// Attempts of one unary call (Modal's own clients make four).
pub const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Decoding limit: image build logs and listings can be large.
const MAX_MESSAGE: usize = 100 * 1024 * 1024;

/// The client identity sent as `x-modal-client-type`: LIBMODAL_GO (9), the third-party
/// convention whose command-router URLs are `https://` even when spoken plaintext on loopback.
const CLIENT_TYPE: &str = "9";
const CLIENT_VERSION: &str = "1.0.0";

pub type Grpc = ModalClientClient<Channel>;

#[derive(Clone)]
pub struct Api {
    pub grpc: Grpc,
    credentials: Credentials,
}

/// Whether a URL's host is this machine.
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    matches!(host, "localhost" | "127.0.0.1")
}

/// How a channel's `https://` URL is spoken.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum HttpsPolicy {
    /// TLS, the server's certificate verified (the control plane; a router whose control
    /// plane speaks TLS).
    Verified,
    /// Plaintext when the host is loopback: a command router handed out by a plaintext
    /// control plane on this machine (Modal's Go and JS clients do the same).
    PlainOnLoopback,
}

/// A channel to `url`: `http://` is plaintext h2c, `https://` is TLS verified against the
/// trusted roots (see tls.rs) unless `policy` says a loopback router speaks plaintext.
pub fn channel(url: &str, policy: HttpsPolicy) -> ProviderResult<Channel> {
    let uri = if let Some(rest) = url.strip_prefix("https://") {
        if policy == HttpsPolicy::PlainOnLoopback && is_loopback(url) {
            format!("http://{rest}")
        } else {
            url.to_string()
        }
    } else if url.starts_with("http://") {
        url.to_string()
    } else {
        return Err(ProviderError::invalid_config(format!(
            "Modal server URL '{url}' must start with http:// or https://"
        )));
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|e| {
        ProviderError::invalid_config(format!("Modal server URL '{url}' is not a URL: {e}"))
    })?;
    // TLS is the connector's (tonic's own TLS features stay off, so nothing wraps it twice).
    let connector = tls::connector(tls::Alpn::H2)?;
    Ok(endpoint
        .connect_timeout(Duration::from_secs(10))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .initial_stream_window_size(Some(64 << 20))
        .initial_connection_window_size(Some(64 << 20))
        .connect_with_connector_lazy(connector))
}

/// A gRPC status as a provider error naming the call.
pub fn status_error(call: &str, status: &tonic::Status) -> ProviderError {
    use tonic::Code;
    let kind = match status.code() {
        Code::NotFound => ErrorKind::NotFound,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => {
            ErrorKind::InvalidInput
        }
        Code::Unauthenticated | Code::PermissionDenied => ErrorKind::Unauthenticated,
        Code::Unavailable | Code::ResourceExhausted => ErrorKind::Unavailable,
        Code::DeadlineExceeded => ErrorKind::Timeout,
        Code::Cancelled => ErrorKind::Cancelled,
        Code::Unimplemented => ErrorKind::Unsupported,
        _ => ErrorKind::Internal,
    };
    let message = status.message();
    let message = if message.is_empty() {
        format!("{:?}", status.code())
    } else {
        message.to_string()
    };
    if let Some(why) = tls::certificate_failure(status) {
        return ProviderError::unavailable(format!(
            "Modal {call}: the server's TLS certificate is not trusted ({why})"
        ))
        .with_hint(tls::UNTRUSTED_HINT);
    }
    let error = ProviderError::new(kind, format!("Modal {call}: {message}"));
    if kind == ErrorKind::Unauthenticated {
        error.with_hint(
            "check MODAL_TOKEN_ID/MODAL_TOKEN_SECRET or the active profile in ~/.modal.toml",
        )
    } else {
        error
    }
}

/// Whether a failed attempt is worth repeating.
pub fn is_transient(status: &tonic::Status) -> bool {
    // An untrusted certificate stays untrusted however often it is tried.
    tls::certificate_failure(status).is_none()
        && matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
        )
}

/// Run `attempt` up to [`ATTEMPTS`] times while it fails transiently, backing off from
/// 100 ms, doubling, at most 1 s.
pub async fn with_retries<T, Fut>(
    call: &str,
    mut attempt: impl FnMut(u32) -> Fut,
) -> ProviderResult<T>
where
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut tries = 0;
    loop {
        match attempt(tries).await {
            Ok(value) => return Ok(value),
            Err(status) if is_transient(&status) && tries + 1 < ATTEMPTS => {
                tries += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(status) => return Err(status_error(call, &status)),
        }
    }
}

impl Api {
    pub fn new(credentials: Credentials) -> ProviderResult<Api> {
        let grpc = ModalClientClient::new(channel(&credentials.server_url, HttpsPolicy::Verified)?)
            .max_decoding_message_size(MAX_MESSAGE);
        Ok(Api { grpc, credentials })
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// A request carrying the control plane's headers.
    pub fn request<T>(&self, message: T, attempt: u32) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        let mut put = |key: &'static str, value: &str| {
            if let Ok(value) = value.parse() {
                metadata.insert(key, value);
            }
        };
        put("x-modal-client-type", CLIENT_TYPE);
        put("x-modal-client-version", CLIENT_VERSION);
        put("x-modal-token-id", &self.credentials.token_id);
        put("x-modal-token-secret", &self.credentials.token_secret);
        put("x-retry-attempt", &attempt.to_string());
        request
    }

    /// One unary call with retries: `rpc` gets the client and the request for each attempt.
    pub async fn unary<Req, Resp, Fut>(
        &self,
        call: &str,
        message: Req,
        rpc: impl Fn(Grpc, tonic::Request<Req>) -> Fut,
    ) -> ProviderResult<Resp>
    where
        Req: Clone,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        with_retries(call, |attempt| {
            let request = self.request(message.clone(), attempt);
            let fut = rpc(self.grpc.clone(), request);
            async move { fut.await.map(tonic::Response::into_inner) }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn unavailable_is_retried_a_bounded_number_of_times_and_not_found_never() {
        let calls = AtomicU32::new(0);
        let result: ProviderResult<u32> = with_retries("X", |_| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(tonic::Status::unavailable("busy"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 2);
        calls.store(0, Ordering::SeqCst);
        let err = with_retries::<(), _>("X", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(tonic::Status::unavailable("down")) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), ATTEMPTS);
        assert_eq!(err.kind, ErrorKind::Unavailable);
        calls.store(0, Ordering::SeqCst);
        let err = with_retries::<(), _>("SandboxWait", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(tonic::Status::not_found("no sandbox")) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert_eq!(err.message, "Modal SandboxWait: no sandbox");
    }

    #[test]
    fn https_is_tls_except_a_loopback_router_of_a_plaintext_control_plane() {
        assert!(is_loopback("https://127.0.0.1:4/x"));
        assert!(!is_loopback("https://api.modal.com"));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let _guard = runtime.enter();
        for (url, policy) in [
            ("https://api.modal.com", HttpsPolicy::Verified),
            ("https://127.0.0.1:4", HttpsPolicy::PlainOnLoopback),
            ("http://127.0.0.1:4", HttpsPolicy::Verified),
        ] {
            assert!(channel(url, policy).is_ok(), "{url}");
        }
        let err = channel("ftp://x", HttpsPolicy::Verified).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidConfig);
        assert!(err.message.contains("must start with"), "{}", err.message);
    }
}
