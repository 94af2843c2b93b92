//! Shared scaffolding for the tokio peers: `PROGRAM PORT [THREADS]`, a
//! current_thread runtime for THREADS=1 (multi-thread with THREADS workers
//! otherwise), a listener on 127.0.0.1:PORT, a `listening` line on stdout,
//! one task per connection, and a clean exit on SIGINT/SIGTERM.
use std::future::Future;
use std::io;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

pub fn serve<F, Fut>(handler: F)
where
    F: Fn(TcpStream) -> Fut + Send + Copy + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        eprintln!("usage: {} PORT [THREADS]", args[0]);
        std::process::exit(2)
    });
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    }
    .expect("runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        // Background jobs of a script start with SIGINT ignored; registering
        // handlers here makes `kill -INT` work regardless.
        let mut int = signal(SignalKind::interrupt()).expect("signal");
        let mut term = signal(SignalKind::terminate()).expect("signal");
        println!("listening on 127.0.0.1:{port}");
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(handler(stream));
                    }
                    Err(e) => eprintln!("accept: {e}"),
                }
            }
        });
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    });
}
