//! `enrich sim`: the local fake of the API, until Ctrl-C, printing each delivery attempt.

use std::net::SocketAddr;
use std::time::Duration;

use enrich_sim::{DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, Sim, SimConfig};
use tokio::sync::broadcast::error::RecvError;

use crate::cli::SimArgs;

/// Runs the fake until Ctrl-C.
pub async fn run(args: SimArgs) -> Result<(), String> {
    let config = SimConfig::default()
        .api_key(&args.api_key)
        .webhook_secret(&args.secret)
        .seed(args.seed)
        .retry_schedule(args.retry_schedule.clone())
        .delivery_timeout(args.delivery_timeout)
        .duplicate_rate(args.duplicate_rate)
        .drop_rate(args.drop_rate)
        .item_delay(args.item_delay);
    let address = SocketAddr::from(([127, 0, 0, 1], args.port));
    let sim = Sim::bind(config, address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}"))?;
    let shown = |value: &str, default: &str| {
        if value == default {
            format!("{value} (the default)")
        } else {
            "as given".to_owned()
        }
    };
    eprintln!("fake API listening on {}", sim.url());
    eprintln!(
        "  API key:        {}",
        shown(&args.api_key, DEFAULT_API_KEY)
    );
    eprintln!(
        "  webhook secret: {}",
        shown(&args.secret, DEFAULT_WEBHOOK_SECRET)
    );
    eprintln!(
        "  retries after:  {}",
        args.retry_schedule
            .iter()
            .map(|wait| format!("{wait:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "  duplicates {:.0}%, drops {:.0}%, seed {}",
        args.duplicate_rate * 100.0,
        args.drop_rate * 100.0,
        args.seed
    );
    eprintln!(
        "try: enrich people start people.csv --api {} --webhook-url http://127.0.0.1:3000/webhook",
        sim.url()
    );
    eprintln!("stop with Ctrl-C");
    let mut attempts = sim.subscribe();
    loop {
        tokio::select! {
            attempt = attempts.recv() => match attempt {
                Ok(attempt) => println!("{}", crate::output::clean(&attempt.to_string())),
                Err(RecvError::Lagged(missed)) => eprintln!("({missed} attempts not shown)"),
                Err(RecvError::Closed) => break,
            },
            stop = tokio::signal::ctrl_c() => {
                stop.map_err(|error| format!("cannot wait for Ctrl-C: {error}"))?;
                break;
            }
        }
    }
    sim.shutdown().await;
    Ok(())
}

/// Reads `500ms`, `5s`, `2m`, `3h`, `7d` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(split) => text.split_at(split),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 5s, 2m, 3h or 7d"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(number.saturating_mul(3600))),
        "d" => Ok(Duration::from_secs(number.saturating_mul(86_400))),
        _ => Err(format!(
            "{text:?} is not a duration such as 500ms, 5s, 2m, 3h or 7d"
        )),
    }
}

/// Reads a share between 0 and 1.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|rate| (0.0..=1.0).contains(rate))
        .ok_or_else(|| format!("{text:?} is not a share between 0 and 1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("3h"), Ok(Duration::from_secs(3 * 3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["", "s", "5w", "-1s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_rate("0.25"), Ok(0.25));
        for bad in ["-0.1", "1.5", "NaN", "x"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }
}
