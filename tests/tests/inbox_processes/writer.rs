//! Storing under faults from the network: HTTP senders that close their connection at random
//! points mid-request, against the receivers fixture storing into the inbox.

use std::time::Duration;

use crate::on_both_engines;
use crate::receiver::Receiver;
use crate::support::{person_body, signed_request, stored_people};

on_both_engines! {
    async fn http_senders_that_disconnect_mid_request_lose_no_acknowledged_delivery(db) {
        // The receivers fixture (axum) storing into this inbox, its worker off.
        let mut receiver = Receiver::start("axum", &db.url, &["--worker", "off"]).await;
        let addr = receiver.addr;

        // Bursts of 64 senders, half of which close their connection 0–3 ms after sending.
        let mut answered_ok = Vec::new();
        let mut other_answers = Vec::new();
        for burst in 0..6 {
            let mut senders = tokio::task::JoinSet::new();
            for sender in 0..64 {
                let person = format!("http-{burst}-{sender}");
                let give_up = fastrand::bool().then(|| Duration::from_micros(fastrand::u64(0..3000)));
                senders.spawn(async move {
                    // A bound for a hung server, not a speed assertion: `None` fails below.
                    let status = tokio::time::timeout(Duration::from_secs(30), send_person(addr, &person, give_up))
                        .await
                        .unwrap_or(None);
                    (person, give_up.is_some(), status)
                });
            }
            for (person, gave_up, status) in senders.join_all().await {
                match (gave_up, status) {
                    (_, Some(200)) => answered_ok.push(person),
                    (true, None) => {}
                    (_, status) => other_answers.push((person, status)),
                }
            }
        }
        // Every sender that waited was answered 200: nothing was wedged or interrupted.
        assert!(other_answers.is_empty(), "{} senders that waited were not answered 200: {:?}", other_answers.len(), &other_answers[..other_answers.len().min(5)]);
        assert!(send_person(addr, "after-the-bursts", None).await == Some(200));
        answered_ok.push("after-the-bursts".to_owned());
        receiver.kill();

        let stored = stored_people(&db.url).await;
        let lost: Vec<_> = answered_ok.iter().filter(|person| !stored.contains(*person)).collect();
        assert!(lost.is_empty(), "{} of {} deliveries answered 200 lost: {:?}", lost.len(), answered_ok.len(), &lost[..lost.len().min(5)]);
        // On Postgres the stores went through the store group: they shared commits.
        if let Some((commits, rows)) = db.commits_and_rows().await {
            assert!(commits < rows, "{rows} rows in {commits} commits: no store shared a commit");
        }
    }
}

/// A whole signed request for `/webhook` carrying `body`, as bytes on the wire.
fn raw_request(body: &str) -> Vec<u8> {
    let signed = signed_request(body);
    let mut request = b"POST /webhook HTTP/1.1\r\nhost: localhost\r\n".to_vec();
    for (name, value) in &signed.header_pairs {
        if name != "content-length" {
            request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
    }
    request.extend_from_slice(format!("content-length: {}\r\n\r\n", signed.body.len()).as_bytes());
    request.extend_from_slice(&signed.body);
    request
}

/// Sends `person`'s delivery on a connection of its own. With `give_up_after`, closes the
/// connection that long after sending (a sender timing out); else reads the answer. `Some(status)`
/// when an answer was read.
async fn send_person(
    addr: std::net::SocketAddr,
    person: &str,
    give_up_after: Option<Duration>,
) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut connection = tokio::net::TcpStream::connect(addr).await.ok()?;
    connection
        .write_all(&raw_request(&person_body("batch", person)))
        .await
        .ok()?;
    if let Some(after) = give_up_after {
        tokio::time::sleep(after).await;
        return None; // Dropped: the connection closes mid-request.
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = connection.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        answer.extend_from_slice(&buffer[..read]);
    }
    let status = std::str::from_utf8(&answer).ok()?.split(' ').nth(1)?;
    status.parse().ok()
}
