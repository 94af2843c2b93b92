//! tokio TCP echo server: `tokio_echo PORT [THREADS]`. Per connection: read
//! what is there, write all of it back, repeat until EOF.
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    weft_net_peers::serve(|mut stream| async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            stream.write_all(&buf[..n]).await?;
        }
    });
}
