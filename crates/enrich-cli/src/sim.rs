//! `enrich sim`: the local fake of the API, until Ctrl-C, printing each delivery attempt.

use std::net::SocketAddr;

use enrich_sim::{DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, Sim, SimConfig};
use tokio::sync::broadcast::error::RecvError;

use crate::cli::SimArgs;
use crate::error::Error;

/// Runs the fake until Ctrl-C.
pub async fn run(args: SimArgs) -> Result<(), Error> {
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
        .map_err(Error::io(format!("cannot listen on {address}")))?;
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
                Ok(attempt) => println!("{}", crate::text::clean(&attempt.to_string())),
                Err(RecvError::Lagged(missed)) => eprintln!("({missed} attempts not shown)"),
                Err(RecvError::Closed) => break,
            },
            stop = tokio::signal::ctrl_c() => {
                stop.map_err(Error::io("cannot wait for Ctrl-C"))?;
                break;
            }
        }
    }
    sim.shutdown().await;
    Ok(())
}
