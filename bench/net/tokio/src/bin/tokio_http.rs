//! tokio HTTP/1.1 keep-alive hello world: `tokio_http PORT [THREADS]`.
//! Hand-parsed: every request is whatever precedes a "\r\n\r\n" (no request
//! bodies); each gets `200 OK` with the 13-byte body "Hello, World!".
//! Pipelined requests are answered in one write; "Connection: close" closes.
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
const MAX_HEADER: usize = 64 * 1024;

fn find_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn wants_close(head: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"connection: close";
    head.windows(NEEDLE.len()).any(|w| w.eq_ignore_ascii_case(NEEDLE))
}

fn main() {
    weft_net_peers::serve(|mut stream| async move {
        let mut buf = vec![0u8; 4096];
        let mut len = 0;
        let mut out = Vec::with_capacity(4096);
        loop {
            if len == buf.len() {
                if buf.len() >= MAX_HEADER {
                    return Ok(()); // header too large: drop the connection
                }
                buf.resize(buf.len() * 2, 0);
            }
            let n = stream.read(&mut buf[len..]).await?;
            if n == 0 {
                return Ok(());
            }
            len += n;
            let mut start = 0;
            let mut close = false;
            while let Some(end) = find_end(&buf[start..len]) {
                out.extend_from_slice(RESPONSE);
                close = wants_close(&buf[start..start + end]);
                start += end;
                if close {
                    break;
                }
            }
            buf.copy_within(start..len, 0);
            len -= start;
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
            if close {
                return Ok(());
            }
        }
    });
}
