//! The Modal plugin's own tests against the stand-in, as one binary (tests are `module::name`).

mod common;
mod exec_timeout;
mod volume_blocks;
