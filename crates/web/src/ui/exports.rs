//! 导出 in the background: a large export (more rows than the listing counts exactly,
//! [`suanpan_store::query::COUNT_EXACT_MAX`]) runs as a job on the server; its page shows how far it got — refreshing itself, so it works without
//! JavaScript — and, once the file is complete, a link to download it. The file is written
//! under the data directory, offered only to the user who asked, and removed after an hour.

use super::{Base, CsrfForm, FormIn, error_page, page_caller, page_form, show};
use crate::api::{ExportPlan, TxnQuery, plan_export};
use crate::auth::Caller;
use crate::catalog::{t, tf};
use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use suanpan_core::backoffice::Permission;

/// How long a finished export is kept for its download.
const KEPT: Duration = Duration::from_secs(3_600);
/// Seconds between two refreshes of a running export's page.
const REFRESH_SECONDS: u32 = 2;

enum Stage {
    Counting,
    Writing,
    Ready { rows: u64 },
    Failed(String),
}

struct Job {
    owner: i64,
    xlsx: bool,
    file: std::path::PathBuf,
    /// The file, open and exclusively locked for as long as the job exists: a process
    /// starting later knows by the lock that the file is still someone's
    /// ([`sweep_left_files`]). The lock goes with the process, whatever ends it.
    handle: std::fs::File,
    name: String,
    started: Instant,
    total: AtomicU64,
    done: AtomicU64,
    stage: Mutex<Stage>,
}

impl Job {
    fn set(&self, s: Stage) {
        if let Ok(mut g) = self.stage.lock() {
            *g = s;
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// The process's export jobs by id (random, unguessable), with the files they wrote.
fn jobs() -> &'static Mutex<HashMap<String, Arc<Job>>> {
    static JOBS: OnceLock<Mutex<HashMap<String, Arc<Job>>>> = OnceLock::new();
    JOBS.get_or_init(Default::default)
}

fn find(id: &str, caller: &Caller) -> Result<Arc<Job>, ApiError> {
    let job = jobs().lock().ok().and_then(|j| j.get(id).cloned());
    match job {
        Some(j) if j.owner == caller.user.id => Ok(j),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            caller.lang,
            "export.job_unknown",
            &[],
        )),
    }
}

/// `POST /exports?<filters>&format=csv|xlsx`: starts the export and leads to its page.
pub(super) async fn export_start(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<TxnQuery>, axum::extract::rejection::QueryRejection>,
    form: FormIn<CsrfForm>,
) -> Response {
    let (caller, _) = match page_form(caller, form, "/txns") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match start(&state, &caller, query).await {
        Ok(id) => Redirect::to(&format!("/exports/{id}")).into_response(),
        Err(e) => error_page(Some(&caller), e, "/txns"),
    }
}

async fn start(
    state: &AppState,
    caller: &Caller,
    query: Result<Query<TxnQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<String, ApiError> {
    let lang = caller.lang;
    let Ok(Query(q)) = query else {
        caller.require(Permission::Export)?;
        return Err(ApiError::invalid(lang, "query"));
    };
    let ExportPlan {
        filter: f,
        xlsx,
        zone,
        filter_text,
        day,
        values,
    } = plan_export(state, caller, &q).await?;
    let dir = state.data_dir().join("exports");
    std::fs::create_dir_all(&dir).map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    sweep();
    let id = crate::auth::random_secret();
    let ext = if xlsx { "xlsx" } else { "csv" };
    let file = dir.join(format!("{id}.{ext}"));
    let handle = create_locked(&file).map_err(|e| ApiError::invalid(lang, e.to_string()))?;
    let job = Arc::new(Job {
        owner: caller.user.id,
        xlsx,
        file,
        handle,
        name: format!("suanpan-{day}.{ext}"),
        started: Instant::now(),
        total: AtomicU64::new(0),
        done: AtomicU64::new(0),
        stage: Mutex::new(Stage::Counting),
    });
    if let Ok(mut j) = jobs().lock() {
        j.insert(id.clone(), job.clone());
    }
    let store = state.store().clone();
    std::thread::spawn(move || {
        let result = (|| -> anyhow::Result<u64> {
            let total = suanpan_store::read(&*store, |c| suanpan_store::query::count_in(c, &f))?;
            job.total.store(total, Ordering::Relaxed);
            job.set(Stage::Writing);
            let export = suanpan_export::Export {
                store: &*store,
                filter: &f,
                zone: &zone,
                headers: suanpan_export::headers(lang),
                values,
                filter_text: &filter_text,
            };
            let tick = |i: u64| job.done.store(i, Ordering::Relaxed);
            // Written through the locked handle, so the lock stays on the file offered.
            let file = job.handle.try_clone()?;
            if job.xlsx {
                let (mut book, n) = export.xlsx(tick)?;
                book.save_to_writer(&file)?;
                file.sync_all()?;
                Ok(n)
            } else {
                let (n, out) = export.write_csv(std::io::BufWriter::new(file), tick)?;
                out.into_inner()
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .sync_all()?;
                Ok(n)
            }
        })();
        match result {
            Ok(rows) => job.set(Stage::Ready { rows }),
            Err(e) => {
                let _ = std::fs::remove_file(&job.file);
                let text = match e.downcast_ref::<suanpan_export::XlsxTooLarge>() {
                    Some(too) => tf(lang, "export.xlsx_too_large", &[too.rows_max.to_string()]),
                    None => {
                        tracing::error!("export failed: {e:#}");
                        t(lang, "export.failed").to_owned()
                    }
                };
                job.set(Stage::Failed(text));
            }
        }
    });
    Ok(id)
}

/// Creates an export's file, empty, and locks it for this process.
fn create_locked(file: &std::path::Path) -> std::io::Result<std::fs::File> {
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(file)?;
    handle.try_lock().map_err(std::io::Error::other)?;
    Ok(handle)
}

/// At start-up: deletes the files of `DATA_DIR/exports/` that no running process holds —
/// exports a stopped or crashed server was writing or still offering. Their jobs died
/// with it, so nobody can download them any more, and a half-written file must not lie
/// around looking like an export. Files another live process holds (its lock) stay.
/// Returns how many were deleted.
pub fn sweep_left_files(data_dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(data_dir.join("exports")) else {
        return 0;
    };
    let mut deleted = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        // `try_lock` fails only while another open file holds the lock.
        if file.try_lock().is_ok() {
            match std::fs::remove_file(&path) {
                Ok(()) => deleted += 1,
                Err(e) => {
                    tracing::warn!(file = %path.display(), "could not delete a left export file: {e}")
                }
            }
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "deleted export files left by a stopped server");
    }
    deleted
}

/// Forgets exports older than [`KEPT`] (their files go with them).
fn sweep() {
    if let Ok(mut j) = jobs().lock() {
        j.retain(|_, job| job.started.elapsed() < KEPT);
    }
}

#[derive(Template)]
#[template(path = "export.html")]
struct ExportPage {
    base: Base,
    id: String,
    /// Still running: the page refreshes itself every `refresh` seconds.
    running: bool,
    refresh: u32,
    ready: bool,
    /// What the job is doing, in words.
    status: String,
    /// Rows written and rows to write (0 while counting).
    done: u64,
    total: u64,
    failed: Option<String>,
}

/// `GET /exports/{id}`: how far the export got, or its download link.
pub(super) async fn export_page(
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Response {
    let path = format!("/exports/{id}");
    show(caller, "/txns", async |caller| {
        let job = find(&id, caller)?;
        let lang = caller.lang;
        let (done, total) = (
            job.done.load(Ordering::Relaxed),
            job.total.load(Ordering::Relaxed),
        );
        let group = super::txns::group_digits;
        let (running, ready, status, failed) = match &*job
            .stage
            .lock()
            .map_err(|_| ApiError::invalid(lang, "export"))?
        {
            Stage::Counting => (true, false, t(lang, "export.counting").to_owned(), None),
            Stage::Writing => (
                true,
                false,
                tf(lang, "export.writing", &[group(done), group(total)]),
                None,
            ),
            Stage::Ready { rows } => (false, true, tf(lang, "export.ready", &[group(*rows)]), None),
            Stage::Failed(text) => (false, false, String::new(), Some(text.clone())),
        };
        Ok(ExportPage {
            base: Base::of(caller, "txns", "export.title", &path),
            id: id.clone(),
            running,
            refresh: REFRESH_SECONDS,
            ready,
            status,
            done,
            total,
            failed,
        })
    })
    .await
}

/// The file in chunks, read on the blocking pool while the client takes them.
fn stream_file(mut file: std::fs::File) -> Body {
    use std::io::Read;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut buf = vec![0u8; 64 * 1024];
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(buf.into())).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    Body::from_stream(futures_util::StreamExt::fuse(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|c| (c, rx)) },
    )))
}

/// `GET /exports/{id}/file`: the finished file, to its owner.
pub(super) async fn export_file(
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Response {
    let caller = match page_caller(caller) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let job = match find(&id, &caller) {
        Ok(j) => j,
        Err(e) => return error_page(Some(&caller), e, "/txns"),
    };
    let ready = matches!(job.stage.lock().as_deref(), Ok(Stage::Ready { .. }));
    if !ready {
        return Redirect::to(&format!("/exports/{id}")).into_response();
    }
    let file = match std::fs::File::open(&job.file) {
        Ok(f) => f,
        Err(e) => {
            let err = ApiError::invalid(caller.lang, e.to_string());
            return error_page(Some(&caller), err, "/txns");
        }
    };
    let body = stream_file(file);
    let mut resp = Response::new(body);
    let content_type = if job.xlsx {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "text/csv; charset=utf-8"
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", job.name)) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
