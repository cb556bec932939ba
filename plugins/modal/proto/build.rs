//! Compiles the project's own Modal `.proto` files with protox (pure Rust), so building needs
//! no `protoc` on the machine.

use std::path::Path;

const PROTO_ROOT: &str = "proto";
const PROTO_FILES: [&str; 2] = ["modal/client.proto", "modal/task_command_router.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for file in PROTO_FILES {
        println!(
            "cargo:rerun-if-changed={}",
            Path::new(PROTO_ROOT).join(file).display()
        );
    }
    let descriptors = protox::compile(PROTO_FILES, [PROTO_ROOT])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
