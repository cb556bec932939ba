//! Files on a Modal Volume (filesystem version 2), where the provider keeps its state so any
//! mngr with the same Modal account sees it: files are uploaded as 8 MiB blocks named by their
//! SHA-256 (`VolumePutFiles2`, then an HTTP PUT of each block the volume lacks) and read back
//! through the block URLs `VolumeGetFile2` hands out.

use crate::api::{self, Api};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mngr_modal_proto::client as pb;
use mngr_plugin_api::{ErrorKind, ProviderError, ProviderResult};
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;

pub const BLOCK_SIZE: usize = 8 * 1024 * 1024;

type Http = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

#[derive(Clone)]
pub struct Volume {
    api: Api,
    pub id: String,
    http: Http,
}

/// A file's blocks: each 8 MiB slice without its trailing zero bytes, with its SHA-256.
pub fn blocks(data: &[u8]) -> Vec<(Vec<u8>, &[u8])> {
    data.chunks(BLOCK_SIZE)
        .map(|chunk| {
            let end = chunk.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
            let stripped = &chunk[..end];
            (Sha256::digest(stripped).to_vec(), stripped)
        })
        .collect()
}

impl Volume {
    /// The named v2 volume, made when missing.
    pub async fn open(api: &Api, name: &str) -> ProviderResult<Volume> {
        let request = pb::VolumeGetOrCreateRequest {
            deployment_name: name.to_string(),
            environment_name: api.credentials().environment.clone(),
            object_creation_type: pb::ObjectCreationType::CreateIfMissing as i32,
            version: pb::VolumeFsVersion::V2 as i32,
            create_options: Some(pb::VolumeCreateOptions::default()),
            ..Default::default()
        };
        let response = api
            .unary("VolumeGetOrCreate", request, |mut c, r| async move {
                c.volume_get_or_create(r).await
            })
            .await?;
        let version = response.metadata.as_ref().map_or(0, |m| m.version);
        if version != pb::VolumeFsVersion::V2 as i32 {
            return Err(ProviderError::invalid_config(format!(
                "the Modal volume '{name}' is not a version 2 volume; name another with state_volume"
            )));
        }
        Ok(Volume {
            api: api.clone(),
            id: response.volume_id,
            // Block URLs are https on Modal (object storage) and http on the stand-in.
            http: Client::builder(TokioExecutor::new())
                .build(crate::tls::connector(crate::tls::Alpn::Http1)?),
        })
    }

    /// Write `path` (replacing it).
    pub async fn write(&self, path: &str, data: &[u8]) -> ProviderResult<()> {
        let blocks = blocks(data);
        let mut put_responses: Vec<Option<Vec<u8>>> = vec![None; blocks.len()];
        for round in 0..2 {
            let file = pb::volume_put_files2_request::File {
                path: path.to_string(),
                size: data.len() as u64,
                blocks: blocks
                    .iter()
                    .zip(&put_responses)
                    .map(|((hash, _), put)| pb::volume_put_files2_request::Block {
                        contents_sha256: hash.clone(),
                        put_response: put.clone(),
                    })
                    .collect(),
                mode: Some(0o600),
            };
            let request = pb::VolumePutFiles2Request {
                volume_id: self.id.clone(),
                files: vec![file],
                disallow_overwrite_existing_files: false,
            };
            let response = self
                .api
                .unary("VolumePutFiles2", request, |mut c, r| async move {
                    c.volume_put_files2(r).await
                })
                .await?;
            if response.missing_blocks.is_empty() {
                return Ok(());
            }
            if round == 1 {
                return Err(ProviderError::internal(format!(
                    "the Modal volume still lacks blocks of {path} after uploading them"
                )));
            }
            for missing in response.missing_blocks {
                let index = missing.block_index as usize;
                let body = blocks.get(index).map(|(_, b)| b.to_vec()).ok_or_else(|| {
                    ProviderError::internal(format!(
                        "Modal asked for block {index} of {path}, which has {}",
                        blocks.len()
                    ))
                })?;
                put_responses[index] = Some(self.put_block(&missing.put_url, body).await?);
            }
        }
        unreachable!("the loop returns in its second round")
    }

    /// Read `path`; `None` when it is absent.
    pub async fn read(&self, path: &str) -> ProviderResult<Option<Vec<u8>>> {
        let request = pb::VolumeGetFile2Request {
            volume_id: self.id.clone(),
            path: path.to_string(),
            start: 0,
            len: 0,
            client_pads_blocks: true,
        };
        let response = match self
            .api
            .unary("VolumeGetFile2", request, |mut c, r| async move {
                c.volume_get_file2(r).await
            })
            .await
        {
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            other => other?,
        };
        let mut data = Vec::with_capacity(response.size as usize);
        for (i, url) in response.get_urls.iter().enumerate() {
            let mut block = self.http_call("GET", url, Vec::new()).await?;
            // Blocks come without their trailing zeros: pad each but the last to full size.
            let want = (response.len as usize)
                .saturating_sub(i * BLOCK_SIZE)
                .min(BLOCK_SIZE);
            block.resize(want.max(block.len()), 0);
            data.extend(block);
        }
        data.truncate(response.len as usize);
        Ok(Some(data))
    }

    /// The files under `dir` (paths as the volume gives them), recursively.
    pub async fn list(&self, dir: &str) -> ProviderResult<Vec<String>> {
        let request = self.api.request(
            pb::VolumeListFiles2Request {
                volume_id: self.id.clone(),
                path: dir.to_string(),
                max_entries: None,
                recursive: true,
            },
            0,
        );
        let mut stream = match self.api.grpc.clone().volume_list_files2(request).await {
            Err(s) if s.code() == tonic::Code::NotFound => return Ok(Vec::new()),
            other => other
                .map_err(|s| api::status_error("VolumeListFiles2", &s))?
                .into_inner(),
        };
        let mut files = Vec::new();
        while let Some(page) = stream.next().await {
            let page = match page {
                Err(s) if s.code() == tonic::Code::NotFound => break,
                other => other.map_err(|s| api::status_error("VolumeListFiles2", &s))?,
            };
            files.extend(
                page.entries
                    .into_iter()
                    .filter(|e| e.r#type == pb::file_entry::FileType::File as i32)
                    .map(|e| e.path),
            );
        }
        Ok(files)
    }

    /// Remove `path` (a directory with what it holds); absent is fine.
    pub async fn remove(&self, path: &str) -> ProviderResult<()> {
        let request = pb::VolumeRemoveFile2Request {
            volume_id: self.id.clone(),
            path: path.to_string(),
            recursive: true,
        };
        match self
            .api
            .unary("VolumeRemoveFile2", request, |mut c, r| async move {
                c.volume_remove_file2(r).await
            })
            .await
        {
            Err(e) if e.kind != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// PUT one block, repeated on failure (a PUT of the same bytes is idempotent).
    async fn put_block(&self, url: &str, body: Vec<u8>) -> ProviderResult<Vec<u8>> {
        let mut last = None;
        for attempt in 0..api::ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
            }
            match self.http_call("PUT", url, body.clone()).await {
                Ok(response) => return Ok(response),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    async fn http_call(&self, method: &str, url: &str, body: Vec<u8>) -> ProviderResult<Vec<u8>> {
        let failed = |e: String| {
            ProviderError::unavailable(format!("Modal volume block {method} failed: {e}"))
        };
        let request = hyper::Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| failed(e.to_string()))?;
        let response =
            self.http.request(request).await.map_err(
                |e| match crate::tls::certificate_failure(&e) {
                    Some(why) => failed(format!(
                        "the server's TLS certificate is not trusted ({why})"
                    ))
                    .with_hint(crate::tls::UNTRUSTED_HINT),
                    None => failed(e.to_string()),
                },
            )?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failed(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(failed(format!("HTTP {status}: {}", text.trim())));
        }
        Ok(body.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_drop_trailing_zeros_and_hash_what_is_left() {
        let mut data = vec![7u8; BLOCK_SIZE + 3];
        data.extend([0, 0]);
        let b = blocks(&data);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].1.len(), BLOCK_SIZE);
        assert_eq!(b[1].1, &[7, 7, 7]);
        assert_eq!(b[1].0, Sha256::digest([7, 7, 7]).to_vec());
        assert!(blocks(&[]).is_empty());
        assert_eq!(blocks(&[0, 0])[0].0, Sha256::digest([]).to_vec());
    }
}
