//! The HTTP/1.1 server: each connection served by hyper, each request read in full, answered
//! by the router, and logged as one line (method, path, status, time; never bodies).

use crate::app::App;
use crate::reply::Reply;
use crate::request::ApiRequest;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = app.clone();
                async move { Ok::<_, hyper::Error>(handle(&app, request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(app: &Arc<App>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let reply = match body.collect().await {
        Ok(body) => {
            let authorization = parts
                .headers
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            let req = ApiRequest::new(
                parts.method.clone(),
                &path,
                parts.uri.query(),
                authorization,
                body.to_bytes(),
            );
            crate::routes::answer(app, req).await
        }
        Err(e) => Reply::bad_request(format!("Could not read the request body: {e}")),
    };
    eprintln!(
        "vultr-standin: {} {} -> {} ({} ms)",
        parts.method,
        path,
        reply.status,
        started.elapsed().as_millis()
    );
    to_response(reply)
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(reply.status);
    // Exactly `application/json`: vultr-python parses nothing else.
    if reply.body.is_some() {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    let body = reply
        .body
        .map(|b| Bytes::from(b.to_string()))
        .unwrap_or_default();
    builder.body(Full::new(body)).expect("a valid response")
}
