//! The README is tested: every ```sh block of README.md runs as written, in bash with
//! `set -euo pipefail`, and the test fails when one does not work.
//!
//! How a block runs (the README's "Running the README's commands" note says the same):
//! - Each `##` section gets a fresh empty working directory; its blocks run there in order,
//!   so a later block sees what an earlier one made (`./suanpan-data`, `jar`, backups).
//! - `suanpan` is this build's binary (put first on `PATH`), and `cargo` is a shim: `cargo run
//!   [--release] -p suanpan -- ARGS` runs it, `cargo build [--release] -p suanpan` links it as
//!   `target/release/suanpan`; any other cargo call fails (the tests are not run from here).
//! - The documented default addresses (8583 `127.0.0.1:5800`, back-office `127.0.0.1:8080`,
//!   `/healthz` `127.0.0.1:9180`, and the two-node example's 5801/5802, 8081/8082,
//!   8091/8092) are replaced everywhere in the section by free ports, and a block whose
//!   command only starts a server (`serve` without `&`) is told so by a `serve` marker on
//!   the line before it. A `serve` gets `--http`, `--http-addr` and `--iso8583-addr` with
//!   the substituted defaults when the block gives none, so two sections never share a port.
//! - `<!-- readme-test: serve -->` before a block: it is started, probed (its back-office
//!   answers `/healthz`) and left running until the section ends or the next `serve` block
//!   replaces it; then stopped. Servers a
//!   block starts with `&` are stopped at the section's end too.
//! - `<!-- readme-test: skip REASON -->` before a block: not run, and the reason is printed
//!   (the README's own `cargo test --workspace`, the interactive terminal, a refresh of the
//!   screenshots). A block without a marker always runs: nothing is skipped silently.
//! - `curl` fails on an HTTP error status (`--fail-with-body`), so an answer of 4xx/5xx to a
//!   README call is a failing block, not a printed error.
//! - Sections whose blocks name PostgreSQL (`postgres://`) run only with
//!   `SUANPAN_TEST_DATABASE_URL` (else they print "skipped"): its server stands for
//!   `127.0.0.1:5432`, and the database `suanpan` is a fresh one, dropped after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a `serve` block may take to answer `/healthz`.
const SERVE_READY_MS_MAX: u64 = 60_000;
/// How long one block may run.
const BLOCK_MS_MAX: u64 = 600_000;

/// The default addresses of the README, replaced by free ports.
const DEFAULT_PORTS: [u16; 9] = [5800, 8080, 9180, 5801, 5802, 8081, 8082, 8091, 8092];

#[derive(Debug, Clone, PartialEq)]
enum Marker {
    Run,
    Serve,
    Skip(String),
}

#[derive(Debug)]
struct Block {
    section: String,
    line: usize,
    marker: Marker,
    text: String,
}

fn readme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")
}

/// The ```sh blocks, with their section and marker.
fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let (mut section, mut marker, mut current) = (String::new(), Marker::Run, None::<Block>);
    for (i, line) in readme.lines().enumerate() {
        if let Some(b) = current.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push(current.take().expect("open block"));
            } else {
                b.text.push_str(line);
                b.text.push('\n');
            }
            continue;
        }
        if let Some(h) = line.strip_prefix("## ") {
            section = h.trim().to_owned();
        } else if let Some(m) = line
            .trim()
            .strip_prefix("<!-- readme-test:")
            .and_then(|m| m.strip_suffix("-->"))
        {
            let m = m.trim();
            marker = if m == "serve" {
                Marker::Serve
            } else if let Some(reason) = m.strip_prefix("skip") {
                let reason = reason.trim();
                assert!(
                    !reason.is_empty(),
                    "README line {}: a skip needs a reason",
                    i + 1
                );
                Marker::Skip(reason.to_owned())
            } else {
                panic!("README line {}: unknown readme-test marker {m:?}", i + 1);
            };
        } else if line.trim() == "```sh" {
            current = Some(Block {
                section: section.clone(),
                line: i + 1,
                marker: std::mem::replace(&mut marker, Marker::Run),
                text: String::new(),
            });
        }
    }
    assert!(current.is_none(), "README ends inside a code block");
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The tools a block finds first on `PATH`: this build's `suanpan` and the `cargo` shim.
fn tool_dir(root: &Path) -> PathBuf {
    let dir = root.join("bin");
    std::fs::create_dir_all(&dir).expect("bin dir");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_suanpan"));
    std::os::unix::fs::symlink(&bin, dir.join("suanpan")).expect("link suanpan");
    let shim = format!(
        r#"#!/usr/bin/env bash
# The README test's cargo: this build's suanpan instead of a release build.
set -euo pipefail
case "${{1:-}}" in
  run) shift; while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done; shift; exec {bin} "$@" ;;
  build) mkdir -p target/release && ln -sf {bin} target/release/suanpan ;;
  *) echo "readme test: cargo $* is not run from the README test (mark its block skip)" >&2; exit 1 ;;
esac
"#,
        bin = bin.display()
    );
    let path = dir.join("cargo");
    std::fs::write(&path, shim).expect("cargo shim");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// What the section's blocks stand for: ports, and the PostgreSQL URL and database name.
struct Substitutions {
    ports: BTreeMap<u16, u16>,
    database: Option<(String, String)>,
}

impl Substitutions {
    fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (from, to) in &self.ports {
            out = out.replace(&format!("127.0.0.1:{from}"), &format!("127.0.0.1:{to}"));
            out = out.replace(&format!("127.0.0.1:{from}/"), &format!("127.0.0.1:{to}/"));
        }
        if let Some((server, name)) = &self.database {
            out = out.replace(
                "postgres://postgres@127.0.0.1:5432/suanpan",
                &format!("{server}/{name}"),
            );
            out = out.replace(
                "CREATE DATABASE suanpan",
                &format!("CREATE DATABASE {name}"),
            );
            let (host, port) = host_port(server);
            out = out.replace("psql -h 127.0.0.1", &format!("psql -h {host} -p {port}"));
        }
        out
    }
}

/// `postgres://user@host:port` → (host, port).
fn host_port(server: &str) -> (String, String) {
    let rest = server.rsplit('@').next().unwrap_or(server);
    let (host, port) = rest.split_once(':').unwrap_or((rest, "5432"));
    (host.to_owned(), port.to_owned())
}

/// `serve` without addresses gets the (substituted) defaults, so nothing binds the real ones.
fn pin_serve_addresses(line: &str, subs: &Substitutions) -> String {
    let port = |p: u16| subs.ports[&p];
    let mut out = line.to_owned();
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.contains(&"serve") && !line.contains("--http ") {
        let mut add = String::new();
        if !line.contains("--iso8583-addr") {
            add.push_str(&format!(" --iso8583-addr 127.0.0.1:{}", port(5800)));
        }
        if !line.contains("--http-addr") {
            add.push_str(&format!(" --http-addr 127.0.0.1:{}", port(9180)));
        }
        add.push_str(&format!(" --http 127.0.0.1:{}", port(8080)));
        out = out.replacen(" serve", &format!(" serve{add}"), 1);
    }
    out
}

/// A block's script: strict bash, `curl` failing on HTTP errors.
fn script(text: &str, subs: &Substitutions) -> String {
    let mut body = String::from(
        "set -euo pipefail\ncurl() { case \" $* \" in *\" -f\"*|*\" --fail\"*) command curl --max-time 120 \"$@\";; *) command curl --fail-with-body --max-time 120 \"$@\";; esac; }\n",
    );
    // Continuation lines are joined first so a `serve` split over lines is seen whole.
    let joined = text.replace("\\\n", " ");
    for line in joined.lines() {
        body.push_str(&pin_serve_addresses(&subs.apply(line), subs));
        body.push('\n');
    }
    body
}

fn bash(script: &str, dir: &Path, path_env: &str) -> Command {
    let mut c = Command::new("setsid");
    c.arg("bash").arg("-c").arg(script).current_dir(dir);
    c.env("PATH", path_env);
    for var in [
        "SUANPAN_DATA_DIR",
        "SUANPAN_DATABASE",
        "SUANPAN_LANG",
        "SUANPAN_HTTP",
    ] {
        c.env_remove(var);
    }
    c
}

/// Stops a block's process group (the server and anything it started).
fn stop(child: &mut Child) {
    let pgid = child.id() as i32;
    // SAFETY-free: `kill` with a negative pid signals the group `setsid` made for this child.
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}

fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// The plain-HTTP `/healthz` port a serve block listens on (`--http-addr`: the back-office
/// may be HTTPS).
fn serve_port(script: &str) -> u16 {
    script
        .split("--http-addr ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .expect("a serve block's --http-addr port")
}

/// Runs one section's blocks; returns the failures.
fn run_section(name: &str, blocks: &[&Block], root: &Path, path_env: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let pg = blocks.iter().any(|b| b.text.contains("postgres://"));
    let database = match (pg, std::env::var("SUANPAN_TEST_DATABASE_URL")) {
        (false, _) => None,
        (true, Ok(url)) => {
            let server = url
                .rsplit_once('/')
                .map(|(s, _)| s.to_owned())
                .unwrap_or(url);
            Some((server, format!("readme_{}", std::process::id())))
        }
        (true, Err(_)) => {
            println!("skipped: section {name:?} (PostgreSQL; set SUANPAN_TEST_DATABASE_URL)");
            return failures;
        }
    };
    let subs = Substitutions {
        ports: DEFAULT_PORTS.iter().map(|p| (*p, free_port())).collect(),
        database,
    };
    let dir = root.join(format!("section-{}", blocks[0].line));
    std::fs::create_dir_all(&dir).expect("section dir");
    let mut running: Vec<Child> = Vec::new();
    for b in blocks {
        let what = format!("README line {} ({name})", b.line);
        let text = script(&b.text, &subs);
        match &b.marker {
            Marker::Skip(reason) => println!("skipped: {what}: {reason}"),
            Marker::Serve => {
                // One server per section at a time: a new `serve` replaces the one before
                // (they share the section's data directory and ports).
                for mut c in running.drain(..) {
                    stop(&mut c);
                }
                let port = serve_port(&text);
                let log =
                    std::fs::File::create(dir.join(format!("serve-{}.log", b.line))).expect("log");
                let mut child = bash(&text, &dir, path_env)
                    .stdout(log.try_clone().expect("log"))
                    .stderr(log)
                    .spawn()
                    .expect("bash");
                let deadline = Instant::now() + Duration::from_millis(SERVE_READY_MS_MAX);
                let mut up = false;
                while Instant::now() < deadline {
                    if healthy(port) {
                        up = true;
                        break;
                    }
                    if let Ok(Some(status)) = child.try_wait() {
                        failures.push(format!("{what}: the server stopped ({status})"));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                if !up && failures.last().is_none_or(|f| !f.starts_with(&what)) {
                    failures.push(format!("{what}: /healthz never answered on {port}"));
                }
                println!("ran: {what} (serving on {port})");
                running.push(child);
            }
            Marker::Run => {
                let started = Instant::now();
                // Output goes to files, not pipes: a server the block starts with `&` keeps
                // its copy of the descriptors open until the section stops it.
                let (out_path, err_path) = (
                    dir.join(format!("block-{}.out", b.line)),
                    dir.join(format!("block-{}.err", b.line)),
                );
                let mut child = bash(&text, &dir, path_env)
                    .stdout(std::fs::File::create(&out_path).expect("out file"))
                    .stderr(std::fs::File::create(&err_path).expect("err file"))
                    .spawn()
                    .expect("bash");
                let status = loop {
                    if let Ok(Some(s)) = child.try_wait() {
                        break Some(s);
                    }
                    if started.elapsed() > Duration::from_millis(BLOCK_MS_MAX) {
                        break None;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                };
                // Whatever the block left running (`&`) is stopped with the section.
                running.push(child);
                let (out, err) = (
                    std::fs::read_to_string(&out_path).unwrap_or_default(),
                    std::fs::read_to_string(&err_path).unwrap_or_default(),
                );
                match status {
                    Some(s) if s.success() => {
                        println!("ran: {what} ({:.1} s)", started.elapsed().as_secs_f64())
                    }
                    other => failures.push(format!(
                        "{what}: {}\n--- script\n{text}--- stdout\n{}\n--- stderr\n{}",
                        other.map_or("timed out".to_owned(), |s| s.to_string()),
                        tail(&out),
                        tail(&err)
                    )),
                }
            }
        }
    }
    for mut c in running {
        stop(&mut c);
    }
    if let Some((server, db)) = &subs.database {
        let (host, port) = host_port(server);
        let _ = Command::new("psql")
            .args(["-h", &host, "-p", &port, "-U", "postgres", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .status();
    }
    failures
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Goal: every command block of README.md works as written (with the substitutions the
/// module comment lists), section by section on fresh directories; a block that is not run
/// says why in the README itself.
#[test]
fn every_readme_command_works_as_written() {
    let readme = std::fs::read_to_string(readme_path()).expect("README.md");
    let all = blocks(&readme);
    assert!(all.len() > 10, "found only {} sh blocks", all.len());
    let root = tempfile::tempdir().expect("temp dir");
    let tools = tool_dir(root.path());
    let path_env = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sections: Vec<(String, Vec<&Block>)> = Vec::new();
    for b in &all {
        match sections.last_mut() {
            Some((name, list)) if *name == b.section => list.push(b),
            _ => sections.push((b.section.clone(), vec![b])),
        }
    }
    let only = std::env::var("SUANPAN_README_SECTION").ok();
    let mut failures = Vec::new();
    for (name, list) in &sections {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        failures.extend(run_section(name, list, root.path(), &path_env));
    }
    assert!(
        failures.is_empty(),
        "{} README block(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Goal: the markers are read as the README means them: a block after a skip marker is
/// skipped with its reason, a serve marker starts a server, an unmarked block runs.
#[test]
fn markers_apply_to_the_next_block_only() {
    let text = "## A\n<!-- readme-test: skip needs a phone -->\n```sh\nx\n```\n```sh\ny\n```\n## B\n<!-- readme-test: serve -->\n```sh\nsuanpan serve --demo\n```\n";
    let b = blocks(text);
    assert_eq!(b.len(), 3);
    assert_eq!(b[0].marker, Marker::Skip("needs a phone".into()));
    assert_eq!(b[1].marker, Marker::Run);
    assert_eq!(
        (b[2].marker.clone(), b[2].section.as_str()),
        (Marker::Serve, "B")
    );
    let subs = Substitutions {
        ports: DEFAULT_PORTS.iter().map(|p| (*p, p + 10_000)).collect(),
        database: None,
    };
    let s = script(
        "suanpan serve --demo\ncurl http://127.0.0.1:8080/healthz\n",
        &subs,
    );
    assert!(s.contains("serve --iso8583-addr 127.0.0.1:15800 --http-addr 127.0.0.1:19180 --http 127.0.0.1:18080 --demo"), "{s}");
    assert!(s.contains("http://127.0.0.1:18080/healthz"), "{s}");
}
