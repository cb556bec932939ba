//! The command-router service `modal.task_command_router.TaskCommandRouter`: exec and
//! filesystem snapshots of one task, authorised by the JWT handed out with router access.

use crate::exec::{ExecRecord, ExecSpec, ExitStatus, OutputSoFar};
use crate::sandboxes::SandboxRecord;
use crate::standin::Standin;
use mngr_modal_proto::client::{SecretSource, secret_source};
use mngr_modal_proto::task_command_router::task_command_router_server::TaskCommandRouter;
use mngr_modal_proto::task_command_router::*;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

type Reply<T> = Result<Response<T>, Status>;

/// How long one `TaskExecWait` holds before the client asks again (its deadline is 60 s).
const WAIT_HOLD: Duration = Duration::from_secs(50);

pub struct Router(pub Arc<Standin>);

impl Router {
    /// The task the call is for, once its bearer JWT proves access to it.
    fn task<T>(
        &self,
        rpc: &str,
        request: &Request<T>,
        task_id: &str,
    ) -> Result<Arc<SandboxRecord>, Status> {
        self.0.faults.check(rpc)?;
        let jwt = crate::auth::bearer(request.metadata())?;
        let record = self
            .0
            .sandboxes
            .by_task(task_id)
            .ok_or_else(|| Status::not_found(format!("Task {task_id} not found")))?;
        if record.router_jwt != jwt {
            return Err(Status::unauthenticated(
                "the router JWT is not for this task",
            ));
        }
        if record.finished().is_some() {
            return Err(Status::failed_precondition(format!(
                "Task {task_id} has finished"
            )));
        }
        Ok(record)
    }

    fn exec(record: &SandboxRecord, exec_id: &str) -> Result<Arc<ExecRecord>, Status> {
        record
            .execs
            .get(exec_id)
            .ok_or_else(|| Status::not_found(format!("Exec {exec_id} not found")))
    }
}

fn exec_env(
    env: &std::collections::HashMap<String, String>,
    sources: &[SecretSource],
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for source in sources {
        if let Some(secret_source::Source::Env(map)) = &source.source {
            all.extend(map.contents.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    all
}

#[tonic::async_trait]
impl TaskCommandRouter for Router {
    async fn task_exec_start(
        &self,
        request: Request<TaskExecStartRequest>,
    ) -> Reply<TaskExecStartResponse> {
        let record = self.task("TaskExecStart", &request, &request.get_ref().task_id)?;
        let request = request.into_inner();
        if request.command_args.is_empty() {
            return Err(Status::invalid_argument("command_args is empty"));
        }
        let spec = ExecSpec {
            env: exec_env(&request.env, &request.secret_sources),
            args: request.command_args,
            workdir: request.workdir,
            timeout: request
                .timeout_secs
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s.into())),
            pipe_stdout: request.stdout_config == TaskExecStdoutConfig::Pipe as i32,
            pipe_stderr: request.stderr_config == TaskExecStderrConfig::Pipe as i32,
        };
        record
            .execs
            .start(&record.container, &request.exec_id, spec)
            .map_err(Status::internal)?;
        Ok(Response::new(TaskExecStartResponse {}))
    }

    type TaskExecStdioReadStream =
        Pin<Box<dyn Stream<Item = Result<TaskExecStdioReadResponse, Status>> + Send>>;

    async fn task_exec_stdio_read(
        &self,
        request: Request<TaskExecStdioReadRequest>,
    ) -> Reply<Self::TaskExecStdioReadStream> {
        let record = self.task("TaskExecStdioRead", &request, &request.get_ref().task_id)?;
        let request = request.into_inner();
        let exec = Self::exec(&record, &request.exec_id)?;
        let output = if request.file_descriptor == TaskExecStdioFileDescriptor::Stderr as i32 {
            &exec.stderr
        } else {
            &exec.stdout
        };
        let mut output = output.subscribe();
        let mut offset = usize::try_from(request.offset).unwrap_or(usize::MAX);
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            loop {
                let (fresh, closed) = {
                    let now: &OutputSoFar = &output.borrow_and_update();
                    (
                        now.data.get(offset..).unwrap_or_default().to_vec(),
                        now.closed,
                    )
                };
                // Never an empty message: the client treats one as an error.
                if !fresh.is_empty() {
                    offset += fresh.len();
                    if tx
                        .send(Ok(TaskExecStdioReadResponse { data: fresh }))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                if closed || output.changed().await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn task_exec_stdin_write(
        &self,
        request: Request<TaskExecStdinWriteRequest>,
    ) -> Reply<TaskExecStdinWriteResponse> {
        let record = self.task("TaskExecStdinWrite", &request, &request.get_ref().task_id)?;
        let request = request.into_inner();
        let exec = Self::exec(&record, &request.exec_id)?;
        exec.write_stdin(request.offset, &request.data, request.eof)
            .await
            .map_err(Status::failed_precondition)?;
        Ok(Response::new(TaskExecStdinWriteResponse {}))
    }

    async fn task_exec_wait(
        &self,
        request: Request<TaskExecWaitRequest>,
    ) -> Reply<TaskExecWaitResponse> {
        let record = self.task("TaskExecWait", &request, &request.get_ref().task_id)?;
        let exec = Self::exec(&record, &request.get_ref().exec_id)?;
        let mut exit = exec.exit.subscribe();
        let ended = tokio::time::timeout(WAIT_HOLD, exit.wait_for(Option::is_some)).await;
        match ended.ok().and_then(|r| r.ok()).and_then(|r| *r) {
            Some(status) => Ok(Response::new(TaskExecWaitResponse {
                exit_status: Some(wait_status(status)),
            })),
            None => Err(Status::deadline_exceeded(
                "the command is still running; wait again",
            )),
        }
    }

    async fn task_exec_poll(
        &self,
        request: Request<TaskExecPollRequest>,
    ) -> Reply<TaskExecPollResponse> {
        let record = self.task("TaskExecPoll", &request, &request.get_ref().task_id)?;
        let exec = Self::exec(&record, &request.get_ref().exec_id)?;
        let exit_status = (*exec.exit.borrow()).map(|status| match status {
            ExitStatus::Code(code) => task_exec_poll_response::ExitStatus::Code(code),
            ExitStatus::Signal(signal) => task_exec_poll_response::ExitStatus::Signal(signal),
        });
        Ok(Response::new(TaskExecPollResponse { exit_status }))
    }

    async fn task_snapshot_filesystem(
        &self,
        request: Request<TaskSnapshotFilesystemRequest>,
    ) -> Reply<TaskSnapshotFilesystemResponse> {
        let record = self.task(
            "TaskSnapshotFilesystem",
            &request,
            &request.get_ref().task_id,
        )?;
        let image_id = crate::snapshots::snapshot(&self.0, &record, &request.get_ref().snapshot_id)
            .await
            .map_err(Status::internal)?;
        Ok(Response::new(TaskSnapshotFilesystemResponse { image_id }))
    }
}

fn wait_status(status: ExitStatus) -> task_exec_wait_response::ExitStatus {
    match status {
        ExitStatus::Code(code) => task_exec_wait_response::ExitStatus::Code(code),
        ExitStatus::Signal(signal) => task_exec_wait_response::ExitStatus::Signal(signal),
    }
}
