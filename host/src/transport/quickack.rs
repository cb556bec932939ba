//! A TCP stream that acknowledges every segment at once (Linux `TCP_QUICKACK`).
//!
//! OpenSSH's sshd leaves Nagle's algorithm on for sessions without a terminal, so when it
//! writes two packets back to back (after authentication, and when a channel opens) the second
//! waits for the client's ACK of the first. With the kernel's delayed ACKs that wait is about
//! 40 ms, several times per mngr command. Quick ACKs remove the stall from the client side,
//! whatever sshd runs on the host. The kernel clears the flag as it goes, so it is set again
//! after every read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub struct QuickAckStream {
    inner: TcpStream,
}

impl QuickAckStream {
    pub fn new(inner: TcpStream) -> QuickAckStream {
        let stream = QuickAckStream { inner };
        stream.quick_ack();
        stream
    }

    #[cfg(target_os = "linux")]
    fn quick_ack(&self) {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket fd and a pointer to an int that outlives the call. A failure
        // only means slower ACKs, so the result is ignored.
        unsafe {
            libc::setsockopt(
                self.inner.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                &on as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn quick_ack(&self) {}
}

impl AsyncRead for QuickAckStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if polled.is_ready() {
            self.quick_ack();
        }
        polled
    }
}

impl AsyncWrite for QuickAckStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
