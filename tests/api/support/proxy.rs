//! A TCP proxy the tests can cut and restore, to make PostgreSQL or Redis "go down" while the app
//! runs and come back on the same address.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    cut: Arc<Notify>,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let mut p = Proxy { addr, upstream, cut: Arc::new(Notify::new()), task: None };
        p.task = Some(p.serve(listener));
        p
    }

    fn serve(&self, listener: TcpListener) -> JoinHandle<()> {
        let upstream = self.upstream;
        let cut = self.cut.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                let cut = cut.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.notified() => {}
                    }
                });
            }
        })
    }

    /// Refuses new connections and cuts the open ones.
    pub async fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        self.cut.notify_waiters();
    }

    /// Accepts connections again on the same address.
    pub async fn up(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind proxy");
        self.task = Some(self.serve(listener));
    }
}
