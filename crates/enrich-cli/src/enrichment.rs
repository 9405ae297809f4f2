//! `enrich people …` and `enrich companies …`: start, get and wait, printed as tables or JSON.

use std::time::Duration;

use enrich_client::{Client, ClientBuilder, PollConfig};
use enrich_types::{
    EnrichCompaniesRequest, EnrichCompaniesResult, EnrichPeopleRequest, EnrichPeopleResult,
    EnrichmentAccepted, Include, NotificationOptions,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{ApiArgs, EnrichmentCommand, Look, StartArgs, WaitArgs};
use crate::error::Error;
use crate::input;
use crate::output::{json, table};
use crate::text::{cell, clean};

/// People or companies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `enrich people …`.
    People,
    /// `enrich companies …`.
    Companies,
}

/// A client for `args`, with `configure` applied to the builder (the API key is applied after
/// it, from `--api-key` or `SURFE_API_KEY`).
pub fn client(
    args: &ApiArgs,
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<Client, Error> {
    // clap has already read SURFE_API_KEY into `api_key` when the option is absent.
    let key = args
        .api_key
        .as_deref()
        .filter(|key| !key.trim().is_empty())
        .ok_or_else(|| Error::Usage("no API key: set SURFE_API_KEY (or pass --api-key)".into()))?;
    configure(Client::builder().base_url(&args.api))
        .api_key(key.trim())
        .build()
        .map_err(Error::Api)
}

/// Runs a `people` or `companies` subcommand; returns what to print on stdout (people's names,
/// emails and phones in tables only with `--show-personal`).
pub async fn run(kind: Kind, command: EnrichmentCommand, as_json: bool) -> Result<String, Error> {
    match command {
        EnrichmentCommand::Start(args) => start(kind, args, as_json).await,
        EnrichmentCommand::Get(args) => {
            let client = client(&args.api, |builder| builder)?;
            let result = fetch(kind, &client, &args.id).await?;
            result.render(as_json, args.personal.show_personal)
        }
        EnrichmentCommand::Wait(args) => wait(kind, args, as_json).await,
    }
}

async fn start(kind: Kind, args: StartArgs, as_json: bool) -> Result<String, Error> {
    let notification = args
        .webhook_url
        .as_deref()
        .map(NotificationOptions::webhook)
        .transpose()
        .map_err(Error::Request)?;
    // Read the file first: its errors matter more than a missing key.
    let (people, companies) = match kind {
        Kind::People => (input::people(&args.file)?, Vec::new()),
        Kind::Companies => (Vec::new(), input::companies(&args.file)?),
    };
    let client = client(&args.api, |builder| match (kind, args.per_request) {
        (Kind::People, Some(count)) => builder.people_per_request(count),
        (Kind::Companies, Some(count)) => builder.companies_per_request(count),
        (_, None) => builder,
    })?;
    let started = match kind {
        Kind::People => {
            let mut request = EnrichPeopleRequest::default();
            request.include = include(&args.include);
            request.people = people;
            request.notification_options = notification;
            client.start_people_split(&request).await
        }
        Kind::Companies => {
            let mut request = EnrichCompaniesRequest::default();
            request.companies = companies;
            request.notification_options = notification;
            client.start_companies_split(&request).await
        }
    };
    let started = started?;
    render_started(&started, as_json)
}

fn include(looks: &[Look]) -> Include {
    let mut include = Include::default();
    for look in looks {
        match look {
            Look::Email => include.email = true,
            Look::Mobile => include.mobile = true,
            Look::LinkedInUrl => include.linked_in_url = true,
            Look::JobHistory => include.job_history = true,
        }
    }
    include
}

fn render_started(started: &[EnrichmentAccepted], as_json: bool) -> Result<String, Error> {
    if as_json {
        return json(&started);
    }
    let rows: Vec<Vec<String>> = started
        .iter()
        .map(|accepted| {
            vec![
                cell(accepted.enrichment_id.as_deref()),
                cell(accepted.message.as_deref()),
            ]
        })
        .collect();
    Ok(table(&["enrichment ID", "message"], &rows))
}

/// A people or company result.
enum Fetched {
    People(EnrichPeopleResult),
    Companies(EnrichCompaniesResult),
}

async fn fetch(kind: Kind, client: &Client, id: &str) -> Result<Fetched, Error> {
    match kind {
        Kind::People => client.get_people(id).await.map(Fetched::People),
        Kind::Companies => client.get_companies(id).await.map(Fetched::Companies),
    }
    .map_err(Error::Api)
}

async fn wait(kind: Kind, args: WaitArgs, as_json: bool) -> Result<String, Error> {
    let show_personal = args.personal.show_personal;
    let poll = PollConfig::default()
        .first_interval(Duration::from_millis(500))
        .max_interval(Duration::from_secs(args.max_interval.max(1)))
        .give_up_after(args.timeout.map(Duration::from_secs));
    let client = client(&args.api, |builder| builder.poll(poll))?;
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos:>3}% {msg}")
            .map_err(Error::Progress)?
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let show = |status: Option<&enrich_types::EnrichmentStatus>, percent: Option<f64>| {
        bar.set_position(percent.map_or(0, |percent| percent.clamp(0.0, 100.0) as u64));
        bar.set_message(status.map_or_else(String::new, |status| clean(status.as_str())));
    };
    let result = match kind {
        Kind::People => client
            .wait_people(&args.id, |result| {
                show(result.status.as_ref(), result.percent_completed);
            })
            .await
            .map(Fetched::People),
        Kind::Companies => client
            .wait_companies(&args.id, |result| {
                show(result.status.as_ref(), result.percent_completed);
            })
            .await
            .map(Fetched::Companies),
    };
    bar.finish_and_clear();
    result.map_err(Error::Api)?.render(as_json, show_personal)
}

impl Fetched {
    fn render(&self, as_json: bool, show_personal: bool) -> Result<String, Error> {
        if as_json {
            return match self {
                Self::People(result) => json(result),
                Self::Companies(result) => json(result),
            };
        }
        let (id, status, percent) = match self {
            Self::People(r) => (&r.enrichment_id, &r.status, r.percent_completed),
            Self::Companies(r) => (&r.enrichment_id, &r.status, r.percent_completed),
        };
        let mut out = format!(
            "enrichment {}: {}, {}% done\n",
            cell(id.as_deref()),
            cell(status.as_ref().map(|status| status.as_str())),
            percent.map_or_else(|| "?".to_owned(), |percent| percent.to_string())
        );
        match self {
            Self::People(result) => {
                let rows: Vec<Vec<String>> = result
                    .people
                    .iter()
                    .flatten()
                    .map(|person| {
                        if !show_personal {
                            let found = |count: Option<usize>| count.unwrap_or(0).to_string();
                            return vec![
                                cell(person.external_id.as_deref()),
                                found(person.emails.as_ref().map(Vec::len)),
                                found(person.mobile_phones.as_ref().map(Vec::len)),
                                cell(person.status.as_ref().map(|status| status.as_str())),
                            ];
                        }
                        let name = [&person.first_name, &person.last_name]
                            .into_iter()
                            .flatten()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(" ");
                        let email = person
                            .emails
                            .iter()
                            .flatten()
                            .find_map(|email| email.email.as_deref());
                        let phone = person
                            .mobile_phones
                            .iter()
                            .flatten()
                            .find_map(|phone| phone.mobile_phone.as_deref());
                        vec![
                            cell(person.external_id.as_deref()),
                            cell(
                                Some(&name)
                                    .filter(|name| !name.is_empty())
                                    .map(String::as_str),
                            ),
                            cell(person.company_name.as_deref()),
                            cell(email),
                            cell(phone),
                            cell(person.status.as_ref().map(|status| status.as_str())),
                        ]
                    })
                    .collect();
                let header: &[&str] = if show_personal {
                    &["externalID", "name", "company", "email", "mobile", "status"]
                } else {
                    &["externalID", "emails", "mobiles", "status"]
                };
                out.push_str(&table(header, &rows));
            }
            Self::Companies(result) => {
                let rows: Vec<Vec<String>> = result
                    .companies
                    .iter()
                    .flatten()
                    .map(|company| {
                        vec![
                            cell(company.external_id.as_deref()),
                            cell(company.name.as_deref()),
                            cell(company.industry.as_deref()),
                            company
                                .employee_count
                                .map_or_else(|| "-".to_owned(), |count| count.to_string()),
                            cell(company.status.as_ref().map(|status| status.as_str())),
                        ]
                    })
                    .collect();
                out.push_str(&table(
                    &["externalID", "name", "industry", "employees", "status"],
                    &rows,
                ));
            }
        }
        Ok(out)
    }
}
