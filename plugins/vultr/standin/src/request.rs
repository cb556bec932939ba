//! A request as the handlers see it: method, path split into segments, query pairs, the bearer
//! token and the body.

use crate::reply::Reply;
use bytes::Bytes;
use hyper::Method;
use serde::de::DeserializeOwned;

pub struct ApiRequest {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub bearer: Option<String>,
    pub body: Bytes,
}

impl ApiRequest {
    pub fn new(
        method: Method,
        path: &str,
        query: Option<&str>,
        authorization: Option<&str>,
        body: Bytes,
    ) -> ApiRequest {
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let query = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let bearer = authorization
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(|token| token.trim().to_string());
        ApiRequest {
            method,
            segments,
            query,
            bearer,
            body,
        }
    }

    /// The first value of a query parameter; an empty value counts as absent.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; an empty body reads as `{}` (Vultr accepts bodiless POSTs).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Reply> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body)
            .map_err(|e| Reply::bad_request(format!("Invalid JSON in the request body: {e}")))
    }
}
