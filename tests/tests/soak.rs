//! The soak: N signed deliveries to each receiver (the `receivers` fixture) from C keep-alive
//! connections at once. `#[ignore]`d (minutes); `cargo xtask soak [--deliveries N]
//! [--concurrency C]` runs it with `SOAK_DELIVERIES` and `SOAK_CONCURRENCY` set.
//!
//! Reports, per receiver: answers other than `200`, transport errors, lines printed (one per
//! accepted delivery is expected), deliveries per second, and the receiver's memory (`VmRSS`, and
//! the peak `VmHWM`) at the start, after 10% and after 100% of the deliveries. Fails if any
//! delivery was not answered `200` or not printed exactly once.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http1_wire::{ResponseReader, read_final_response};
use std::io::Write;

use conformance::fixture::{
    FRAMEWORKS, Memory, Processes, Running, fresh_secret, head, memory, person_delivery,
};

#[test]
#[ignore = "minutes: run by `cargo xtask soak`"]
fn soak() {
    let setting = |name: &str, default: u64| {
        std::env::var(name).map_or(default, |value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name} is not a whole number: {value:?}"))
        })
    };
    let deliveries = setting("SOAK_DELIVERIES", 10_000).max(1);
    let concurrency = setting("SOAK_CONCURRENCY", 64).clamp(1, deliveries);
    assert_eq!(soak_all(deliveries, concurrency), Ok(true));
}

fn soak_all(deliveries: u64, concurrency: u64) -> Result<bool, String> {
    let processes = Processes::new(env!("CARGO_BIN_EXE_receivers"));
    let secret = fresh_secret();
    let mut all_ok = true;
    println!("{deliveries} signed deliveries per receiver, {concurrency} connections at once");
    for framework in FRAMEWORKS {
        let receiver = processes.receiver(framework, &secret, &[])?;
        let ok = soak_one(framework, &receiver, &secret, deliveries, concurrency)?;
        all_ok &= ok;
        processes.stop_all();
    }
    Ok(all_ok)
}

fn soak_one(
    framework: &str,
    receiver: &Running,
    secret: &str,
    deliveries: u64,
    concurrency: u64,
) -> Result<bool, String> {
    let start = memory(receiver.pid)?;
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let not_ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, done, not_ok, errors) = (
                Arc::clone(&next),
                Arc::clone(&done),
                Arc::clone(&not_ok),
                Arc::clone(&errors),
            );
            let (address, secret) = (receiver.address, secret.to_owned());
            std::thread::spawn(move || {
                let mut connection: Option<(TcpStream, ResponseReader)> = None;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= deliveries {
                        break;
                    }
                    match send(&mut connection, address, &secret, n) {
                        Ok(200) => {}
                        Ok(_) => {
                            not_ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            connection = None;
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let mut printed = 0u64;
    let mut at_tenth: Option<Memory> = None;
    let tenth = (deliveries / 10).max(1);
    loop {
        while receiver.lines.try_recv().is_ok() {
            printed += 1;
        }
        if at_tenth.is_none() && done.load(Ordering::Relaxed) >= tenth {
            at_tenth = Some(memory(receiver.pid)?);
        }
        if workers.iter().all(std::thread::JoinHandle::is_finished) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();
    for worker in workers {
        worker
            .join()
            .map_err(|_| "a soak connection panicked".to_owned())?;
    }
    // The last lines may still be on their way from the receiver's stdout.
    while let Ok(_line) = receiver.lines.recv_timeout(Duration::from_secs(2)) {
        printed += 1;
        if printed >= deliveries {
            break;
        }
    }
    let end = memory(receiver.pid)?;
    let at_tenth = at_tenth.unwrap_or(end);
    let (not_ok, errors) = (
        not_ok.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
    );
    let ok = not_ok == 0 && errors == 0 && printed == deliveries;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{framework:<7} non-200 {not_ok}, errors {errors}, printed {printed}/{deliveries}, \
         {:.0} deliveries/s; RSS MiB start {:.1} / 10% {:.1} / 100% {:.1}; \
         peak (VmHWM) MiB {:.1} / {:.1} / {:.1}{}",
        deliveries as f64 / took.as_secs_f64(),
        mib(start.rss),
        mib(at_tenth.rss),
        mib(end.rss),
        mib(start.hwm),
        mib(at_tenth.hwm),
        mib(end.hwm),
        if ok { "" } else { "  WRONG" }
    );
    Ok(ok)
}

/// Sends delivery `n` on the worker's keep-alive connection (opening one if needed) and returns
/// the status.
fn send(
    connection: &mut Option<(TcpStream, ResponseReader)>,
    address: SocketAddr,
    secret: &str,
    n: u64,
) -> std::io::Result<u16> {
    if connection.is_none() {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        *connection = Some((stream, ResponseReader::new()));
    }
    let Some((stream, reader)) = connection.as_mut() else {
        return Err(std::io::Error::other("no connection"));
    };
    let request = person_delivery(secret, n);
    let mut bytes = head(&request, &[]);
    bytes.extend_from_slice(&request.body);
    stream.write_all(&bytes)?;
    let response = read_final_response(stream, reader)?;
    if response
        .header("connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    {
        *connection = None;
    }
    Ok(response.status)
}
