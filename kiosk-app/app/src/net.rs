//! The simulated kiosk's network: a TCP relay between the sync agent and the local backend
//! that the world can cut. Cut, it refuses new connections and drops open ones, as a pulled
//! cable or a dead uplink does.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The switch of a running relay.
#[derive(Clone, Debug)]
pub struct Network {
    up: watch::Sender<bool>,
    addr: SocketAddr,
}

impl Network {
    /// Starts a relay to `target` on a free loopback port.
    pub async fn start(target: SocketAddr) -> std::io::Result<Network> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (up, _) = watch::channel(true);
        let switch = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let mut state = switch.subscribe();
                if !*state.borrow_and_update() {
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = state.wait_for(|up| !*up) => {
                            tracing::debug!("network cut: connection dropped");
                        }
                    }
                });
            }
        });
        Ok(Network { up, addr })
    }

    /// Where the agent connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connects or cuts the network.
    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }

    /// Whether the network is up.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }
}
