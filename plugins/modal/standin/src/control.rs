//! The control-plane service `modal.client.ModalClient`: apps, images, both sandbox families,
//! and volumes, each call answered from real objects.

use crate::images::wait_until_done;
use crate::sandboxes::{CreateSpec, SandboxRecord};
use crate::standin::{IMAGE_BUILDER_VERSION, Standin};
use crate::volumes::{NewFile, PutOutcome, block_ranges, normalize};
use mngr_modal_proto::client::modal_client_server::ModalClient;
use mngr_modal_proto::client::*;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

type Reply<T> = Result<Response<T>, Status>;
type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// How long one `ImageJoinStreaming` call follows a build before the client re-joins.
const DEFAULT_JOIN_SECS: f32 = 55.0;
/// Listing page size; the client pages on until an empty page.
const LIST_PAGE: usize = 100;

pub struct Control(pub Arc<Standin>);

fn stream<T: Send + 'static>(rx: tokio::sync::mpsc::Receiver<Result<T, Status>>) -> ReplyStream<T> {
    Box::pin(ReceiverStream::new(rx))
}

fn creates(kind: i32) -> bool {
    matches!(
        ObjectCreationType::try_from(kind),
        Ok(ObjectCreationType::CreateIfMissing
            | ObjectCreationType::CreateFailIfExists
            | ObjectCreationType::CreateOverwriteIfExists
            | ObjectCreationType::AnonymousOwnedByApp
            | ObjectCreationType::Ephemeral)
    )
}

impl Control {
    fn sandbox(&self, id: &str) -> Result<Arc<SandboxRecord>, Status> {
        self.0
            .sandboxes
            .get(id)
            .ok_or_else(|| Status::not_found(format!("Sandbox {id} not found")))
    }

    async fn create_sandbox(&self, spec: CreateSpec) -> Result<Arc<SandboxRecord>, Status> {
        check_gpu(&spec.definition)?;
        if !spec.definition.volume_mounts.is_empty() {
            return Err(Status::unimplemented(
                "the stand-in cannot mount volumes into sandboxes",
            ));
        }
        let image_id = &spec.definition.image_id;
        let image = self.0.images.get(image_id).ok_or_else(|| {
            Status::invalid_argument(format!(
                "Image {image_id} not found; build it or pass a snapshot's image id"
            ))
        })?;
        wait_until_done(&image).await.map_err(|e| {
            Status::failed_precondition(format!("Image {image_id} failed to build: {e}"))
        })?;
        // Modal finishes a create whose client stopped waiting; so does the stand-in (a
        // handler cancelled mid-way would leave a container that no listing knows).
        let sandboxes = self.0.sandboxes.clone();
        let docker_ref = image.docker_ref.clone();
        tokio::spawn(async move { sandboxes.create(spec, &docker_ref).await })
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(Status::internal)
    }

    fn tunnels(record: &SandboxRecord) -> SandboxGetTunnelsResponse {
        let result = match record.finished() {
            Some(result) => result,
            None => crate::sandboxes::status_result(generic_result::GenericStatus::Success, 0, ""),
        };
        SandboxGetTunnelsResponse {
            result: Some(result),
            tunnels: record.tunnels.clone(),
        }
    }

    async fn wait(&self, request: SandboxWaitRequest) -> Reply<SandboxWaitResponse> {
        let record = self.sandbox(&request.sandbox_id)?;
        let limit = Duration::from_secs_f32(request.timeout.clamp(0.0, 60.0));
        let result = self.0.sandboxes.wait(&record, limit).await;
        let metadata = handle_metadata(&record);
        Ok(Response::new(SandboxWaitResponse {
            result,
            metadata: Some(metadata),
        }))
    }

    fn list(&self, request: SandboxListRequest) -> SandboxListResponse {
        let before = if request.before_timestamp > 0.0 {
            request.before_timestamp
        } else {
            f64::INFINITY
        };
        let sandboxes = self
            .0
            .sandboxes
            .all()
            .into_iter()
            .filter(|s| s.created_at < before)
            .filter(|s| request.app_id.is_empty() || s.app_id == request.app_id)
            .filter(|s| request.include_finished || s.finished().is_none())
            .filter(|s| {
                let tags = s.tags.lock().unwrap();
                request.tags.iter().all(|wanted| tags.contains(wanted))
            })
            .take(LIST_PAGE)
            .map(|s| sandbox_info(&s))
            .collect();
        SandboxListResponse { sandboxes }
    }

    async fn terminate(&self, request: SandboxTerminateRequest) -> Reply<SandboxTerminateResponse> {
        let record = self.sandbox(&request.sandbox_id)?;
        let existing_result = self.0.sandboxes.terminate(&record).await;
        Ok(Response::new(SandboxTerminateResponse { existing_result }))
    }

    fn set_tags(&self, request: SandboxTagsSetRequest) -> Reply<()> {
        let record = self.sandbox(&request.sandbox_id)?;
        *record.tags.lock().unwrap() = request.tags;
        Ok(Response::new(()))
    }

    fn get_tags(&self, request: SandboxTagsGetRequest) -> Reply<SandboxTagsGetResponse> {
        let record = self.sandbox(&request.sandbox_id)?;
        let tags = record.tags.lock().unwrap().clone();
        Ok(Response::new(SandboxTagsGetResponse { tags }))
    }

    fn task_id(&self, request: SandboxGetTaskIdRequest) -> Reply<SandboxGetTaskIdResponse> {
        let record = self.sandbox(&request.sandbox_id)?;
        let response = match record.finished() {
            Some(result) => SandboxGetTaskIdResponse {
                task_id: None,
                task_result: Some(result),
            },
            None => SandboxGetTaskIdResponse {
                task_id: Some(record.task_id.clone()),
                task_result: None,
            },
        };
        Ok(Response::new(response))
    }
}

/// Modal's GPU types. This machine has no GPU, so a known type is accepted and not attached.
const GPU_TYPES: [&str; 11] = [
    "T4",
    "L4",
    "A10",
    "A10G",
    "A100",
    "A100-40GB",
    "A100-80GB",
    "L40S",
    "H100",
    "H200",
    "B200",
];

fn check_gpu(definition: &Sandbox) -> Result<(), Status> {
    let gpu = definition
        .resources
        .as_ref()
        .and_then(|r| r.gpu_config.as_ref());
    match gpu.map(|g| g.gpu_type.trim_end_matches('!').to_ascii_uppercase()) {
        Some(kind) if !kind.is_empty() && !GPU_TYPES.contains(&kind.as_str()) => {
            Err(Status::invalid_argument(format!(
                "Unknown GPU type '{}'. Supported types: {}",
                gpu.map_or("", |g| g.gpu_type.as_str()),
                GPU_TYPES.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

fn handle_metadata(record: &SandboxRecord) -> SandboxHandleMetadata {
    SandboxHandleMetadata {
        result: record.finished(),
        app_id: record.app_id.clone(),
    }
}

fn sandbox_info(record: &SandboxRecord) -> SandboxInfo {
    SandboxInfo {
        id: record.id.clone(),
        created_at: record.created_at,
        task_info: Some(TaskInfo {
            id: record.task_id.clone(),
            started_at: record.created_at,
            result: record.finished(),
            sandbox_id: record.id.clone(),
            ..Default::default()
        }),
        app_id: record.app_id.clone(),
        tags: record.tags.lock().unwrap().clone(),
        name: record.name.clone().unwrap_or_default(),
        image_id: record.image_id.clone(),
        timeout_secs: record.timeout_secs,
        tunnels: record.tunnels.clone(),
        metadata: Some(handle_metadata(record)),
    }
}

/// Environment variables a create carries, in either family's places.
fn create_env(
    definition: &Sandbox,
    ephemeral: Option<&StringMap>,
    sources: &[SecretSource],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    let maps = definition
        .environment_variables
        .iter()
        .chain(ephemeral)
        .chain(sources.iter().filter_map(|s| match &s.source {
            Some(secret_source::Source::Env(map)) => Some(map),
            _ => None,
        }));
    for map in maps {
        env.extend(map.contents.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    env
}

#[tonic::async_trait]
impl ModalClient for Control {
    async fn app_get_or_create(
        &self,
        request: Request<AppGetOrCreateRequest>,
    ) -> Reply<AppGetOrCreateResponse> {
        self.0.enter("AppGetOrCreate", request.metadata())?;
        let request = request.into_inner();
        let key = (request.environment_name.clone(), request.app_name.clone());
        let mut apps = self.0.apps.lock().unwrap();
        let app_id = match apps.get(&key) {
            Some(id) => id.clone(),
            None if creates(request.object_creation_type) => {
                let id = crate::ids::app();
                apps.insert(key, id.clone());
                id
            }
            None => {
                return Err(Status::not_found(format!(
                    "App '{}' not found",
                    request.app_name
                )));
            }
        };
        let handle_metadata = AppHandleMetadata {
            app_id: app_id.clone(),
            description: request.app_name,
            environment_name: request.environment_name,
        };
        Ok(Response::new(AppGetOrCreateResponse {
            app_id,
            handle_metadata: Some(handle_metadata),
        }))
    }

    async fn auth_token_get(
        &self,
        request: Request<AuthTokenGetRequest>,
    ) -> Reply<AuthTokenGetResponse> {
        self.0.enter("AuthTokenGet", request.metadata())?;
        Ok(Response::new(AuthTokenGetResponse {
            token: self.0.auth.issue_auth_token(),
        }))
    }

    async fn client_hello(&self, request: Request<()>) -> Reply<ClientHelloResponse> {
        self.0.enter("ClientHello", request.metadata())?;
        Ok(Response::new(ClientHelloResponse {
            warning: String::new(),
            image_builder_version: IMAGE_BUILDER_VERSION.into(),
        }))
    }

    async fn environment_get_or_create(
        &self,
        request: Request<EnvironmentGetOrCreateRequest>,
    ) -> Reply<EnvironmentGetOrCreateResponse> {
        self.0.enter("EnvironmentGetOrCreate", request.metadata())?;
        let name = match request.into_inner().deployment_name {
            name if name.is_empty() => "main".to_string(),
            name => name,
        };
        let settings = EnvironmentSettings {
            image_builder_version: IMAGE_BUILDER_VERSION.into(),
            webhook_suffix: "modal.run".into(),
        };
        Ok(Response::new(EnvironmentGetOrCreateResponse {
            environment_id: self.0.environment_id.clone(),
            metadata: Some(EnvironmentMetadata {
                name,
                settings: Some(settings),
            }),
        }))
    }

    async fn image_get_or_create(
        &self,
        request: Request<ImageGetOrCreateRequest>,
    ) -> Reply<ImageGetOrCreateResponse> {
        self.0.enter("ImageGetOrCreate", request.metadata())?;
        let request = request.into_inner();
        if !request.existing_image_id.is_empty() {
            return match self.0.images.get(&request.existing_image_id) {
                Some(_) => Ok(Response::new(ImageGetOrCreateResponse {
                    image_id: request.existing_image_id,
                    ..Default::default()
                })),
                None => Err(Status::not_found(format!(
                    "Image {} not found",
                    request.existing_image_id
                ))),
            };
        }
        let image = request.image.unwrap_or_default();
        let image_id = self
            .0
            .images
            .get_or_build(image, request.force_build)
            .map_err(Status::invalid_argument)?;
        // No result: the client follows the build with ImageJoinStreaming.
        Ok(Response::new(ImageGetOrCreateResponse {
            image_id,
            result: None,
            metadata: None,
        }))
    }

    type ImageJoinStreamingStream = ReplyStream<ImageJoinStreamingResponse>;

    async fn image_join_streaming(
        &self,
        request: Request<ImageJoinStreamingRequest>,
    ) -> Reply<Self::ImageJoinStreamingStream> {
        self.0.enter("ImageJoinStreaming", request.metadata())?;
        let request = request.into_inner();
        let image =
            self.0.images.get(&request.image_id).ok_or_else(|| {
                Status::not_found(format!("Image {} not found", request.image_id))
            })?;
        let mut sent: usize = request.last_entry_id.parse().unwrap_or(0);
        let follow = if request.timeout > 0.0 {
            request.timeout
        } else {
            DEFAULT_JOIN_SECS
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f32(follow.min(600.0));
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut progress = image.progress.subscribe();
            loop {
                let (logs, outcome) = {
                    let now = progress.borrow_and_update();
                    (
                        now.logs.get(sent..).unwrap_or_default().to_vec(),
                        now.outcome.clone(),
                    )
                };
                if !logs.is_empty() {
                    sent += logs.len();
                    let task_logs = logs
                        .into_iter()
                        .map(|data| TaskLogs {
                            data,
                            file_descriptor: FileDescriptor::Stdout.into(),
                            ..Default::default()
                        })
                        .collect();
                    let message = ImageJoinStreamingResponse {
                        task_logs,
                        entry_id: sent.to_string(),
                        ..Default::default()
                    };
                    if tx.send(Ok(message)).await.is_err() {
                        return;
                    }
                }
                if let Some(outcome) = outcome {
                    let result = match outcome {
                        Ok(()) => crate::sandboxes::status_result(
                            generic_result::GenericStatus::Success,
                            0,
                            "",
                        ),
                        Err(e) => crate::sandboxes::status_result(
                            generic_result::GenericStatus::Failure,
                            1,
                            &e,
                        ),
                    };
                    let metadata = ImageMetadata {
                        image_builder_version: Some(IMAGE_BUILDER_VERSION.into()),
                        ..Default::default()
                    };
                    let last = ImageJoinStreamingResponse {
                        result: Some(result),
                        metadata: Some(metadata),
                        eof: true,
                        entry_id: sent.to_string(),
                        ..Default::default()
                    };
                    let _ = tx.send(Ok(last)).await;
                    return;
                }
                if tokio::time::timeout_at(deadline, progress.changed())
                    .await
                    .is_err()
                {
                    return; // Still building: the client joins again.
                }
            }
        });
        Ok(Response::new(stream(rx)))
    }

    async fn image_from_id(
        &self,
        request: Request<ImageFromIdRequest>,
    ) -> Reply<ImageFromIdResponse> {
        self.0.enter("ImageFromId", request.metadata())?;
        let image_id = request.into_inner().image_id;
        match self.0.images.get(&image_id) {
            Some(image) if image.is_built() => Ok(Response::new(ImageFromIdResponse {
                image_id,
                metadata: Some(ImageMetadata::default()),
            })),
            _ => Err(Status::not_found(format!("Image {image_id} not found"))),
        }
    }

    async fn image_delete(&self, request: Request<ImageDeleteRequest>) -> Reply<()> {
        self.0.enter("ImageDelete", request.metadata())?;
        let image_id = request.into_inner().image_id;
        self.0
            .images
            .delete(&image_id)
            .await
            .map_err(|e| Status::not_found(format!("Image {image_id}: {e}")))?;
        Ok(Response::new(()))
    }

    async fn sandbox_create(
        &self,
        request: Request<SandboxCreateRequest>,
    ) -> Reply<SandboxCreateResponse> {
        self.0.enter("SandboxCreate", request.metadata())?;
        let request = request.into_inner();
        let definition = request.definition.unwrap_or_default();
        let env = create_env(&definition, None, &[]);
        let spec = CreateSpec {
            app_id: request.app_id,
            definition,
            env,
            tags: request.tags,
            v2: false,
        };
        let record = self.create_sandbox(spec).await?;
        Ok(Response::new(SandboxCreateResponse {
            sandbox_id: record.id.clone(),
            metadata: Some(handle_metadata(&record)),
        }))
    }

    async fn sandbox_get_task_id(
        &self,
        request: Request<SandboxGetTaskIdRequest>,
    ) -> Reply<SandboxGetTaskIdResponse> {
        self.0.enter("SandboxGetTaskId", request.metadata())?;
        self.task_id(request.into_inner())
    }

    async fn sandbox_wait(
        &self,
        request: Request<SandboxWaitRequest>,
    ) -> Reply<SandboxWaitResponse> {
        self.0.enter("SandboxWait", request.metadata())?;
        self.wait(request.into_inner()).await
    }

    async fn sandbox_list(
        &self,
        request: Request<SandboxListRequest>,
    ) -> Reply<SandboxListResponse> {
        self.0.enter("SandboxList", request.metadata())?;
        Ok(Response::new(self.list(request.into_inner())))
    }

    async fn sandbox_tags_set(&self, request: Request<SandboxTagsSetRequest>) -> Reply<()> {
        self.0.enter("SandboxTagsSet", request.metadata())?;
        self.set_tags(request.into_inner())
    }

    async fn sandbox_tags_get(
        &self,
        request: Request<SandboxTagsGetRequest>,
    ) -> Reply<SandboxTagsGetResponse> {
        self.0.enter("SandboxTagsGet", request.metadata())?;
        self.get_tags(request.into_inner())
    }

    async fn sandbox_get_tunnels(
        &self,
        request: Request<SandboxGetTunnelsRequest>,
    ) -> Reply<SandboxGetTunnelsResponse> {
        self.0.enter("SandboxGetTunnels", request.metadata())?;
        Ok(Response::new(Self::tunnels(
            &*self.sandbox(&request.into_inner().sandbox_id)?,
        )))
    }

    async fn sandbox_terminate(
        &self,
        request: Request<SandboxTerminateRequest>,
    ) -> Reply<SandboxTerminateResponse> {
        self.0.enter("SandboxTerminate", request.metadata())?;
        self.terminate(request.into_inner()).await
    }

    async fn task_get_command_router_access(
        &self,
        request: Request<TaskGetCommandRouterAccessRequest>,
    ) -> Reply<TaskGetCommandRouterAccessResponse> {
        self.0
            .enter("TaskGetCommandRouterAccess", request.metadata())?;
        let url = self.0.router_url(request.metadata());
        let task_id = request.into_inner().task_id;
        let record = self
            .0
            .sandboxes
            .by_task(&task_id)
            .ok_or_else(|| Status::not_found(format!("Task {task_id} not found")))?;
        Ok(Response::new(TaskGetCommandRouterAccessResponse {
            jwt: record.router_jwt.clone(),
            url,
        }))
    }

    async fn sandbox_create_v2(
        &self,
        request: Request<SandboxCreateV2Request>,
    ) -> Reply<SandboxCreateV2Response> {
        self.0.enter_v2("SandboxCreateV2", request.metadata())?;
        let url = self.0.router_url(request.metadata());
        let request = request.into_inner();
        let definition = request.definition.unwrap_or_default();
        let env = create_env(
            &definition,
            request.ephemeral_secrets.as_ref(),
            &request.secret_sources,
        );
        let spec = CreateSpec {
            app_id: request.app_id,
            definition,
            env,
            tags: request.tags,
            v2: true,
        };
        let record = self.create_sandbox(spec).await?;
        Ok(Response::new(SandboxCreateV2Response {
            sandbox_id: record.id.clone(),
            // Left empty like Modal's unencrypted ports: the client asks SandboxGetTunnelsV2.
            tunnels: Vec::new(),
            task_id: record.task_id.clone(),
            metadata: Some(handle_metadata(&record)),
            command_router_access: Some(CommandRouterAccess {
                jwt: record.router_jwt.clone(),
                url,
            }),
            sandbox_token: String::new(),
        }))
    }

    async fn sandbox_get_task_id_v2(
        &self,
        request: Request<SandboxGetTaskIdRequest>,
    ) -> Reply<SandboxGetTaskIdResponse> {
        self.0.enter_v2("SandboxGetTaskIdV2", request.metadata())?;
        self.task_id(request.into_inner())
    }

    async fn sandbox_wait_v2(
        &self,
        request: Request<SandboxWaitRequest>,
    ) -> Reply<SandboxWaitResponse> {
        self.0.enter_v2("SandboxWaitV2", request.metadata())?;
        self.wait(request.into_inner()).await
    }

    async fn sandbox_list_v2(
        &self,
        request: Request<SandboxListRequest>,
    ) -> Reply<SandboxListResponse> {
        self.0.enter_v2("SandboxListV2", request.metadata())?;
        Ok(Response::new(self.list(request.into_inner())))
    }

    async fn sandbox_tags_set_v2(&self, request: Request<SandboxTagsSetRequest>) -> Reply<()> {
        self.0.enter_v2("SandboxTagsSetV2", request.metadata())?;
        self.set_tags(request.into_inner())
    }

    async fn sandbox_tags_get_v2(
        &self,
        request: Request<SandboxTagsGetRequest>,
    ) -> Reply<SandboxTagsGetResponse> {
        self.0.enter_v2("SandboxTagsGetV2", request.metadata())?;
        self.get_tags(request.into_inner())
    }

    async fn sandbox_get_tunnels_v2(
        &self,
        request: Request<SandboxGetTunnelsRequest>,
    ) -> Reply<SandboxGetTunnelsResponse> {
        self.0.enter_v2("SandboxGetTunnelsV2", request.metadata())?;
        Ok(Response::new(Self::tunnels(
            &*self.sandbox(&request.into_inner().sandbox_id)?,
        )))
    }

    async fn sandbox_terminate_v2(
        &self,
        request: Request<SandboxTerminateRequest>,
    ) -> Reply<SandboxTerminateResponse> {
        self.0.enter_v2("SandboxTerminateV2", request.metadata())?;
        self.terminate(request.into_inner()).await
    }

    async fn sandbox_get_command_router_access(
        &self,
        request: Request<SandboxGetCommandRouterAccessRequest>,
    ) -> Reply<SandboxGetCommandRouterAccessResponse> {
        self.0
            .enter_v2("SandboxGetCommandRouterAccess", request.metadata())?;
        let url = self.0.router_url(request.metadata());
        let record = match request.into_inner().target {
            Some(sandbox_get_command_router_access_request::Target::SandboxId(id)) => {
                self.sandbox(&id)?
            }
            Some(sandbox_get_command_router_access_request::Target::TaskId(id)) => self
                .0
                .sandboxes
                .by_task(&id)
                .ok_or_else(|| Status::not_found(format!("Task {id} not found")))?,
            None => return Err(Status::invalid_argument("name a sandbox_id or a task_id")),
        };
        Ok(Response::new(SandboxGetCommandRouterAccessResponse {
            jwt: record.router_jwt.clone(),
            url,
            worker_ipv4_address: "127.0.0.1".into(),
        }))
    }

    async fn volume_get_or_create(
        &self,
        request: Request<VolumeGetOrCreateRequest>,
    ) -> Reply<VolumeGetOrCreateResponse> {
        self.0.enter("VolumeGetOrCreate", request.metadata())?;
        let request = request.into_inner();
        let version = match request.version {
            0 => VolumeFsVersion::V1 as i32,
            v => v,
        };
        let create = creates(request.object_creation_type);
        let (volume_id, _) = self
            .0
            .volumes
            .get_or_create(
                &request.environment_name,
                &request.deployment_name,
                create,
                version,
            )
            .ok_or_else(|| {
                Status::not_found(format!("Volume '{}' not found", request.deployment_name))
            })?;
        let (name, created_at, version) = self
            .0
            .volumes
            .with(&volume_id, |v| (v.name.clone(), v.created_at, v.version))
            .ok_or_else(|| Status::internal("volume vanished"))?;
        let metadata = VolumeMetadata {
            version,
            name,
            creation_info: Some(CreationInfo {
                created_at,
                created_by: "modal-standin".into(),
            }),
        };
        Ok(Response::new(VolumeGetOrCreateResponse {
            volume_id,
            version,
            metadata: Some(metadata),
        }))
    }

    async fn volume_delete(&self, request: Request<VolumeDeleteRequest>) -> Reply<()> {
        self.0.enter("VolumeDelete", request.metadata())?;
        let volume_id = request.into_inner().volume_id;
        if !self.0.volumes.delete(&volume_id) {
            return Err(Status::not_found(format!("Volume {volume_id} not found")));
        }
        Ok(Response::new(()))
    }

    async fn volume_put_files2(
        &self,
        request: Request<VolumePutFiles2Request>,
    ) -> Reply<VolumePutFiles2Response> {
        self.0.enter("VolumePutFiles2", request.metadata())?;
        let request = request.into_inner();
        let mut files = Vec::new();
        for file in request.files {
            let blocks = file
                .blocks
                .iter()
                .map(|b| <[u8; 32]>::try_from(b.contents_sha256.as_slice()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    Status::invalid_argument(format!(
                        "{}: contents_sha256 must be 32 bytes",
                        file.path
                    ))
                })?;
            files.push(NewFile {
                path: file.path,
                size: file.size,
                blocks,
            });
        }
        let volumes = &self.0.volumes;
        match volumes.put(
            &request.volume_id,
            files,
            request.disallow_overwrite_existing_files,
        ) {
            None => Err(Status::not_found(format!(
                "Volume {} not found",
                request.volume_id
            ))),
            Some(PutOutcome::Exists(path)) => {
                Err(Status::already_exists(format!("{path} already exists")))
            }
            Some(PutOutcome::Written) => Ok(Response::new(VolumePutFiles2Response::default())),
            Some(PutOutcome::Missing(missing)) => Ok(Response::new(VolumePutFiles2Response {
                missing_blocks: missing
                    .into_iter()
                    .map(
                        |(file, block, hash)| volume_put_files2_response::MissingBlock {
                            file_index: file as u64,
                            block_index: block as u64,
                            put_url: volumes.put_url(&hash),
                        },
                    )
                    .collect(),
            })),
        }
    }

    async fn volume_get_file2(
        &self,
        request: Request<VolumeGetFile2Request>,
    ) -> Reply<VolumeGetFile2Response> {
        self.0.enter("VolumeGetFile2", request.metadata())?;
        let request = request.into_inner();
        let path = normalize(&request.path);
        let file = self
            .0
            .volumes
            .with(&request.volume_id, |v| v.files.get(&path).cloned())
            .ok_or_else(|| Status::not_found(format!("Volume {} not found", request.volume_id)))?
            .ok_or_else(|| Status::not_found(format!("{} not found", request.path)))?;
        let (start, len, pieces) = block_ranges(file.size, request.start, request.len);
        let mut get_urls = Vec::new();
        for (index, from, to) in pieces {
            let hash = file.blocks.get(index).ok_or_else(|| {
                Status::data_loss(format!("{}: block {index} is missing", request.path))
            })?;
            get_urls.push(self.0.volumes.get_url(hash, from, to));
        }
        Ok(Response::new(VolumeGetFile2Response {
            get_urls,
            size: file.size,
            start,
            len,
        }))
    }

    type VolumeListFiles2Stream = ReplyStream<VolumeListFiles2Response>;

    async fn volume_list_files2(
        &self,
        request: Request<VolumeListFiles2Request>,
    ) -> Reply<Self::VolumeListFiles2Stream> {
        self.0.enter("VolumeListFiles2", request.metadata())?;
        let request = request.into_inner();
        let prefix = normalize(&request.path);
        let entries = self
            .0
            .volumes
            .with(&request.volume_id, |v| {
                crate::listing::entries(&v.files, &prefix, request.recursive)
            })
            .ok_or_else(|| Status::not_found(format!("Volume {} not found", request.volume_id)))?
            .map_err(Status::not_found)?;
        let limit = request.max_entries.map_or(usize::MAX, |m| m as usize);
        let entries: Vec<FileEntry> = entries.into_iter().take(limit).collect();
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tx.try_send(Ok(VolumeListFiles2Response { entries }))
            .expect("room for one");
        Ok(Response::new(stream(rx)))
    }

    async fn volume_remove_file2(&self, request: Request<VolumeRemoveFile2Request>) -> Reply<()> {
        self.0.enter("VolumeRemoveFile2", request.metadata())?;
        let request = request.into_inner();
        let removed = self
            .0
            .volumes
            .remove(&request.volume_id, &request.path, request.recursive)
            .ok_or_else(|| Status::not_found(format!("Volume {} not found", request.volume_id)))?;
        if !removed {
            return Err(Status::not_found(format!("{} not found", request.path)));
        }
        Ok(Response::new(()))
    }
}
