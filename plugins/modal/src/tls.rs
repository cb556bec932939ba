//! TLS for every connection the plugin makes (the control plane, a sandbox's command router,
//! volume block URLs): rustls with the `ring` provider, verifying servers against this
//! machine's root certificates, or only those in `SSL_CERT_FILE` / `SSL_CERT_DIR` when set (so
//! a private CA works). The roots are read once per process.

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use mngr_plugin_api::{ProviderError, ProviderResult};
use rustls::ClientConfig;
use std::sync::{Arc, OnceLock};

/// Which application protocol a connection speaks inside TLS.
#[derive(Clone, Copy)]
pub enum Alpn {
    /// gRPC (the control plane and the command router).
    H2,
    /// Volume block PUTs and GETs.
    Http1,
}

/// The trusted roots, loaded once: `Err` is the one-line reason none could be loaded.
fn roots() -> Result<Arc<rustls::RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<rustls::RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            let mut store = rustls::RootCertStore::empty();
            let (_, unparsable) = store.add_parsable_certificates(loaded.certs);
            if store.is_empty() {
                let why = loaded
                    .errors
                    .first()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| format!("{unparsable} unusable certificates"));
                return Err(format!(
                    "no trusted root certificates could be loaded ({why})"
                ));
            }
            Ok(Arc::new(store))
        })
        .clone()
}

/// The verifying client config; the connector builder adds the ALPN protocols.
fn client_config() -> ProviderResult<ClientConfig> {
    let roots = roots().map_err(|why| {
        ProviderError::invalid_config(format!("cannot make TLS connections to Modal: {why}"))
            .with_hint(
                "install the system CA bundle, or set SSL_CERT_FILE to a PEM file of trusted CAs",
            )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProviderError::internal(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A connector that speaks TLS to `https://` URIs and plain TCP to `http://` ones.
pub fn connector(alpn: Alpn) -> ProviderResult<HttpsConnector<HttpConnector>> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let builder = HttpsConnectorBuilder::new()
        .with_tls_config(client_config()?)
        .https_or_http();
    Ok(match alpn {
        Alpn::H2 => builder.enable_http2().wrap_connector(http),
        Alpn::Http1 => builder.enable_http1().wrap_connector(http),
    })
}

/// When an error (or one it wraps) is a server certificate this machine does not trust, a
/// one-line account of why (rustls' own words, such as `UnknownIssuer`).
pub fn certificate_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    // tonic and hyper box rustls' error in io::Errors whose chains differ between versions;
    // rustls' text is stable, so match on that.
    const MARK: &str = "invalid peer certificate: ";
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if let Some(at) = text.find(MARK) {
            // The reason's name (`UnknownIssuer`, `ExpiredContext`...), without its details.
            let why: String = text[at + MARK.len()..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            return Some(why);
        }
        current = e.source();
    }
    None
}

/// The hint every untrusted-certificate error carries.
pub const UNTRUSTED_HINT: &str =
    "if the server uses a private CA, set SSL_CERT_FILE to a PEM file holding it";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untrusted_certificate_is_named_by_its_reason_alone() {
        let status = tonic::Status::unavailable(
            "error trying to connect: invalid peer certificate: NotValidForNameContext { expected: x }",
        );
        assert_eq!(
            certificate_failure(&status).as_deref(),
            Some("NotValidForNameContext")
        );
        assert_eq!(
            certificate_failure(&tonic::Status::unavailable("connection refused")),
            None
        );
    }
}
