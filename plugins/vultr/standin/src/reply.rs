//! What a handler answers: a status, an optional JSON body and extra headers, in Vultr's shapes
//! (errors are `{"error": "...", "status": N}`; 204s have no body).

use serde_json::{Value, json};

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
}

/// Handlers return `Err` with an error reply so `?` can end them early.
pub type Handled = Result<Reply, Reply>;

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "error": message.into(), "status": status }))
    }

    pub fn bad_request(message: impl Into<String>) -> Reply {
        Reply::error(400, message)
    }

    pub fn not_found(message: impl Into<String>) -> Reply {
        Reply::error(404, message)
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}
