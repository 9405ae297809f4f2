//! `bench-report [--quick] --criterion DIR --out FILE --load-before LOADAVG --started SECS`: the
//! measuring half of `cargo xtask bench`, run from `target/release` after xtask has built the
//! benchmark binaries and run the criterion benches. `bench-report [--quick] --only
//! SECTION[,SECTION…] --out FILE` (`load`, `inbox`, `durable`: sections 2, 4, 5) measures those
//! sections alone and replaces them in `FILE`, keeping the rest.
//!
//! 1. the criterion medians, read back from `estimates.json` under `--criterion DIR`
//! 2. `bench-size people` and `bench-size collector` (counting allocator, child process)
//! 3. `bench-load load` and `bench-load limits` (one server process per measured run, the load
//!    driver in its own process, 127.0.0.1 only)
//! 4. if `valgrind` is installed, `callgrind` instruction counts of the pipeline's stages
//! 5. `bench-inbox`: the inbox's durable acknowledgements against each engine's floor
//! 6. `bench-durable`: the shipped `axum_receiver` with and without an inbox, and the worker's
//!    drain rate (JSON, rendered here against its targets)
//!
//! Then it writes `BENCHMARKS.md` (`--out`), every figure checked against [`TARGETS`], the
//! performance targets as data. All ratios in the report come from this one run; `--quick`
//! shortens every step (its numbers are not worth publishing). Nothing here runs during
//! `cargo test`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use serde_json::Value;

const EVENTS: [(&str, &str); 3] = [
    (
        "person_event_realistic",
        "realistic person event, pretty-printed (full person, 2 emails, 2 phones, 5 positions)",
    ),
    ("person_event_compact", "the same event as compact JSON"),
    (
        "person_event_minimal",
        "minimal person event (batch id, external id, status)",
    ),
];

const MICRO: [(&str, &str); 6] = [
    ("value", "`serde_json::from_slice::<Value>`"),
    (
        "typed",
        "`serde_json::from_slice::<WebhookEvent>` (plain typed decode)",
    ),
    ("hmac", "HMAC-SHA256 of the body alone (`hmac` + `sha2`)"),
    (
        "ours_decode",
        "ours, decode alone: `receive()`, verification off, no headers",
    ),
    (
        "ours_verify",
        "ours, verify alone: `receive()` with a wrong `v0`, refused before decoding",
    ),
    (
        "ours_pipeline",
        "ours, whole pipeline: `receive()` on a signed request",
    ),
];

/// A performance target: the bound one ratio measured in the run must stay within.
#[derive(Debug, Clone, Copy)]
struct Target {
    /// The bound as the report writes it (`"0.97"`).
    written: &'static str,
    /// The bound.
    bound: f64,
    /// Whether the ratio must stay at or below the bound (else at or above it).
    at_most: bool,
}

impl Target {
    /// A ratio that must reach `bound`, written `written` in the report.
    const fn at_least(written: &'static str, bound: f64) -> Self {
        Self {
            written,
            bound,
            at_most: false,
        }
    }

    /// A ratio that must stay within `bound`, written `written` in the report.
    const fn at_most(written: &'static str, bound: f64) -> Self {
        Self {
            written,
            bound,
            at_most: true,
        }
    }

    /// Whether `value` meets the target (a value that was not measured does not).
    fn met(self, value: f64) -> bool {
        if self.at_most {
            value <= self.bound
        } else {
            value >= self.bound
        }
    }

    /// Whether `value` was measured and misses the target (a line of "Targets missed").
    fn missed(self, value: f64) -> bool {
        if self.at_most {
            value > self.bound
        } else {
            value < self.bound
        }
    }

    /// `≥ 0.97`, `≤ 1.10`: the target in a table's heading.
    fn label(self) -> String {
        format!("{} {}", if self.at_most { "≤" } else { "≥" }, self.written)
    }
}

/// Every target the report checks.
#[cfg(test)]
const TARGETS: [Target; 12] = [
    TYPED_SPEEDUP,
    PIPELINE_OVER_FLOOR,
    ADAPTER_OVER_JSON,
    VERIFIED_OVER_JSON,
    RSS_OVER_JSON,
    VERIFIED_OVER_HAND,
    EXAMPLE_OVER_HAND,
    RECORDED_OVER_UNRECORDED,
    PEAK_HEAP_OVER_DOCUMENT,
    DRAIN_LARGE_OVER_SMALL,
    DRAIN_OVER_ACKS,
    COUNTS_POLL_COST,
];

/// The target on decoding to `Value` ÷ the typed decode (criterion).
const TYPED_SPEEDUP: Target = Target::at_least("2", 2.0);
/// The target on the whole pipeline ÷ (HMAC alone + typed decode alone) (criterion).
const PIPELINE_OVER_FLOOR: Target = Target::at_most("1.10", 1.10);
/// The target on requests/s of our extractor without verification ÷ the framework's `Json<T>`.
const ADAPTER_OVER_JSON: Target = Target::at_least("0.97", 0.97);
/// The target on requests/s of our extractor with verification ÷ the framework's `Json<T>`.
const VERIFIED_OVER_JSON: Target = Target::at_least("0.90", 0.90);
/// The target on peak RSS under load of our routes ÷ that of `Json<T>`.
const RSS_OVER_JSON: Target = Target::at_most("1.10", 1.10);
/// The target on requests/s of our extractor with verification ÷ the same work written by hand.
const VERIFIED_OVER_HAND: Target = Target::at_least("0.97", 0.97);
/// The target on requests/s (and server CPU per request) of a shipped example receiver ÷ a
/// hand-written receiver behind the same server limits doing the same work.
const EXAMPLE_OVER_HAND: Target = Target::at_least("0.97", 0.97);
/// The target on requests/s of the example receiver recording metrics (a Prometheus recorder
/// installed) ÷ the same receiver without a recorder: recording costs at most 3 %.
const RECORDED_OVER_UNRECORDED: Target = Target::at_least("0.97", 0.97);
/// The target on peak heap while decoding a people answer ÷ the document.
const PEAK_HEAP_OVER_DOCUMENT: Target = Target::at_most("3", 3.0);
/// The target on the worker's drain rate at the large backlog ÷ at the small one.
const DRAIN_LARGE_OVER_SMALL: Target = Target::at_least("0.8", 0.8);
/// The target on the worker's drain rate (the slower backlog) ÷ the receiver's acks/s.
const DRAIN_OVER_ACKS: Target = Target::at_least("1.0", 1.0);
/// The target on what polling `Inbox::counts` every second costs a drain: the fraction of its
/// rate lost.
const COUNTS_POLL_COST: Target = Target::at_most("0.10", 0.10);

/// Instructions per call of each pipeline stage, per profiled case.
type Profile = Vec<(String, Vec<(String, u64)>)>;

/// The command line xtask gives.
struct Options {
    quick: bool,
    criterion: PathBuf,
    out: PathBuf,
    load_before: String,
    started: u64,
    /// `--only`: only these sections are measured, each replacing its own in `out`.
    only: Vec<Section>,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let mut options = Self {
            quick: false,
            criterion: PathBuf::new(),
            out: PathBuf::from("BENCHMARKS.md"),
            load_before: "?".to_owned(),
            started: 0,
            only: Vec::new(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--only" => {
                    for name in value()?.split(',') {
                        let section = Section::named(name.trim())?;
                        if !options.only.contains(&section) {
                            options.only.push(section);
                        }
                    }
                }
                "--criterion" => options.criterion = PathBuf::from(value()?),
                "--out" => options.out = PathBuf::from(value()?),
                "--load-before" => options.load_before = first_three(&value()?),
                "--started" => {
                    options.started = value()?
                        .parse()
                        .map_err(|_| "--started takes Unix seconds".to_owned())?
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(options)
    }
}

fn main() -> ExitCode {
    let result = Options::parse().and_then(|options| {
        if !options.only.is_empty() {
            measure_sections(&options)?;
        } else {
            measure_and_write(&options)?;
        }
        Ok(options.out)
    });
    match result {
        Ok(out) => {
            eprintln!("\nwrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("\nbench-report: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every measurement but criterion's (already run) and writes the report.
fn measure_and_write(options: &Options) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|error| format!("own path: {error}"))?;
    let dir = exe.parent().ok_or("no directory of its own")?.to_path_buf();
    let bin = |name: &str| dir.join(name);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let micro = read_micro(&options.criterion)?;
    let count = if options.quick { "2000" } else { "10000" };
    let people = json_of(&bin("bench-size"), &["people", "--count", count])?;
    let collector = json_of(&bin("bench-size"), &["collector"])?;

    let Load {
        args: load_args,
        load,
        receivers_args,
        receivers,
        recording_args,
        recording,
    } = measure_load(&bin("bench-load"), options.quick)?;
    let limits = json_of(&bin("bench-load"), &["limits"])?;
    let profile = callgrind(&bin("bench-profile"), options.quick);
    let inbox = section_of(&bin("bench-inbox"), options.quick)?;
    let durable = measure_durable(&bin("bench-durable"), options.quick)?;
    let load_after = load_average();

    let report = Report {
        machine: machine(options.load_before.clone(), load_after, options.started),
        quick: options.quick,
        load_args,
        receivers_args,
        recording_args,
        people_count: count,
        micro,
        people,
        collector,
        load,
        receivers,
        recording,
        limits,
        profile,
        analysis: std::fs::read_to_string(root.join("benches/ANALYSIS.md")).ok(),
        dependency_cost: std::fs::read_to_string(root.join("benches/DEPENDENCY-COST.md")).ok(),
        hardening: std::fs::read_to_string(root.join("benches/HARDENING.md")).ok(),
        inbox,
        durable,
    };
    std::fs::write(&options.out, report.render())
        .map_err(|error| format!("{}: {error}", options.out.display()))
}

/// What `bench-load load`, `receivers` and `recording` measured (section 2), and their
/// arguments.
struct Load {
    args: String,
    load: Value,
    receivers_args: String,
    receivers: Value,
    recording_args: String,
    recording: Value,
}

/// Runs `bench-load` (at `binary`) for section 2: the adapters, the example receivers, then
/// what recording metrics costs the axum example.
fn measure_load(binary: &Path, quick: bool) -> Result<Load, String> {
    let args: Vec<&str> = if quick {
        vec![
            "load",
            "--rounds",
            "2",
            "--requests",
            "3000",
            "--warmup",
            "500",
        ]
    } else {
        // Seven rounds: requests/s ratios on this shared machine need more than five to settle.
        vec![
            "load",
            "--rounds",
            "7",
            "--requests",
            "20000",
            "--warmup",
            "2000",
        ]
    };
    let load = json_of(binary, &args)?;
    // The shipped examples against hand-written receivers: 64 connections, as a sender's
    // burst; more rounds than `load`, since each compares two whole processes.
    let (rounds, requests, warmup) = if quick {
        ("2", "3000", "500")
    } else {
        ("9", "20000", "2000")
    };
    let receivers_args = [
        "receivers",
        "--rounds",
        rounds,
        "--requests",
        requests,
        "--warmup",
        warmup,
        "--concurrency",
        "64",
    ];
    let receivers = json_of(binary, &receivers_args)?;
    // The same example with and without a recorder: a 3 % target needs as many rounds.
    let recording_args = [
        "recording",
        "--rounds",
        rounds,
        "--requests",
        requests,
        "--warmup",
        warmup,
        "--concurrency",
        "64",
        "--frameworks",
        "axum",
    ];
    let recording = json_of(binary, &recording_args)?;
    Ok(Load {
        args: args.join(" "),
        load,
        receivers_args: receivers_args.join(" "),
        receivers,
        recording_args: recording_args.join(" "),
        recording,
    })
}

/// Runs `bench-durable` (at `binary`) for section 5.
fn measure_durable(binary: &Path, quick: bool) -> Result<Value, String> {
    json_of(binary, if quick { &["--quick"] } else { &[] })
}

/// The heading [`render_durable`] starts its section with.
const DURABLE_HEADING: &str = "\n## 5. The durable path";

/// A section of the report that `--only` regenerates on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Section 2, HTTP load (`bench-load load`, `receivers` and `recording`).
    Load,
    /// Section 4, the inbox's acknowledgements (`bench-inbox`).
    Inbox,
    /// Section 5, the durable path (`bench-durable`).
    Durable,
}

impl Section {
    /// The section `--only` names `name`.
    fn named(name: &str) -> Result<Self, String> {
        match name {
            "load" => Ok(Self::Load),
            "inbox" => Ok(Self::Inbox),
            "durable" => Ok(Self::Durable),
            other => Err(format!(
                "--only {other}: the sections are load, inbox and durable"
            )),
        }
    }

    /// Its number in the report.
    fn number(self) -> u32 {
        match self {
            Self::Load => 2,
            Self::Inbox => 4,
            Self::Durable => 5,
        }
    }

    /// How its heading line starts.
    fn heading(self) -> String {
        format!("\n## {}. ", self.number())
    }
}

/// `--only`: measures the sections named, each replacing its own in `out` (from its heading to
/// the next `## ` heading) and saying when it was measured and which of its targets it missed
/// (the report's list of missed targets is the whole run's); the header lists the sections
/// regenerated since the whole run.
fn measure_sections(options: &Options) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|error| format!("own path: {error}"))?;
    let dir = exe.parent().ok_or("no directory of its own")?;
    let mut report = std::fs::read_to_string(&options.out)
        .map_err(|error| format!("{}: {error}", options.out.display()))?;
    let names: Vec<&str> = options
        .only
        .iter()
        .map(|section| match section {
            Section::Load => "load",
            Section::Inbox => "inbox",
            Section::Durable => "durable",
        })
        .collect();
    let command = format!("cargo xtask bench --only {}", names.join(","));
    for &section in &options.only {
        let load_before = load_average();
        let (mut text, mut misses) = (String::new(), Vec::new());
        match section {
            Section::Load => {
                let load = measure_load(&dir.join("bench-load"), options.quick)?;
                let mut partial = Report::empty(options.quick);
                partial.load_args = load.args;
                partial.receivers_args = load.receivers_args;
                partial.recording_args = load.recording_args;
                partial.load = load.load;
                partial.receivers = load.receivers;
                partial.recording = load.recording;
                partial.render_load(&mut text, &mut misses);
                text.insert(0, '\n');
            }
            Section::Inbox => text = section_of(&dir.join("bench-inbox"), options.quick)?,
            Section::Durable => {
                let durable = measure_durable(&dir.join("bench-durable"), options.quick)?;
                render_durable(&durable, options.quick, &mut text, &mut misses);
            }
        }
        let date = utc_date(now_secs());
        let text = format!(
            "{}\n\nThis section was measured alone (`{command}`, {date}, load average {load_before} \
             before, {} after); the rest of the report comes from other runs. {}\n",
            text.trim_end_matches('\n'),
            load_average(),
            if section == Section::Inbox {
                // `bench-inbox` marks its targets in its own table.
                "Its targets are marked in its table.".to_owned()
            } else if misses.is_empty() {
                "Its targets missed: none.".to_owned()
            } else {
                format!("Its targets missed:\n\n- {}", misses.join("\n- "))
            }
        );
        report = replace_section(&report, section, &text)?;
        report = note_regenerated(&report, section, &date);
    }
    std::fs::write(&options.out, report)
        .map_err(|error| format!("{}: {error}", options.out.display()))
}

/// The Unix time now, in seconds.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// `report` with `section` (from its heading to the next `## ` heading, or the end) replaced by
/// `text` (which starts with its own heading).
fn replace_section(report: &str, section: Section, text: &str) -> Result<String, String> {
    let start = report.find(&section.heading()).ok_or_else(|| {
        format!(
            "the report has no section {}: regenerate the whole report with `cargo xtask bench`",
            section.number()
        )
    })?;
    let body = start + 1;
    let end = report[body..]
        .find("\n## ")
        .map_or(report.len(), |at| body + at);
    let mut replaced = report[..start].trim_end_matches('\n').to_owned();
    replaced.push('\n');
    replaced.push_str(text.trim_end_matches('\n'));
    replaced.push('\n');
    if end < report.len() {
        replaced.push_str(&report[end..]);
    }
    Ok(replaced)
}

/// How the header's paragraph on sections regenerated alone starts.
const REGENERATED: &str = "Regenerated alone since that run (`cargo xtask bench --only`): ";

/// `report` with its header saying that `section` was regenerated alone on `date` (keeping what
/// it says of other sections), just before the `## Machine` heading.
fn note_regenerated(report: &str, section: Section, date: &str) -> String {
    let Some(machine) = report.find("\n## Machine") else {
        return report.to_owned();
    };
    let (mut header, rest) = (report[..machine].to_owned(), &report[machine..]);
    let mut entries: Vec<(u32, String)> = Vec::new();
    if let Some(at) = header.find(REGENERATED) {
        let paragraph = header[at + REGENERATED.len()..].to_owned();
        let listed = paragraph.split(". ").next().unwrap_or_default();
        for entry in listed.split("; ") {
            if let Some((number, when)) = entry
                .strip_prefix("section ")
                .and_then(|entry| entry.split_once(" on "))
                && let Ok(number) = number.parse()
            {
                entries.push((number, when.to_owned()));
            }
        }
        header.truncate(at);
    }
    entries.retain(|(number, _)| *number != section.number());
    entries.push((section.number(), date.to_owned()));
    entries.sort();
    let listed: Vec<String> = entries
        .iter()
        .map(|(number, when)| format!("section {number} on {when}"))
        .collect();
    format!(
        "{}\n\n{REGENERATED}{}. Those sections come from those runs, not from the run above; \
         each says when and under what load it was measured, and lists its own missed targets \
         (the list \"Targets missed in this run\" below is the whole run's).\n{rest}",
        header.trim_end_matches('\n'),
        listed.join("; ")
    )
}

/// Runs a benchmark binary that writes its own section (`bench-inbox`, `bench-durable`;
/// `--quick` when asked) and returns the Markdown it prints.
fn section_of(binary: &Path, quick: bool) -> Result<String, String> {
    let mut command = Command::new(binary);
    if quick {
        command.arg("--quick");
    }
    eprintln!(
        "\n==> {}{}",
        binary.display(),
        if quick { " --quick" } else { "" }
    );
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("{}: {error}", binary.display()))?;
    if !output.status.success() {
        return Err(format!("{}: {}", binary.display(), output.status));
    }
    String::from_utf8(output.stdout)
        .map_err(|error| format!("{}: output is not UTF-8: {error}", binary.display()))
}

/// Runs a benchmark binary (progress on stderr) and parses the JSON it prints.
fn json_of(program: &Path, args: &[&str]) -> Result<Value, String> {
    eprintln!("\n==> {} {}", program.display(), args.join(" "));
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("{}: {error}", program.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} {}: {}",
            program.display(),
            args.join(" "),
            output.status
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("{}: unreadable output: {error}", program.display()))
}

/// Median time in ns of every (event, routine), from criterion's `new/estimates.json`.
fn read_micro(home: &Path) -> Result<BTreeMap<(String, String), f64>, String> {
    let mut medians = BTreeMap::new();
    for (event, _) in EVENTS {
        for (routine, _) in MICRO {
            let path = home.join(event).join(routine).join("new/estimates.json");
            let text = std::fs::read_to_string(&path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            let estimates: Value = serde_json::from_str(&text)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            let median = estimates["median"]["point_estimate"]
                .as_f64()
                .ok_or_else(|| format!("{}: no median", path.display()))?;
            medians.insert((event.to_owned(), routine.to_owned()), median);
        }
    }
    Ok(medians)
}

/// Instructions per call of the pipeline's stages, counted by callgrind (exact and repeatable,
/// unlike times on a shared machine). `None` when valgrind is not installed.
fn callgrind(profiler: &Path, quick: bool) -> Option<Profile> {
    let available = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !available {
        eprintln!("\n==> callgrind: valgrind not found, skipped");
        return None;
    }
    let iterations: u64 = if quick { 200 } else { 2000 };
    let dir = std::env::temp_dir().join(format!("enrich-bench-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let mut cases = Vec::new();
    for case in ["pipeline-minimal", "pipeline-compact", "pipeline-realistic"] {
        eprintln!(
            "\n==> callgrind: {} {case} {iterations}",
            profiler.display()
        );
        let out = dir.join(format!("callgrind.{case}"));
        let mut out_arg = OsString::from("--callgrind-out-file=");
        out_arg.push(&out);
        let status = Command::new("valgrind")
            .args(["--tool=callgrind", "--quiet"])
            .arg(out_arg)
            .arg(profiler)
            .args([case, &iterations.to_string()])
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let annotated = Command::new("callgrind_annotate")
            .args(["--inclusive=yes", "--threshold=100"])
            .arg(&out)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&annotated.stdout);
        let stages = [
            ("whole `receive()`", "WebhookConfig>::receive "),
            // The HMAC of the body under each key (the function was `is_signed_by_any` once; a
            // stage whose function is not found is left out of the table).
            ("HMAC (`signature::tag`)", "signature::tag "),
            ("decode (`decode_event`)", "decode::decode_event "),
            ("signature header parse", "SignatureHeader::parse "),
            ("  of which hex decoding", "hex::decode_to_slice "),
            ("media type check", "receive::is_json_media_type "),
        ];
        let counts = stages
            .iter()
            .filter_map(|(label, needle)| {
                let line = text.lines().find(|line| line.contains(needle))?;
                let count: u64 = line
                    .split_whitespace()
                    .next()?
                    .replace(',', "")
                    .parse()
                    .ok()?;
                Some(((*label).to_owned(), count / iterations))
            })
            .collect();
        cases.push((case.to_owned(), counts));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Some(cases)
}

struct Machine {
    cpu: String,
    logical_cpus: usize,
    memory: String,
    kernel: String,
    rustc: String,
    load_before: String,
    load_after: String,
    date: String,
}

/// The 1, 5 and 15 minute load averages now.
fn load_average() -> String {
    first_three(&std::fs::read_to_string("/proc/loadavg").unwrap_or_else(|_| "?".to_owned()))
}

/// The three load averages of a `/proc/loadavg` text.
fn first_three(loadavg: &str) -> String {
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn machine(load_before: String, load_after: String, started: u64) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or("?".to_owned(), |(_, name)| name.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("?".to_owned(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or("?".to_owned(), |text| text.trim().to_owned());
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map_or("?".to_owned(), |output| {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        });
    let secs = started;
    Machine {
        cpu,
        logical_cpus: std::thread::available_parallelism().map_or(0, usize::from),
        memory,
        kernel,
        rustc,
        load_before,
        load_after,
        date: utc_date(secs),
    }
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time (civil-from-days, no date crate needed).
fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

struct Report {
    machine: Machine,
    quick: bool,
    load_args: String,
    /// The arguments `bench-load receivers` ran with.
    receivers_args: String,
    /// The arguments `bench-load recording` ran with.
    recording_args: String,
    people_count: &'static str,
    micro: BTreeMap<(String, String), f64>,
    people: Value,
    collector: Value,
    load: Value,
    /// What `bench-load receivers` measured.
    receivers: Value,
    /// What `bench-load recording` measured.
    recording: Value,
    limits: Value,
    profile: Option<Profile>,
    analysis: Option<String>,
    dependency_cost: Option<String>,
    /// `benches/HARDENING.md`: the figures of `cargo xtask fuzz | attack | soak`, by hand.
    hardening: Option<String>,
    /// The section `bench-inbox` writes, appended as is.
    inbox: String,
    /// What `bench-durable` measured (`Null`: not run).
    durable: Value,
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

fn time(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

/// The lowest and the highest of the rounds' ratios (an array of numbers): how noisy a run was.
fn ratio_range(ratios: &Value) -> (f64, f64) {
    ratios
        .as_array()
        .into_iter()
        .flatten()
        .map(number)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), ratio| {
            (low.min(ratio), high.max(ratio))
        })
}

fn mib(bytes: f64) -> String {
    format!("{:.2} MiB", bytes / 1024.0 / 1024.0)
}

impl Report {
    /// A report with nothing measured (for rendering one section on its own).
    fn empty(quick: bool) -> Self {
        Self {
            machine: Machine {
                cpu: String::new(),
                logical_cpus: 0,
                memory: String::new(),
                kernel: String::new(),
                rustc: String::new(),
                load_before: String::new(),
                load_after: String::new(),
                date: String::new(),
            },
            quick,
            load_args: String::new(),
            receivers_args: String::new(),
            recording_args: String::new(),
            people_count: "0",
            micro: BTreeMap::new(),
            people: Value::Null,
            collector: Value::Null,
            load: Value::Null,
            receivers: Value::Null,
            recording: Value::Null,
            limits: Value::Null,
            profile: None,
            analysis: None,
            dependency_cost: None,
            hardening: None,
            inbox: String::new(),
            durable: Value::Null,
        }
    }

    fn micro(&self, event: &str, routine: &str) -> f64 {
        self.micro
            .get(&(event.to_owned(), routine.to_owned()))
            .copied()
            .unwrap_or(f64::NAN)
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let mut misses = Vec::new();
        self.render_header(&mut out);
        self.render_micro(&mut out, &mut misses);
        self.render_load(&mut out, &mut misses);
        self.render_size(&mut out, &mut misses);
        self.render_profile(&mut out);
        let mut durable = String::new();
        render_durable(&self.durable, self.quick, &mut durable, &mut misses);
        let _ = writeln!(out, "## Targets missed in this run\n");
        if misses.is_empty() {
            let _ = writeln!(out, "None: every target was met in this run.");
        } else {
            for miss in &misses {
                let _ = writeln!(out, "- {miss}");
            }
        }
        if let Some(analysis) = &self.analysis {
            let _ = writeln!(
                out,
                "\n## Analysis\n\n\
                 Written by hand from the profiles (`benches/ANALYSIS.md`, included as is; the \
                 numbers in it are from the run it names, the tables above from this one).\n"
            );
            let _ = writeln!(out, "{}", analysis.trim_end());
        }
        if let Some(cost) = &self.dependency_cost {
            let _ = writeln!(
                out,
                "\n## What a user's build pays\n\n\
                 Written by hand (`benches/DEPENDENCY-COST.md`, included as is; measured as it says, \
                 not by this run).\n"
            );
            let _ = writeln!(out, "{}", cost.trim_end());
        }
        if let Some(hardening) = &self.hardening {
            let _ = writeln!(out, "\n{}", hardening.trim_end());
        }
        out.push_str(&self.inbox);
        out.push_str(&durable);
        out
    }

    fn render_header(&self, out: &mut String) {
        let m = &self.machine;
        let _ = writeln!(
            out,
            "# Benchmarks\n\n\
             Generated by `cargo xtask bench` on {date}{quick}. Every number below comes from that one \
             run; times are medians, ratios are computed within the run. Regenerate with the same \
             command; expect the absolute numbers to move with the machine's load, the ratios much \
             less.\n\n\
             ## Machine\n\n\
             | | |\n|---|---|\n\
             | CPU | {cpu} |\n\
             | logical CPUs | {cpus} |\n\
             | memory | {memory} |\n\
             | kernel | {kernel} |\n\
             | compiler | {rustc}, `--release` |\n\
             | load average (1, 5, 15 min) | {before} before, {after} after |\n\n\
             The machine is shared with other jobs (the load averages above say how busy it was), \
             so absolute times carry noise; each comparison is between numbers measured minutes \
             apart in the same run.\n\n\
             ## Commands\n\n\
             ```text\n\
             cargo xtask bench            # all of the below, then writes this file\n\
             cargo xtask bench --only load,inbox,durable   # sections 2, 4, 5 alone (any of them)\n\
             cargo build --release -p enrich-benches --bins\n\
             cargo build --release -p enrich-<framework> --example <framework>_receiver   # each of the four\n\
             cargo bench -p enrich-benches --bench pipeline\n\
             target/release/bench-size people --count {count}\n\
             target/release/bench-size collector\n\
             target/release/bench-load {load_args}\n\
             target/release/bench-load {receivers_args}\n\
             target/release/bench-load {recording_args}\n\
             target/release/bench-load limits\n\
             valgrind --tool=callgrind target/release/bench-profile pipeline-minimal 2000\n\
             ```\n",
            date = m.date,
            quick = if self.quick {
                " with `--quick` (short runs: indicative only)"
            } else {
                ""
            },
            cpu = m.cpu,
            cpus = m.logical_cpus,
            memory = m.memory,
            kernel = m.kernel,
            rustc = m.rustc,
            before = m.load_before,
            after = m.load_after,
            count = self.people_count,
            load_args = self.load_args,
            receivers_args = self.receivers_args,
            recording_args = self.recording_args,
        );
    }

    fn render_micro(&self, out: &mut String, misses: &mut Vec<String>) {
        let _ = writeln!(
            out,
            "## 1. The pipeline against the work it cannot avoid (criterion)\n\n\
             Each routine runs on the same body in memory. `receive()` is given a `Bytes` that it \
             shares, not copies; every routine drops what it made inside the measurement.\n"
        );
        let _ = writeln!(
            out,
            "| routine | {} |",
            EVENTS.map(|(event, _)| event).join(" | ")
        );
        let _ = writeln!(out, "|---|---:|---:|---:|");
        for (routine, what) in MICRO {
            let cells: Vec<String> = EVENTS
                .iter()
                .map(|(event, _)| time(self.micro(event, routine)))
                .collect();
            let _ = writeln!(out, "| {what} | {} |", cells.join(" | "));
        }
        let _ = writeln!(out);
        for (event, what) in EVENTS {
            let _ = writeln!(out, "- `{event}`: {what}.");
        }
        let _ = writeln!(
            out,
            "\n| ratio | target | {} |\n|---|---|---:|---:|---:|",
            EVENTS.map(|(event, _)| event).join(" | ")
        );
        let mut row =
            |label: &str, target: &str, ratio: &dyn Fn(&str) -> f64, ok: &dyn Fn(f64) -> bool| {
                let cells: Vec<String> = EVENTS
                    .iter()
                    .map(|(event, _)| {
                        let value = ratio(event);
                        if target.is_empty() {
                            format!("{value:.3}")
                        } else {
                            format!("{value:.3} ({})", met(ok(value)))
                        }
                    })
                    .collect();
                let _ = writeln!(out, "| {label} | {target} | {} |", cells.join(" | "));
            };
        let speedup = |event: &str| self.micro(event, "value") / self.micro(event, "typed");
        let pipeline = |event: &str| {
            self.micro(event, "ours_pipeline")
                / (self.micro(event, "hmac") + self.micro(event, "typed"))
        };
        row(
            "Value ÷ typed (typed decode speed-up)",
            &TYPED_SPEEDUP.label(),
            &speedup,
            &|v| TYPED_SPEEDUP.met(v),
        );
        row(
            "Value ÷ our decode (the pipeline's decode speed-up)",
            "",
            &|e: &str| self.micro(e, "value") / self.micro(e, "ours_decode"),
            &|_| true,
        );
        row(
            "pipeline ÷ (HMAC + typed)",
            &PIPELINE_OVER_FLOOR.label(),
            &pipeline,
            &|v| PIPELINE_OVER_FLOOR.met(v),
        );
        row(
            "our decode ÷ typed",
            "",
            &|e: &str| self.micro(e, "ours_decode") / self.micro(e, "typed"),
            &|_| true,
        );
        row(
            "our verify ÷ HMAC",
            "",
            &|e: &str| self.micro(e, "ours_verify") / self.micro(e, "hmac"),
            &|_| true,
        );
        let _ = writeln!(out);
        for (event, _) in EVENTS {
            let ratio = speedup(event);
            if TYPED_SPEEDUP.missed(ratio) {
                misses.push(format!(
                    "Typed decode of `{event}` is {ratio:.3}x as fast as decoding to `Value` \
                     (target {}x): {} against {}. See the analysis.",
                    TYPED_SPEEDUP.written,
                    time(self.micro(event, "typed")),
                    time(self.micro(event, "value")),
                ));
            }
            let ratio = pipeline(event);
            if PIPELINE_OVER_FLOOR.missed(ratio) {
                let fixed = self.micro(event, "ours_pipeline")
                    - self.micro(event, "hmac")
                    - self.micro(event, "typed");
                misses.push(format!(
                    "The whole pipeline on `{event}` takes {ratio:.3}x (HMAC alone + typed decode \
                     alone) (target {}x): {} per delivery beyond the two, work that does not \
                     shrink with the body. See the analysis.",
                    PIPELINE_OVER_FLOOR.written,
                    time(fixed)
                ));
            }
        }
    }

    fn render_load(&self, out: &mut String, misses: &mut Vec<String>) {
        let settings = &self.load["settings"];
        let _ = writeln!(
            out,
            "## 2. HTTP load: each adapter against its framework's own `Json<T>` and hand-written code\n\n\
             One server binary per framework (`bench-server-{{axum,rocket,poem,actix}}`), {workers} runtime \
             worker thread(s) (actix-web: {workers} worker(s), each a single-threaded runtime); the load driver (`bench-load`, raw keep-alive HTTP/1.1 over Tokio \
             TCP, one thread) runs in its own process. Every request is the same {body}-byte \
             realistic person event with `Content-Type: application/json` and an \
             `x-surfe-signature` signed by the driver at the start of each run (so route (d) \
             checks a fresh timestamp under the default 5-minute tolerance). Per run: a fresh \
             server (so its peak RSS, `VmHWM` from `/proc/<pid>/status`, belongs to that route \
             alone), {warmup} warm-up requests, then {requests} measured requests over \
             {concurrency} connections, one request in flight each. {rounds} rounds; frameworks \
             and routes run alternately, their order rotating each round. Values are medians \
             over the rounds; ratios are medians of the per-round ratios of requests/s (and of \
             peak RSS).\n\n\
             Routes: (a) read the body, answer 200; (b) the framework's own JSON extractor into \
             `WebhookEvent` (`axum::Json`, `rocket::serde::json::Json`, `poem::web::Json`, \
             `actix_web::web::Json`); \
             (c) our `Event` extractor, verification off; (d) our `Event` extractor, \
             verification on; (e) the same work written by hand as an application would \
             (`benches/src/hand.rs`: the framework's raw body, the `x-surfe-signature` check with \
             `hmac` + `sha2` `verify_slice` under the same tolerance, \
             `serde_json::from_slice::<WebhookEvent>`, 200), using no crate of this workspace but \
             `enrich-types`. Rocket keeps one `WebhookConfig` per server (managed state), so \
             its (c) and (d) servers are started with different configurations. No server \
             installs a `tracing` subscriber, except in the runs marked \"+ `fmt`\": routes (c), \
             (d) and (e) once more, in a server that installs `tracing_subscriber::fmt` at \
             INFO (what the quick starts do).\n\n\
             \"Server CPU\" is the CPU time (user and kernel, all threads, from \
             `/proc/<pid>/task/*/schedstat`) the server spent per measured request: unlike \
             requests/s it hardly moves when other processes take the machine's cores. Ratios \
             \"by server CPU\" are written the way round of the requests/s ratios (the other \
             route's CPU per request over ours), so above 1 means ours costs less.\n",
            workers = settings["server_workers"],
            body = settings["body_bytes"],
            warmup = settings["warmup"],
            requests = settings["requests"],
            concurrency = settings["concurrency"],
            rounds = settings["rounds"],
        );
        let _ = writeln!(
            out,
            "| framework | route | requests/s | p50 | p99 | server CPU / request | peak RSS |\n|---|---|---:|---:|---:|---:|---:|"
        );
        let summary = self.load["summary"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (framework, data) in &summary {
            let rows = ["a", "b", "c", "d", "e"]
                .map(|key| (key, "", &data["routes"][key]))
                .into_iter()
                .chain(
                    ["c", "d", "e"]
                        .map(|key| (key, " + `fmt`", &data["routes_with_subscriber"][key])),
                );
            for (key, subscriber, route) in rows {
                if route.is_null() {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "| {framework} | ({key}){subscriber} `{}` {} | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.1} MiB |",
                    route["path"].as_str().unwrap_or("?"),
                    route["what"].as_str().unwrap_or(""),
                    number(&route["rps"]),
                    number(&route["p50_us"]),
                    number(&route["p99_us"]),
                    number(&route["cpu_us_per_request"]),
                    number(&route["peak_rss_kib"]) / 1024.0,
                );
            }
        }
        let _ = writeln!(
            out,
            "\n| framework | (c)/(b) req/s, target {adapter} | (c)/(b) by server CPU, target {adapter} | (d)/(b) req/s, target {verified} | (c)/(a) req/s | RSS (c)/(b), target {rss} | RSS (d)/(b), target {rss} |\n|---|---:|---:|---:|---:|---:|---:|",
            adapter = ADAPTER_OVER_JSON.label(),
            verified = VERIFIED_OVER_JSON.label(),
            rss = RSS_OVER_JSON.label(),
        );
        for (framework, data) in &summary {
            let ratios = &data["ratios"];
            let c_b = number(&ratios["rps_c_over_b"]);
            let d_b = number(&ratios["rps_d_over_b"]);
            let c_a = number(&ratios["rps_c_over_a"]);
            let cpu_c_b = number(&ratios["cpu_b_over_c"]);
            let rss_c = number(&ratios["rss_c_over_b"]);
            let rss_d = number(&ratios["rss_d_over_b"]);
            let _ = writeln!(
                out,
                "| {framework} | {c_b:.3} ({}) | {cpu_c_b:.3} ({}) | {d_b:.3} ({}) | {c_a:.3} | {rss_c:.3} ({}) | {rss_d:.3} ({}) |",
                met(ADAPTER_OVER_JSON.met(c_b)),
                met(ADAPTER_OVER_JSON.met(cpu_c_b)),
                met(VERIFIED_OVER_JSON.met(d_b)),
                met(RSS_OVER_JSON.met(rss_c)),
                met(RSS_OVER_JSON.met(rss_d)),
            );
            if ADAPTER_OVER_JSON.missed(c_b) {
                misses.push(format!(
                    "{framework}: our extractor without verification serves {c_b:.3}x the \
                     requests/s of the framework's own `Json<T>` (target {}x). See the analysis.",
                    ADAPTER_OVER_JSON.written
                ));
            }
            if ADAPTER_OVER_JSON.missed(cpu_c_b) {
                misses.push(format!(
                    "{framework}: by server CPU per request, our extractor without verification \
                     runs at {cpu_c_b:.3}x the framework's own `Json<T>` (target {}x). See the \
                     analysis.",
                    ADAPTER_OVER_JSON.written
                ));
            }
            if VERIFIED_OVER_JSON.missed(d_b) {
                misses.push(format!(
                    "{framework}: our extractor with verification serves {d_b:.3}x the \
                     requests/s of `Json<T>`, which verifies nothing (target {}x). See the \
                     analysis.",
                    VERIFIED_OVER_JSON.written
                ));
            }
            if RSS_OVER_JSON.missed(rss_c) || RSS_OVER_JSON.missed(rss_d) {
                misses.push(format!(
                    "{framework}: peak RSS under load of our routes is {rss_c:.3}x / {rss_d:.3}x \
                     that of `Json<T>` (target {}x).",
                    RSS_OVER_JSON.written
                ));
            }
        }
        self.render_against_hand(&summary, out, misses);
        self.render_receivers(out, misses);
        self.render_recording(out, misses);
        let _ = writeln!(out);
    }

    /// The shipped example receivers against hand-written ones behind the same limits
    /// (`bench-load receivers`; nothing when it did not run).
    fn render_receivers(&self, out: &mut String, misses: &mut Vec<String>) {
        let Some(summary) = self.receivers["summary"].as_object() else {
            return;
        };
        let settings = &self.receivers["settings"];
        let _ = writeln!(
            out,
            "\n### What users run: the example receivers against hand-written ones\n\n\
             The bench servers above measure the extractor in a bare server. Here each shipped \
             example receiver (`crates/enrich-<framework>/examples/<framework>_receiver`, release, \
             as a user runs it: verifying with `SURFE_WEBHOOK_SECRET`, no inbox, `RUST_LOG` unset \
             so its default `fmt` subscriber at INFO, each event printed as a line on stdout, \
             here `/dev/null`) runs against `bench-hand-receiver`: a hand-written receiver \
             behind the example's own server limits (its `limits.rs`, compiled in, with the same \
             values; Rocket has none to set and runs with the example's configuration), the \
             same runtime and subscriber, doing route (e)'s work and printing the same line. \
             `bench-load receivers`: `POST /webhook` with the request of the runs above, a fresh \
             process per run, {warmup} warm-up requests then {requests} measured over \
             {concurrency} connections, the two alternating within each of {rounds} rounds \
             (which goes first alternates). Values are medians over the rounds; \"median of \
             ratios\" is the median of the rounds' example ÷ hand-written ratios (the target's \
             figure), beside the ratio of the medians and the range of the rounds' ratios (how \
             noisy the run was). By server CPU: hand-written CPU per request ÷ the example's, \
             above 1 when the example needs less.\n\n\
             | framework | example req/s | hand-written req/s | example ÷ hand, median of ratios, target {target} | ratio of medians | rounds' ratios, min to max | example CPU / request | hand-written CPU / request | by server CPU, median of ratios, target {target} |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|",
            warmup = settings["warmup"],
            requests = settings["requests"],
            concurrency = settings["concurrency"],
            rounds = settings["rounds"],
            target = EXAMPLE_OVER_HAND.label(),
        );
        for (framework, data) in summary {
            let ratio = number(&data["rps_median_of_ratios"]);
            let cpu = number(&data["cpu_median_of_ratios"]);
            let (low, high) = ratio_range(&data["rps_ratios"]);
            let example = data["example"].as_str().unwrap_or("?");
            let _ = writeln!(
                out,
                "| {framework} (`{example}`) | {:.0} | {:.0} | {ratio:.3} ({}) | {:.3} | {low:.3} to {high:.3} | {:.1} µs | {:.1} µs | {cpu:.3} ({}) |",
                number(&data["example_rps"]),
                number(&data["hand_rps"]),
                met(EXAMPLE_OVER_HAND.met(ratio)),
                number(&data["rps_ratio_of_medians"]),
                number(&data["example_cpu_us_per_request"]),
                number(&data["hand_cpu_us_per_request"]),
                met(EXAMPLE_OVER_HAND.met(cpu)),
            );
            if EXAMPLE_OVER_HAND.missed(ratio) || EXAMPLE_OVER_HAND.missed(cpu) {
                misses.push(format!(
                    "{framework}: the shipped `{example}` serves {ratio:.3}x the requests/s of a \
                     hand-written receiver behind the same limits, at {cpu:.3}x its server CPU \
                     per request (target {}x for both). See the analysis.",
                    EXAMPLE_OVER_HAND.written
                ));
            }
        }
    }

    /// What recording metrics costs the axum example receiver (`bench-load recording`; nothing
    /// when it did not run).
    fn render_recording(&self, out: &mut String, misses: &mut Vec<String>) {
        let Some(summary) = self.recording["summary"].as_object() else {
            return;
        };
        let settings = &self.recording["settings"];
        let _ = writeln!(
            out,
            "\n### What recording metrics costs\n\n\
             The example receiver as above, twice: with `ENRICH_METRICS_LISTEN` set, so the \
             Prometheus exporter is installed as the `metrics` recorder and every delivery is \
             recorded (deliveries by outcome, body sizes, time in the pipeline; nothing scrapes \
             it during the run), and without, so no recorder is installed and each recording \
             call finds none (the examples are built with the `metrics` features either way; \
             without the feature the calls are not compiled in at all, which this does not \
             measure). `bench-load recording`: the request of the runs above, a fresh process \
             per run, {warmup} warm-up requests then {requests} measured over {concurrency} \
             connections, the two alternating within each of {rounds} rounds. Recorded ÷ \
             unrecorded by requests/s, and unrecorded ÷ recorded by server CPU per request \
             (above 1 when recording costs nothing).\n\n\
             | receiver | recorded req/s | unrecorded req/s | recorded ÷ unrecorded, median of ratios, target {target} | ratio of medians | rounds' ratios, min to max | recorded CPU / request | unrecorded CPU / request | by server CPU, median of ratios |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|",
            warmup = settings["warmup"],
            requests = settings["requests"],
            concurrency = settings["concurrency"],
            rounds = settings["rounds"],
            target = RECORDED_OVER_UNRECORDED.label(),
        );
        for (framework, data) in summary {
            let ratio = number(&data["rps_median_of_ratios"]);
            let (low, high) = ratio_range(&data["rps_ratios"]);
            let _ = writeln!(
                out,
                "| `{framework}_receiver` | {:.0} | {:.0} | {ratio:.3} ({}) | {:.3} | {low:.3} to {high:.3} | {:.1} µs | {:.1} µs | {:.3} |",
                number(&data["recorded_rps"]),
                number(&data["example_rps"]),
                met(RECORDED_OVER_UNRECORDED.met(ratio)),
                number(&data["rps_ratio_of_medians"]),
                number(&data["recorded_cpu_us_per_request"]),
                number(&data["example_cpu_us_per_request"]),
                number(&data["cpu_median_of_ratios"]),
            );
            if RECORDED_OVER_UNRECORDED.missed(ratio) {
                misses.push(format!(
                    "{framework}: the example receiver recording metrics serves {ratio:.3}x the \
                     requests/s of the same receiver without a recorder (target {}x).",
                    RECORDED_OVER_UNRECORDED.written
                ));
            }
        }
    }

    /// Ours against the hand-written route (e), without and with a `fmt` subscriber.
    fn render_against_hand(
        &self,
        summary: &serde_json::Map<String, Value>,
        out: &mut String,
        misses: &mut Vec<String>,
    ) {
        let _ = writeln!(
            out,
            "\nAgainst the hand-written receiver (e), no subscriber installed:\n\n\
             | framework | (c)/(e) req/s | (d)/(e) req/s, target {target} | (c)/(e) by server CPU | (d)/(e) by server CPU, target {target} |\n\
             |---|---:|---:|---:|---:|",
            target = VERIFIED_OVER_HAND.label()
        );
        for (framework, data) in summary {
            let bare = &data["ratios"];
            let d_e = number(&bare["rps_d_over_e"]);
            let cpu_d_e = number(&bare["cpu_e_over_d"]);
            let _ = writeln!(
                out,
                "| {framework} | {:.3} | {d_e:.3} ({}) | {:.3} | {cpu_d_e:.3} ({}) |",
                number(&bare["rps_c_over_e"]),
                met(VERIFIED_OVER_HAND.met(d_e)),
                number(&bare["cpu_e_over_c"]),
                met(VERIFIED_OVER_HAND.met(cpu_d_e)),
            );
            if VERIFIED_OVER_HAND.missed(cpu_d_e) {
                misses.push(format!(
                    "{framework}: by server CPU per request, our extractor with verification runs \
                     at {cpu_d_e:.3}x the same work written by hand (target {}x). See the \
                     analysis.",
                    VERIFIED_OVER_HAND.written
                ));
            }
            if VERIFIED_OVER_HAND.missed(d_e) {
                misses.push(format!(
                    "{framework}: our extractor with verification serves {d_e:.3}x the \
                     requests/s of the same work written by hand (target {}x). See the \
                     analysis.",
                    VERIFIED_OVER_HAND.written
                ));
            }
        }
        let _ = writeln!(
            out,
            "\nThe same with `tracing_subscriber::fmt` at INFO installed in both servers, and what \
             installing it costs each route (\"with ÷ without\": the route in a server with the \
             subscriber against one without, within a round). Our `webhook_delivery` span is at \
             DEBUG, so at INFO it is disabled.\n\n\
             | framework | + `fmt`: (c)/(e) req/s | + `fmt`: (d)/(e) req/s | + `fmt`: (d)/(e) by server CPU | (d) with ÷ without `fmt`, req/s | (d) with ÷ without `fmt`, by server CPU | (e) with ÷ without `fmt`, req/s |\n\
             |---|---:|---:|---:|---:|---:|---:|"
        );
        for (framework, data) in summary {
            let fmt = &data["ratios_with_subscriber"];
            let _ = writeln!(
                out,
                "| {framework} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                number(&fmt["rps_c_over_e"]),
                number(&fmt["rps_d_over_e"]),
                number(&fmt["cpu_e_over_d"]),
                number(&fmt["rps_d_with_over_without"]),
                number(&fmt["cpu_d_without_over_with"]),
                number(&fmt["rps_e_with_over_without"]),
            );
        }
    }

    fn render_size(&self, out: &mut String, misses: &mut Vec<String>) {
        let people = &self.people;
        let doc = number(&people["document_bytes"]);
        let typed = &people["typed"];
        let value = &people["value"];
        let peak_ratio = number(&typed["peak_over_document"]);
        let hwm_growth = (number(&people["vm_hwm_kib_after_typed_decode"])
            - number(&people["vm_hwm_kib_at_start"]))
            * 1024.0;
        let _ = writeln!(
            out,
            "## 3. Size\n\n\
             ### The `GET /v2/people/enrich/:id` answer with {count} people\n\n\
             Generated people (four in five fully enriched with one to six positions, the rest \
             sparse or `NOT_FOUND`), compact JSON, decoded from a byte slice in a child process \
             with a counting global allocator. Peak heap counts the document itself, which the \
             process holds while decoding.\n\n\
             | | `EnrichPeopleResult` | `serde_json::Value` |\n|---|---:|---:|\n\
             | document | {doc} | {doc} |\n\
             | decode time (median of 5) | {typed_ms:.1} ms | {value_ms:.1} ms |\n\
             | peak heap while decoding (document included) | {typed_peak} ({peak_ratio:.2}x the document; target {peak_target}x: {verdict}) | {value_peak} ({value_ratio:.2}x) |\n\
             | heap kept by the decoded value | {kept} | |\n\
             | process peak RSS growth (`VmHWM`, reading + decoding) | {hwm} ({hwm_ratio:.2}x the document) | |\n\n\
             One decoded person (`EnrichedPersonResponse`) is a {person}-byte struct before any of \
             its strings.\n",
            count = people["people"],
            doc = mib(doc),
            typed_ms = number(&typed["decode_ms"]),
            value_ms = number(&value["decode_ms"]),
            typed_peak = mib(number(&typed["peak_heap_bytes"])),
            peak_target = PEAK_HEAP_OVER_DOCUMENT.label(),
            verdict = met(PEAK_HEAP_OVER_DOCUMENT.met(peak_ratio)),
            value_peak = mib(number(&value["peak_heap_bytes"])),
            value_ratio = number(&value["peak_over_document"]),
            kept = mib(number(&typed["decoded_heap_bytes"])),
            hwm = mib(hwm_growth),
            hwm_ratio = hwm_growth / doc,
            person = typed["person_struct_bytes"],
        );
        if PEAK_HEAP_OVER_DOCUMENT.missed(peak_ratio) {
            misses.push(format!(
                "Decoding the {}-person answer peaks at {peak_ratio:.2}x the document's heap \
                 (target {}x). See the analysis.",
                people["people"], PEAK_HEAP_OVER_DOCUMENT.written
            ));
        }
        let collector = &self.collector;
        let limit = number(&collector["limit_bytes"]);
        let _ = writeln!(
            out,
            "### Bodies at and over the limit ({})\n\n\
             Through the pipeline's `start` / `BodyCollector::push` / `receive`, 64 KiB chunks, \
             counting allocator (heap the pipeline held, beyond the caller's own copy of the \
             body):\n\n\
             | body | outcome | bytes taken before the outcome | peak heap |\n|---|---|---:|---:|",
            mib(limit)
        );
        let mut bounded = true;
        for (key, label) in [
            (
                "at_limit",
                "exactly at the limit, `Content-Length` declared",
            ),
            (
                "over_100x_streamed",
                "100x the limit, streamed, no declared length",
            ),
            (
                "over_100x_declared",
                "100x the limit, declared with `Content-Length`",
            ),
        ] {
            let case = &collector[key];
            let peak = number(&case["peak_heap_bytes"]);
            bounded &= peak <= 2.0 * limit;
            let _ = writeln!(
                out,
                "| {label} | `{}` | {} | {} |",
                case["outcome"].as_str().unwrap_or("?"),
                mib(number(&case["bytes_accepted_before_outcome"])),
                mib(peak),
            );
        }
        let _ = writeln!(
            out,
            "\nThrough each adapter over HTTP (route (c), a fresh server per body; \"sent\" is \
             what the client had written when the answer came, most of it still in socket \
             buffers, unread by the server):\n\n\
             | framework | body | status | sent before the answer | server peak RSS |\n|---|---|---:|---:|---:|"
        );
        let mut small_rss: BTreeMap<String, f64> = BTreeMap::new();
        for case in self.limits["cases"].as_array().cloned().unwrap_or_default() {
            let framework = case["framework"].as_str().unwrap_or("?").to_owned();
            let name = case["case"].as_str().unwrap_or("?");
            let rss = number(&case["peak_rss_kib"]) * 1024.0;
            if name == "small" {
                small_rss.insert(framework.clone(), rss);
            } else if let Some(small) = small_rss.get(&framework) {
                bounded &= rss - small <= 2.0 * limit;
            }
            let label = match name {
                "small" => "realistic event (reference)",
                "at_limit" => "exactly at the limit",
                "over_100x_declared" => "100x the limit, `Content-Length`",
                "over_100x_chunked" => "100x the limit, chunked",
                other => other,
            };
            let _ = writeln!(
                out,
                "| {framework} | {label} | {} | {} | {} |",
                case["status"],
                mib(number(&case["body_bytes_sent"])),
                mib(rss),
            );
        }
        let _ = writeln!(
            out,
            "\nMemory stays bounded by the limit: {}.\n",
            if bounded {
                "yes (no case held more than twice the limit beyond the reference)"
            } else {
                "**no**"
            }
        );
        if !bounded {
            misses.push(
                "A body over the limit made the pipeline or a server hold more than twice the \
                 limit; see the size section."
                    .to_owned(),
            );
        }
    }

    fn render_profile(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Profile: where the pipeline's instructions go\n\n\
             `valgrind --tool=callgrind target/release/bench-profile pipeline-<event> 2000`, \
             instructions per delivery (inclusive). Under valgrind SHA-256 runs in software (no \
             SHA extensions), so the HMAC's share here is far larger than in the timings above; \
             the other rows are what the pipeline adds around the HMAC and the decode.\n"
        );
        let Some(cases) = &self.profile else {
            let _ = writeln!(out, "valgrind was not installed: no profile in this run.\n");
            return;
        };
        let labels: Vec<String> = cases
            .first()
            .map(|(_, counts)| counts.iter().map(|(label, _)| label.clone()).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| stage | {} |\n|---|{}",
            cases
                .iter()
                .map(|(case, _)| format!("`{case}`"))
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(cases.len())
        );
        for label in labels {
            let cells: Vec<String> = cases
                .iter()
                .map(|(_, counts)| {
                    counts
                        .iter()
                        .find(|(name, _)| *name == label)
                        .map_or("?".to_owned(), |(_, count)| count.to_string())
                })
                .collect();
            let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
        }
        let _ = writeln!(out);
    }
}

/// Section 5: `bench-durable`'s figures `d` against their targets (nothing when `Null`).
fn render_durable(d: &Value, quick: bool, out: &mut String, misses: &mut Vec<String>) {
    if d.is_null() {
        return;
    }
    let count = |key: &str| d[key].as_u64().unwrap_or(0);
    let (small, large) = (
        d["backlogs"][0].as_u64().unwrap_or(0),
        d["backlogs"][1].as_u64().unwrap_or(0),
    );
    let _ = writeln!(
        out,
        "{DURABLE_HEADING} (`axum_receiver` and the worker)\n\n\
             `bench-durable`{quick}: the shipped `axum_receiver` example (release, \
             `--insecure-skip-verification`, so that storage and not HMAC is measured) at {conc} \
             keep-alive connections, every request a distinct ~1.9 KB person event: without an \
             inbox (it prints each event, to `/dev/null`), and with `--inbox` on each engine \
             (`ENRICH_INBOX_WORKER=off`: the web tier alone), a fresh process and database each \
             time, the kinds alternating within each of {rounds} rounds of {requests} requests \
             (after {warmup} of warm-up). Figures are medians over the rounds; `÷ without` is the \
             median of the rounds' ratios.{note}\n\n\
             | receiver | acks/s | ÷ without |\n|---|---:|---:|\n\
             | `axum_receiver`, no inbox | {without:.0} | 1.00× |",
        quick = if d["quick"].as_bool() == Some(true) {
            " --quick"
        } else {
            ""
        },
        conc = count("concurrency"),
        rounds = count("rounds"),
        requests = count("requests"),
        warmup = count("warmup"),
        note = if quick {
            " **Quick run: not for publishing.**"
        } else {
            ""
        },
        without = number(&d["without_per_second"]),
    );
    let empty = Vec::new();
    let acks = d["acks"].as_array().unwrap_or(&empty);
    for engine in acks {
        let _ = writeln!(
            out,
            "| `axum_receiver --inbox`, {} | {:.0} | {:.2}× |",
            engine["engine"].as_str().unwrap_or("?"),
            number(&engine["acks_per_second"]),
            number(&engine["over_without"]),
        );
    }
    let _ = writeln!(
        out,
        "\nThe worker's drain rate: a backlog of pending deliveries stored through the library \
             (`Inbox::store` from 64 tasks), then a default `Worker` (what the examples run) timed \
             from its start until its handler has seen every delivery; a fresh database each \
             time; at {small} pending the median of {runs} runs, at {large} one run. `drain ÷ \
             acks` divides the slower of the two drain rates by the engine's acknowledgements/s \
             above (≥ 1: the worker keeps up with the receiver).\n\n\
             | engine | handler | drained/s at {small} | drained/s at {large} | {large} ÷ {small}, target {} | drain ÷ acks, target {} |\n\
             |---|---|---:|---:|---:|---:|",
        DRAIN_LARGE_OVER_SMALL.label(),
        DRAIN_OVER_ACKS.label(),
        runs = count("small_runs"),
    );
    let drains = d["drains"].as_array().unwrap_or(&empty);
    for engine in drains {
        let name = engine["engine"].as_str().unwrap_or("?");
        let acks_rate = acks
            .iter()
            .find(|acks| acks["engine"].as_str() == Some(name))
            .map_or(f64::NAN, |acks| number(&acks["acks_per_second"]));
        for handler in engine["handlers"].as_array().unwrap_or(&empty) {
            let label = handler["handler"].as_str().unwrap_or("?");
            let (at_small, at_large) = (number(&handler["small"]), number(&handler["large"]));
            let kept = at_large / at_small;
            let keeps = at_small.min(at_large) / acks_rate;
            let _ = writeln!(
                out,
                "| {name} | {label} | {at_small:.0} | {at_large:.0} | {kept:.2}× ({}) | {keeps:.2}× ({}) |",
                met(DRAIN_LARGE_OVER_SMALL.met(kept)),
                met(DRAIN_OVER_ACKS.met(keeps)),
            );
            if DRAIN_LARGE_OVER_SMALL.missed(kept) {
                misses.push(format!(
                    "{name}, handler {label}: the worker drains {kept:.2}x as fast at \
                         {large} pending as at {small} (target {}x).",
                    DRAIN_LARGE_OVER_SMALL.written
                ));
            }
            if DRAIN_OVER_ACKS.missed(keeps) {
                misses.push(format!(
                    "{name}, handler {label}: the worker drains {keeps:.2}x the rate the \
                         receiver acknowledges (target {}x): under sustained load the backlog \
                         grows.",
                    DRAIN_OVER_ACKS.written
                ));
            }
        }
    }
    let _ = writeln!(
        out,
        "\nCounting while draining: the same drain of {large} (no-op handler) with \
             `Inbox::counts` (what `enrich inbox stats` runs) polled every second, run right \
             after one without.\n\n\
             | engine | drained/s | with counts polled | polls | rate lost, target {} |\n\
             |---|---:|---:|---:|---:|",
        COUNTS_POLL_COST.label()
    );
    for engine in drains {
        let name = engine["engine"].as_str().unwrap_or("?");
        let cost = 1.0 - number(&engine["polled"]) / number(&engine["unpolled"]);
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.0} | {} | {cost:.3} ({}) |",
            number(&engine["unpolled"]),
            number(&engine["polled"]),
            engine["polls"].as_u64().unwrap_or(0),
            met(COUNTS_POLL_COST.met(cost)),
        );
        if COUNTS_POLL_COST.missed(cost) {
            misses.push(format!(
                "{name}: polling the inbox's counts every second costs the drain {cost:.3} \
                     of its rate (target {}).",
                COUNTS_POLL_COST.written
            ));
        }
    }
    if d["postgres"].as_bool() != Some(true) {
        let _ = writeln!(
            out,
            "\nPostgres was unreachable in this run: its rows are missing."
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report(load: Value) -> Report {
        Report {
            machine: Machine {
                cpu: String::new(),
                logical_cpus: 2,
                memory: String::new(),
                kernel: String::new(),
                rustc: String::new(),
                load_before: String::new(),
                load_after: String::new(),
                date: String::new(),
            },
            quick: false,
            load_args: String::new(),
            receivers_args: String::new(),
            recording_args: String::new(),
            people_count: "0",
            micro: BTreeMap::new(),
            people: Value::Null,
            collector: Value::Null,
            load,
            receivers: Value::Null,
            recording: Value::Null,
            limits: Value::Null,
            profile: None,
            analysis: None,
            dependency_cost: None,
            hardening: None,
            inbox: String::new(),
            durable: Value::Null,
        }
    }

    fn route(path: &str, rps: f64) -> Value {
        json!({ "path": path, "what": "w", "rps": rps, "p50_us": 1.0, "p99_us": 2.0,
                "cpu_us_per_request": 10.0, "peak_rss_kib": 1024.0 })
    }

    fn sample_load() -> Value {
        json!({
            "settings": { "rounds": 5 },
            "summary": { "axum": {
                "routes": {
                    "a": route("/raw", 5.0), "b": route("/json", 4.0), "c": route("/ours", 3.0),
                    "d": route("/ours-verified", 2.0), "e": route("/hand", 1.0),
                },
                "routes_with_subscriber": {
                    "c": route("/ours", 3.5), "d": route("/ours-verified", 2.5),
                    "e": route("/hand", 1.5),
                },
                "ratios": { "rps_c_over_b": 1.0, "rps_d_over_b": 1.0, "rps_c_over_a": 1.0,
                            "rps_c_over_e": 1.25, "rps_d_over_e": 0.95, "cpu_e_over_c": 1.5,
                            "cpu_e_over_d": 0.96, "cpu_b_over_c": 1.1, "rss_c_over_b": 1.0,
                            "rss_d_over_b": 1.0 },
                "ratios_with_subscriber": { "rps_c_over_e": 1.125, "rps_d_over_e": 0.875,
                                            "cpu_e_over_d": 0.9, "rps_d_with_over_without": 0.5,
                                            "cpu_d_without_over_with": 0.75,
                                            "rps_e_with_over_without": 0.625 },
            }},
        })
    }

    #[test]
    fn the_load_section_compares_ours_with_the_hand_written_route() {
        let load = sample_load();
        let mut out = String::new();
        let mut misses = Vec::new();
        report(load).render_load(&mut out, &mut misses);
        for row in [
            "| axum | (e) `/hand` w | 1 | 1 µs | 2 µs | 10.0 µs | 1.0 MiB |",
            "| axum | (d) + `fmt` `/ours-verified` w | 2 |",
            "| axum | 1.000 (met) | 1.100 (met) | 1.000 (met) |",
            "| axum | 1.250 | 0.950 (**missed**) | 1.500 | 0.960 (**missed**) |",
            "| axum | 1.125 | 0.875 | 0.900 | 0.500 | 0.750 | 0.625 |",
        ] {
            assert!(out.contains(row), "no `{row}` in:\n{out}");
        }
        assert_eq!(misses.len(), 2, "{misses:?}");
        assert!(
            misses
                .iter()
                .any(|miss| miss.contains("0.950x") && miss.contains("requests/s"))
        );
        assert!(
            misses
                .iter()
                .any(|miss| miss.contains("0.960x") && miss.contains("server CPU"))
        );
        // No `bench-load receivers` figures: no section for them.
        assert!(!out.contains("What users run"));
    }

    #[test]
    fn the_receivers_section_checks_each_example_against_its_target() {
        let mut report = report(sample_load());
        report.receivers = json!({
            "settings": { "rounds": 3, "requests": 100, "warmup": 10, "concurrency": 64 },
            "summary": {
                "axum": { "example": "axum_receiver", "example_rps": 900.0, "hand_rps": 1000.0,
                          "example_cpu_us_per_request": 20.0, "hand_cpu_us_per_request": 18.0,
                          "rps_ratio_of_medians": 0.9, "rps_median_of_ratios": 0.91,
                          "rps_ratios": [0.95, 0.91, 0.85], "cpu_ratio_of_medians": 0.9,
                          "cpu_median_of_ratios": 0.9 },
                "poem": { "example": "poem_receiver", "example_rps": 1000.0, "hand_rps": 990.0,
                          "example_cpu_us_per_request": 18.0, "hand_cpu_us_per_request": 18.0,
                          "rps_ratio_of_medians": 1.01, "rps_median_of_ratios": 1.0,
                          "rps_ratios": [1.0], "cpu_ratio_of_medians": 1.0,
                          "cpu_median_of_ratios": 0.98 },
            },
        });
        let (mut out, mut misses) = (String::new(), Vec::new());
        report.render_receivers(&mut out, &mut misses);
        for row in [
            "| axum (`axum_receiver`) | 900 | 1000 | 0.910 (**missed**) | 0.900 | 0.850 to 0.950 \
             | 20.0 µs | 18.0 µs | 0.900 (**missed**) |",
            "| poem (`poem_receiver`) | 1000 | 990 | 1.000 (met) | 1.010 | 1.000 to 1.000 \
             | 18.0 µs | 18.0 µs | 0.980 (met) |",
            "100 measured over 64 connections, the two alternating within each of 3 rounds",
        ] {
            assert!(out.contains(row), "no `{row}` in:\n{out}");
        }
        assert_eq!(misses.len(), 1, "{misses:?}");
        assert!(
            misses[0].contains("`axum_receiver` serves 0.910x"),
            "{misses:?}"
        );
    }

    #[test]
    fn the_recording_rows_check_the_cost_of_recording_against_its_target() {
        let mut report = report(sample_load());
        report.recording = json!({
            "settings": { "rounds": 2, "requests": 100, "warmup": 10, "concurrency": 64 },
            "summary": {
                "axum": { "recorded": "axum_receiver --metrics-listen", "recorded_rps": 940.0,
                          "example_rps": 1000.0, "recorded_cpu_us_per_request": 21.0,
                          "example_cpu_us_per_request": 20.0, "rps_ratio_of_medians": 0.94,
                          "rps_median_of_ratios": 0.95, "rps_ratios": [0.97, 0.93],
                          "cpu_ratio_of_medians": 0.95, "cpu_median_of_ratios": 0.952 },
            },
        });
        let (mut out, mut misses) = (String::new(), Vec::new());
        report.render_recording(&mut out, &mut misses);
        let row = "| `axum_receiver` | 940 | 1000 | 0.950 (**missed**) | 0.940 | 0.930 to 0.970 \
                   | 21.0 µs | 20.0 µs | 0.952 |";
        assert!(out.contains(row), "no `{row}` in:\n{out}");
        assert_eq!(misses.len(), 1, "{misses:?}");
        assert!(misses[0].contains("serves 0.950x"), "{misses:?}");
        // Not run: no rows, nothing missed.
        let (mut out, mut misses) = (String::new(), Vec::new());
        report.recording = Value::Null;
        report.render_recording(&mut out, &mut misses);
        assert!(out.is_empty() && misses.is_empty());
    }

    #[test]
    fn every_target_is_written_as_its_bound() {
        for target in TARGETS {
            assert_eq!(
                target.written.parse::<f64>(),
                Ok(target.bound),
                "{target:?}"
            );
            assert!(target.met(target.bound) && !target.missed(target.bound));
            // Not measured: not met, and not listed as missed either.
            assert!(!target.met(f64::NAN) && !target.missed(f64::NAN));
        }
        assert_eq!(PIPELINE_OVER_FLOOR.label(), "≤ 1.10");
        assert_eq!(TYPED_SPEEDUP.label(), "≥ 2");
    }

    #[test]
    fn a_ratio_beyond_its_target_is_marked_and_listed() {
        let mut report = report(Value::Null);
        for (event, _) in EVENTS {
            for (routine, ns) in [("value", 150.0), ("typed", 100.0), ("hmac", 10.0)] {
                report
                    .micro
                    .insert((event.to_owned(), routine.to_owned()), ns);
            }
            report
                .micro
                .insert((event.to_owned(), "ours_pipeline".to_owned()), 105.0);
        }
        let (mut out, mut misses) = (String::new(), Vec::new());
        report.render_micro(&mut out, &mut misses);
        assert!(
            out.contains("| Value ÷ typed (typed decode speed-up) | ≥ 2 | 1.500 (**missed**) |")
        );
        assert!(out.contains("| pipeline ÷ (HMAC + typed) | ≤ 1.10 | 0.955 (met) |"));
        assert_eq!(misses.len(), EVENTS.len(), "{misses:?}");
        assert!(misses.iter().all(|miss| miss.contains("(target 2x)")));
    }

    #[test]
    fn the_durable_section_checks_each_engine_against_its_targets() {
        let mut report = report(Value::Null);
        report.durable = json!({
            "quick": false, "postgres": true, "concurrency": 64, "rounds": 7,
            "requests": 20000, "warmup": 2000, "backlogs": [1000, 100000], "small_runs": 3,
            "without_per_second": 40000.0,
            "acks": [
                { "engine": "SQLite", "acks_per_second": 10000.0, "over_without": 0.25 },
                { "engine": "Postgres", "acks_per_second": 2000.0, "over_without": 0.05 },
            ],
            "drains": [
                { "engine": "SQLite", "unpolled": 1000.0, "polled": 950.0, "polls": 100,
                  "handlers": [
                      { "handler": "no-op", "small": 2000.0, "large": 1000.0 },
                      { "handler": "prints the line", "small": 12000.0, "large": 11000.0 },
                  ] },
                { "engine": "Postgres", "unpolled": 3000.0, "polled": 2000.0, "polls": 30,
                  "handlers": [
                      { "handler": "no-op", "small": 3000.0, "large": 3000.0 },
                  ] },
            ],
        });
        let (mut out, mut misses) = (String::new(), Vec::new());
        render_durable(&report.durable, false, &mut out, &mut misses);
        assert!(
            out.contains("| `axum_receiver --inbox`, Postgres | 2000 | 0.05× |"),
            "{out}"
        );
        assert!(
            out.contains(
                "| SQLite | no-op | 2000 | 1000 | 0.50× (**missed**) | 0.10× (**missed**) |"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "| SQLite | prints the line | 12000 | 11000 | 0.92× (met) | 1.10× (met) |"
            ),
            "{out}"
        );
        assert!(
            out.contains("| Postgres | no-op | 3000 | 3000 | 1.00× (met) | 1.50× (met) |"),
            "{out}"
        );
        assert!(
            out.contains("| SQLite | 1000 | 950 | 100 | 0.050 (met) |"),
            "{out}"
        );
        assert!(
            out.contains("| Postgres | 3000 | 2000 | 30 | 0.333 (**missed**) |"),
            "{out}"
        );
        assert_eq!(misses.len(), 3, "{misses:?}");
        let mut nothing = String::new();
        render_durable(&Value::Null, false, &mut nothing, &mut misses);
        assert!(nothing.is_empty());
    }

    #[test]
    fn a_section_regenerated_alone_replaces_only_itself_and_the_header_says_so() {
        let before = "# Benchmarks\n\nGenerated by `cargo xtask bench` on D0.\n\n## Machine\n\nm\n\n\
                      ## 2. HTTP load\n\nold load\n\n### What users run\n\nold receivers\n\n\
                      ## 3. Size\n\nsize\n\n## 4. The inbox\n\nold inbox\n\n\
                      ## 5. The durable path\n\nold durable\n";
        let after = replace_section(before, Section::Load, "\n## 2. HTTP load\n\nnew load\n")
            .expect("section 2");
        assert!(
            after.contains("## 2. HTTP load\n\nnew load\n\n## 3. Size\n\nsize"),
            "{after}"
        );
        assert!(
            !after.contains("old load") && !after.contains("old receivers"),
            "{after}"
        );
        let after = replace_section(
            &after,
            Section::Durable,
            "\n## 5. The durable path\n\nnew\n",
        )
        .expect("section 5");
        assert!(
            after.ends_with("old inbox\n\n## 5. The durable path\n\nnew\n"),
            "{after}"
        );
        let after = note_regenerated(&after, Section::Durable, "D5");
        let after = note_regenerated(&after, Section::Load, "D2");
        let after = note_regenerated(&after, Section::Durable, "D5b");
        assert!(
            after.contains(&format!(
                "on D0.\n\n{REGENERATED}section 2 on D2; section 5 on D5b. Those sections"
            )),
            "{after}"
        );
        assert_eq!(after.matches(REGENERATED).count(), 1, "{after}");
        assert!(after.contains("whole run's).\n\n## Machine"), "{after}");
        assert!(
            replace_section("# Benchmarks\n", Section::Inbox, "x").is_err(),
            "a missing section is an error"
        );
        assert_eq!(Section::named("inbox"), Ok(Section::Inbox));
        assert!(Section::named("size").is_err());
    }
}
