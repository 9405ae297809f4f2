//! `cargo xtask soak [--deliveries N] [--concurrency C]`: N signed deliveries to each example
//! receiver from C keep-alive connections at once.
//!
//! Reports, per receiver: answers other than `200`, transport errors, lines printed (one per
//! accepted delivery is expected), deliveries per second, and the receiver's memory (`VmRSS`, and
//! the peak `VmHWM`) at the start, after 10% and after 100% of the deliveries. Exits non-zero if
//! any delivery was not answered `200` or not printed exactly once.

use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http1_wire::{ResponseReader, read_final_response};
use std::io::Write;

use crate::attack::{Memory, head, memory, person_delivery};
use crate::demo::{Children, RECEIVERS, Running, build_examples, fresh_secret};

const USAGE: &str = "usage: cargo xtask soak [--deliveries N] [--concurrency C]";

/// The `soak` command.
pub fn run(args: &[String]) -> ExitCode {
    let (deliveries, concurrency) = match parse(args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match soak_all(deliveries, concurrency) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("soak failed: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<(u64, u64), String> {
    let (mut deliveries, mut concurrency) = (10_000, 64);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a number"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| format!("{flag} {value}: not a number"))?;
        match flag.as_str() {
            "--deliveries" => deliveries = number,
            "--concurrency" => concurrency = number,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if deliveries == 0 || concurrency == 0 {
        return Err("--deliveries and --concurrency must be at least 1".to_owned());
    }
    Ok((deliveries, concurrency.min(deliveries)))
}

fn soak_all(deliveries: u64, concurrency: u64) -> Result<bool, String> {
    build_examples()?;
    let children = Children::default();
    let secret = fresh_secret();
    let mut all_ok = true;
    println!("{deliveries} signed deliveries per receiver, {concurrency} connections at once");
    for (framework, _, example) in RECEIVERS {
        let receiver = children.start_with(example, &secret, &[("RUST_LOG", "warn".to_owned())])?;
        let ok = soak_one(framework, &receiver, &secret, deliveries, concurrency)?;
        all_ok &= ok;
        children.stop_all();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        let args = |list: &[&str]| list.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
        assert_eq!(parse(&[]).unwrap(), (10_000, 64));
        assert_eq!(
            parse(&args(&["--deliveries", "100000", "--concurrency", "8"])).unwrap(),
            (100_000, 8)
        );
        assert_eq!(parse(&args(&["--deliveries", "3"])).unwrap(), (3, 3));
        assert!(parse(&args(&["--deliveries"])).is_err());
        assert!(parse(&args(&["--concurrency", "0"])).is_err());
        assert!(parse(&args(&["--speed", "1"])).is_err());
    }
}
