//! Vultr's cursor paging: `per_page` (default 100, at most 500, or the stand-in's smaller cap)
//! and an opaque `cursor`; `meta.total` counts the whole filtered list and `meta.links.next` /
//! `prev` are cursors, or `""` at either end.

use crate::reply::Reply;
use crate::request::ApiRequest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const DEFAULT_PER_PAGE: usize = 100;
pub const MAX_PER_PAGE: usize = 500;

/// One page of `items` with its `meta`, for a list `key`: `{key: [...], "meta": {...}}`.
pub fn page(key: &str, items: Vec<Value>, req: &ApiRequest, cap: usize) -> Result<Reply, Reply> {
    let cap = cap.clamp(1, MAX_PER_PAGE);
    let per_page = match req.query("per_page") {
        None => DEFAULT_PER_PAGE,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Reply::bad_request("Invalid per_page: give a positive number."))?,
    }
    .min(cap);
    let offset = match req.query("cursor") {
        None => 0,
        Some(cursor) => decode_cursor(cursor).ok_or_else(|| {
            Reply::bad_request("Invalid cursor: pass back meta.links.next or prev as given.")
        })?,
    };
    let total = items.len();
    let next = if offset + per_page < total {
        encode_cursor("next", offset + per_page)
    } else {
        String::new()
    };
    let prev = if offset > 0 {
        encode_cursor("prev", offset.saturating_sub(per_page))
    } else {
        String::new()
    };
    let items: Vec<Value> = items.into_iter().skip(offset).take(per_page).collect();
    Ok(Reply::json(
        200,
        json!({ key: items, "meta": { "total": total, "links": { "next": next, "prev": prev } } }),
    ))
}

fn encode_cursor(direction: &str, offset: usize) -> String {
    STANDARD.encode(format!("{direction}__{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(STANDARD.decode(cursor).ok()?).ok()?;
    let (_, offset) = text.split_once("__")?;
    offset.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::Method;

    fn req(query: &str) -> ApiRequest {
        ApiRequest::new(Method::GET, "/v2/x", Some(query), None, Bytes::new())
    }

    fn ids(reply: &Reply) -> (Vec<i64>, Value) {
        let body = reply.body.as_ref().unwrap();
        let ids = body["x"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        (ids, body["meta"].clone())
    }

    #[test]
    fn walks_every_page_and_back() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let first = page("x", items.clone(), &req("per_page=2"), 500).unwrap();
        let (got, meta) = ids(&first);
        assert_eq!(got, vec![0, 1]);
        assert_eq!(meta["total"], 5);
        assert_eq!(meta["links"]["prev"], "");
        let next = meta["links"]["next"].as_str().unwrap().to_string();
        let second = page(
            "x",
            items.clone(),
            &req(&format!("per_page=2&cursor={next}")),
            500,
        )
        .unwrap();
        let (got, meta) = ids(&second);
        assert_eq!(got, vec![2, 3]);
        let next = meta["links"]["next"].as_str().unwrap().to_string();
        let prev = meta["links"]["prev"].as_str().unwrap().to_string();
        let last = page(
            "x",
            items.clone(),
            &req(&format!("per_page=2&cursor={next}")),
            500,
        )
        .unwrap();
        let (got, meta) = ids(&last);
        assert_eq!(got, vec![4]);
        assert_eq!(meta["links"]["next"], "");
        let back = page("x", items, &req(&format!("per_page=2&cursor={prev}")), 500).unwrap();
        assert_eq!(ids(&back).0, vec![0, 1]);
    }

    #[test]
    fn the_cap_wins_over_per_page_and_bad_input_is_refused() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let capped = page("x", items.clone(), &req("per_page=500"), 2).unwrap();
        assert_eq!(ids(&capped).0, vec![0, 1]);
        assert_eq!(
            page("x", items.clone(), &req("per_page=zero"), 500)
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            page("x", items, &req("cursor=%%%"), 500)
                .unwrap_err()
                .status,
            400
        );
    }
}
