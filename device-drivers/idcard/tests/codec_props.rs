//! Properties of the frame codec: round trip in any chunking, garbage skipped, corruption caught,
//! and no panic on any input.

use idcard::frame::{Decoded, Decoder, Frame, HEADER_LEN, MAX_REPLY_LEN, PREAMBLE, Reply, Request};
use proptest::prelude::*;

fn reply_strategy() -> impl Strategy<Value = Reply> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..2310),
    )
        .prop_map(|(sw1, sw2, sw3, data)| Reply {
            sw1,
            sw2,
            sw3,
            data,
        })
}

/// Splits `bytes` at the given cut points.
fn chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        out.push(bytes[at..p].to_vec());
        at = p;
    }
    out
}

fn feed<F: Frame>(pieces: &[Vec<u8>]) -> Vec<Decoded<F>> {
    let mut dec = Decoder::<F>::new();
    let mut out = Vec::new();
    for p in pieces {
        dec.push(p);
        out.extend(std::iter::from_fn(|| dec.decode()));
    }
    out
}

fn frames<F>(events: Vec<Decoded<F>>) -> Vec<F> {
    events
        .into_iter()
        .filter_map(|e| match e {
            Decoded::Frame(f) => Some(f),
            _ => None,
        })
        .collect()
}

proptest! {
    #[test]
    fn replies_round_trip_in_any_chunking(
        replies in prop::collection::vec(reply_strategy(), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let wire: Vec<u8> = replies.iter().flat_map(|r| r.encode()).collect();
        let events = feed::<Reply>(&chunks(&wire, &cuts));
        prop_assert_eq!(events.len(), replies.len(), "nothing but the frames");
        prop_assert_eq!(frames(events), replies);
    }

    #[test]
    fn requests_round_trip_in_any_chunking(
        cmd in any::<u8>(), para in any::<u8>(), data in prop::collection::vec(any::<u8>(), 0..60),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let request = Request { cmd, para, data };
        let events = feed::<Request>(&chunks(&request.encode(), &cuts));
        prop_assert_eq!(events, vec![Decoded::Frame(request)]);
    }

    #[test]
    fn garbage_before_a_frame_is_skipped_and_counted(
        garbage in prop::collection::vec(any::<u8>(), 0..300)
            .prop_filter("no whole preamble", |g| !g.windows(5).any(|w| w == PREAMBLE)),
        reply in reply_strategy(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let wire = [garbage.clone(), reply.encode()].concat();
        let events = feed::<Reply>(&chunks(&wire, &cuts));
        let skipped: usize = events.iter().map(|e| match e { Decoded::Skipped(n) => *n, _ => 0 }).sum();
        prop_assert_eq!(skipped, garbage.len());
        prop_assert_eq!(frames(events), vec![reply]);
    }

    #[test]
    fn a_flipped_bit_after_the_length_is_always_caught(
        reply in reply_strategy(),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut wire = reply.encode();
        let i = HEADER_LEN + position.index(wire.len() - HEADER_LEN);
        wire[i] ^= 1 << bit;
        let events = feed::<Reply>(&[wire]);
        prop_assert!(matches!(events[0], Decoded::BadChecksum { .. }), "{:?}", events);
        prop_assert!(frames(events).is_empty());
    }

    #[test]
    fn any_bytes_in_any_chunking_never_panic_and_memory_stays_bounded(
        // Biased towards preamble and length bytes, so false frame starts are common.
        bytes in prop::collection::vec(any::<u8>(), 0..5000).prop_map(|v| v.into_iter().map(|b| match b % 8 {
            0 | 1 => 0xAA, 2 => 0x96, 3 => 0x69, 4 => 0x00, _ => b }).collect::<Vec<u8>>()),
        cuts in prop::collection::vec(any::<usize>(), 0..50),
    ) {
        let mut dec = Decoder::<Reply>::new();
        for piece in chunks(&bytes, &cuts) {
            dec.push(&piece);
            while dec.decode().is_some() {}
            prop_assert!(dec.buffered() < HEADER_LEN + usize::from(MAX_REPLY_LEN));
        }
    }
}

#[test]
fn a_frame_torn_by_a_resync_is_followed_by_the_next_good_one() {
    // A reply cut off mid-way (reader unplugged), then whole ones: once the torn frame's promised
    // length has arrived and its checksum fails, the decoder rescans and finds every whole frame.
    let good = Reply {
        sw1: 0,
        sw2: 0,
        sw3: 0x90,
        data: vec![1, 2, 3],
    };
    let torn = Reply {
        sw1: 0,
        sw2: 0,
        sw3: 0x90,
        data: vec![7; 40],
    }
    .encode();
    let mut wire = torn[..20].to_vec();
    for _ in 0..5 {
        wire.extend(good.encode());
    }
    let events = feed::<Reply>(&[wire]);
    assert!(
        matches!(events[0], Decoded::BadChecksum { .. }),
        "{events:?}"
    );
    assert_eq!(frames(events), vec![good; 5]);
}
