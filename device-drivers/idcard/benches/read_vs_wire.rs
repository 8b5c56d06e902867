//! Reads a card through the simulated reader over a PTY and compares the time a read takes with
//! the time its bytes take on the wire (find, select and read, both directions, 8N1). The
//! simulator paces every byte at the baud rate and adds no processing time, so the ratio is what
//! the driver, the PTY and the scheduler add to the wire. Goal: within 1.2× at 115200 baud.
//!
//! `cargo bench -p idcard --bench read_vs_wire [-- READS]`

use device_model::{Device, DeviceState};
use idcard::command::Command;
use idcard::frame::{Frame, Reply};
use idcard::sim::IdCardSimulator;
use idcard::{IdCard, IdCardReader, ReadOptions, ReaderConfig, SerialIdCardReader, Sw3};
use serial_link::wire_time;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const BAUD: u32 = 115_200;

fn main() {
    let reads: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench(reads));
}

async fn bench(reads: usize) {
    let card_json = include_str!("../tests/cards/resident.json");
    let card: IdCard = serde_json::from_str(card_json).expect("sample card");
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join("idcard");
    let sim = IdCardSimulator::start(&link, BAUD).expect("simulator");
    sim.insert(&card).expect("card");
    let reader = SerialIdCardReader::open(ReaderConfig::new(&link)).expect("driver");
    let mut status = reader.status();
    status
        .wait_for(|s| s.device == DeviceState::Online)
        .await
        .expect("reader online");

    let wire = read_wire_time(&card);
    let mut times = Vec::with_capacity(reads);
    for i in 0..reads + 2 {
        let start = Instant::now();
        let read = reader
            .read_card(ReadOptions::default(), CancellationToken::new())
            .await
            .expect("read");
        let elapsed = start.elapsed();
        assert!(read == card);
        // The first two reads warm up caches and the scheduler.
        if i >= 2 {
            times.push(elapsed);
        }
    }
    times.sort_unstable();
    let median = times[times.len() / 2];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("idcard read through the simulator at {BAUD} baud, {reads} reads");
    println!(
        "  wire time (find + select + read, both ways): {:.1} ms",
        ms(wire)
    );
    println!(
        "  read time: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
    println!(
        "  ratio read/wire: median {:.3}x, max {:.3}x (goal <= 1.2x)",
        ms(median) / ms(wire),
        ms(times[times.len() - 1]) / ms(wire)
    );
}

/// Wire time of every byte one card read puts on the line.
fn read_wire_time(card: &IdCard) -> Duration {
    let requests: usize = [
        Command::FindCard,
        Command::SelectCard,
        Command::ReadTextPhoto,
    ]
    .iter()
    .map(|c| c.encode().len())
    .sum();
    let reply = |data_len: usize| Reply::new(Sw3::Success, vec![0; data_len]).encode().len();
    let read_data = 4 + 256 + card.photo_wlt.len();
    let replies = reply(4) + reply(8) + reply(read_data);
    wire_time(requests + replies, BAUD)
}
