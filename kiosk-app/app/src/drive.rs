//! Driving the kiosk from outside: JSON lines holding an intent (`{"intent": …}`, what a finger
//! does) or a world event (`{"world": …}`, what the simulated hardware and backend do), from
//! the headless driver's standard input or the world-control socket (`kioskctl sim control`).
//! `docs/headless-protocol.md` documents both.

use crate::runtime::Input;
use crate::world::{World, WorldEvent};
use session::Intent;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::mpsc::UnboundedSender;

/// Carries out one line.
pub fn dispatch(
    line: &str,
    inputs: &UnboundedSender<Input>,
    world: Option<&World>,
) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("intent").is_some() {
        let intent: Intent = serde_json::from_value(value).map_err(|e| format!("intent: {e}"))?;
        inputs
            .send(Input::Intent(intent))
            .map_err(|_| "the kiosk has stopped".to_owned())
    } else if value.get("world").is_some() {
        let event: WorldEvent =
            serde_json::from_value(value).map_err(|e| format!("world event: {e}"))?;
        world.ok_or("world events need --simulate")?.apply(event)
    } else {
        Err("a line holds an \"intent\" or a \"world\" event".into())
    }
}

/// Serves the control socket at `path`: each line in gets one line back, `{"ok": true}` or
/// `{"error": "…"}`.
pub fn serve_control(
    path: &Path,
    inputs: UnboundedSender<Input>,
    world: Option<Arc<World>>,
) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(path)?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (inputs, world) = (inputs.clone(), world.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let reply = match dispatch(&line, &inputs, world.as_deref()) {
                        Ok(()) => serde_json::json!({ "ok": true }),
                        Err(e) => serde_json::json!({ "error": e }),
                    };
                    if write
                        .write_all(format!("{reply}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok(())
}

/// Reads lines from standard input until it closes, reporting bad ones on standard error.
pub async fn read_stdin(inputs: UnboundedSender<Input>, world: Option<Arc<World>>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = dispatch(&line, &inputs, world.as_deref()) {
            eprintln!("{}", serde_json::json!({ "error": e, "line": line }));
        }
    }
}
