//! Outgoing webhooks (issue 13): endpoints, the outbox and the delivery log, on either
//! backend. Nothing here decides: the back-off and the address rule are
//! `suanpan_core::notify`; the worker that signs and POSTs is `suanpan-notify`.
//!
//! **The outbox.** [`enqueue`] runs on the caller's connection *inside* the transaction of
//! the change it reports (the writer's group for a void, refund or settlement; a setup
//! transaction for a case): the event and one delivery per subscribed endpoint commit with
//! the change or not at all, so no event is lost and none is sent for a rolled-back change.
//! A worker then claims due deliveries with one conditional `UPDATE` each (of two nodes, one
//! wins), posts, and records the attempt.

use crate::error::StoreError;
use crate::p;
use crate::rows::micros;
use crate::sql::{Sql, SqlExt, SqlRow};
use crate::{Store, read, setup};
use jiff::Timestamp;
use serde::Serialize;
use suanpan_core::MerchantId;
use suanpan_core::notify::{DeliveryStatus, EventKind, after_attempt};

/// Endpoints one owner (a merchant, or the acquirer) has at most.
pub const ENDPOINTS_PER_OWNER_MAX: u32 = 20;
/// Deliveries or attempts one listing returns at most.
pub const DELIVERIES_ROWS_MAX: u32 = 200;
/// Deliveries one worker pass claims at most.
pub const CLAIM_BATCH_MAX: u32 = 32;
/// A delivery claimed this long ago whose worker never recorded an attempt (it died) is
/// claimed again.
pub const CLAIM_STALE_SECONDS: i64 = 300;
/// Longest endpoint URL accepted.
pub const URL_BYTES_MAX: usize = 2048;
/// Characters of an error kept per attempt.
pub const ERROR_CHARS_MAX: usize = 500;

/// The owner of an endpoint: a merchant, or (`None`) the acquirer, whose endpoints receive
/// every merchant's events.
pub type Owner<'a> = Option<&'a MerchantId>;

/// A stored endpoint (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointRow {
    /// Store id.
    pub id: i64,
    /// The merchant; `None` for the acquirer's.
    pub merchant_id: Option<String>,
    /// Where events are POSTed.
    pub url: String,
    /// The subscribed event types.
    pub events: Vec<String>,
    /// A note for people.
    pub description: String,
    /// Whether events are sent.
    pub enabled: bool,
    /// When (Unix µs).
    pub created_at: i64,
    /// Who (actor).
    pub created_by: String,
}

/// A delivery of one event to one endpoint, with its event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRow {
    /// Store id.
    pub id: i64,
    /// The endpoint.
    pub endpoint_id: i64,
    /// The event's id (`X-Suanpan-Event-Id`).
    pub event_id: String,
    /// The event type.
    pub kind: String,
    /// `pending`, `delivering`, `delivered`, `failed`.
    pub status: String,
    /// Attempts since it was queued or last replayed.
    pub attempts: u32,
    /// The next attempt (Unix µs), while pending.
    pub next_at: i64,
    /// The last HTTP status, if the receiver answered.
    pub last_code: Option<i64>,
    /// The last error in words.
    pub last_error: String,
    /// When the event was made (Unix µs).
    pub created_at: i64,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRow {
    /// When it started (Unix µs).
    pub at: i64,
    /// The receiver's HTTP status; `None` when it did not answer.
    pub status_code: Option<i64>,
    /// Milliseconds to the answer or the failure.
    pub latency_ms: i64,
    /// What went wrong, in words (empty on success).
    pub error: String,
    /// Whether a person's replay started it.
    pub replay: bool,
}

/// A claimed delivery: everything the worker needs to post it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery.
    pub id: i64,
    /// Its endpoint's URL.
    pub url: String,
    /// Its endpoint's id (the secret's identity).
    pub endpoint_id: i64,
    /// The endpoint's secret, wrapped under the KEK.
    pub secret_wrapped: String,
    /// `X-Suanpan-Event-Id`.
    pub event_id: String,
    /// The event type.
    pub kind: String,
    /// The JSON body, exactly as stored.
    pub body: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// Whether the last transition was a replay.
    pub replay: bool,
}

/// How one attempt ended, as the worker saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// Milliseconds it took.
    pub latency_ms: i64,
    /// What went wrong, in words; empty when the receiver answered 2xx.
    pub error: String,
}

impl Attempt {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        matches!(self.status_code, Some(200..=299))
    }
}

/// The secret's identity under the KEK.
pub fn secret_identity(endpoint_id: i64) -> String {
    format!("webhook:endpoint:{endpoint_id}")
}

/// Queues `kind` with `data` for every enabled endpoint of `merchant` (and of the acquirer)
/// subscribed to it, on `conn` inside the caller's transaction; returns how many deliveries
/// were queued (0: nobody listens, and nothing is written). The body is
/// `{"id", "type", "created_at", "merchant_id", "data"}`.
///
/// This is the one way to emit an event: call it where the change is written, in the same
/// transaction (the risk alerts call it with [`EventKind::AlertRaised`]).
pub fn enqueue(
    conn: &dyn Sql,
    now: Timestamp,
    kind: EventKind,
    merchant: Option<&MerchantId>,
    data: &impl Serialize,
) -> Result<usize, StoreError> {
    // The acquirer's endpoints hear every merchant; a merchant's only its own.
    let whose = if kind.acquirer_only() {
        // ?1 stays bound (one parameter list) but names no merchant here; the cast gives
        // PostgreSQL its type.
        "(merchant_id IS NULL OR CAST(?1 AS TEXT) IS NULL AND 1 = 0)"
    } else {
        "(merchant_id IS NULL OR merchant_id = ?1)"
    };
    let endpoints = conn.rows(
        &format!(
            "SELECT id FROM webhook_endpoints
              WHERE enabled = 1 AND removed_at IS NULL AND {whose}
                AND (',' || events || ',') LIKE ?2
              ORDER BY id"
        ),
        p![
            merchant.map(MerchantId::as_str),
            format!("%,{},%", kind.as_str()).as_str()
        ],
        |r| r.i64(0),
    )?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let event_id = format!("evt_{}", hex::encode(rand::random::<[u8; 16]>()));
    let body = serde_json::json!({
        "id": event_id,
        "type": kind.as_str(),
        "created_at": now.to_string(),
        "merchant_id": merchant.map(MerchantId::as_str),
        "data": data,
    })
    .to_string();
    let at = micros(now);
    let row = conn.insert_id(
        "INSERT INTO webhook_events (event_id, kind, merchant_id, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        p![
            &event_id,
            kind.as_str(),
            merchant.map(MerchantId::as_str),
            &body,
            at
        ],
    )?;
    for endpoint in &endpoints {
        conn.exec(
            "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_at)
             VALUES (?1, ?2, 'pending', 0, ?3)",
            p![row, *endpoint, at],
        )?;
    }
    Ok(endpoints.len())
}

/// A new endpoint's fields.
#[derive(Debug, Clone)]
pub struct NewEndpoint<'a> {
    /// Where events go (checked by the caller: scheme, host, allowed address).
    pub url: &'a str,
    /// Subscribed events (at least one).
    pub events: &'a [EventKind],
    /// A note.
    pub description: &'a str,
}

fn events_text(events: &[EventKind]) -> String {
    let mut names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

const ENDPOINT_COLUMNS: &str =
    "id, merchant_id, url, events, description, enabled, created_at, created_by";

fn endpoint_from(r: &dyn SqlRow) -> Result<EndpointRow, StoreError> {
    Ok(EndpointRow {
        id: r.i64(0)?,
        merchant_id: r.opt_text(1)?,
        url: r.text(2)?,
        events: r
            .text(3)?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        description: r.text(4)?,
        enabled: r.flag(5)?,
        created_at: r.i64(6)?,
        created_by: r.text(7)?,
    })
}

/// Re-wraps every endpoint's secret under `to` (`keys rotate-kek`, also `--to-pkcs11`), on
/// the rotation's transaction: the clear secret stays the same, so receivers keep verifying
/// with what they were shown at creation. Removed endpoints too (a wrapped value under a
/// retired KEK is a value nobody can check any more). Returns how many.
pub(crate) fn rewrap_secrets<'k>(
    tx: &dyn Sql,
    pick: &dyn Fn(&str) -> Result<&'k dyn crate::keys::KeyProvider, StoreError>,
    to: &dyn crate::keys::KeyProvider,
) -> Result<usize, StoreError> {
    let rows = tx.rows(
        "SELECT id, secret FROM webhook_endpoints WHERE secret <> '' ORDER BY id",
        p![],
        |r| Ok((r.i64(0)?, r.text(1)?)),
    )?;
    for (id, w) in &rows {
        let who = secret_identity(*id);
        let clear = pick(w)?.unwrap(&who, w)?;
        let again = to.wrap(&who, clear.expose())?;
        tx.exec(
            "UPDATE webhook_endpoints SET secret = ?1 WHERE id = ?2",
            p![&again, *id],
        )?;
    }
    Ok(rows.len())
}

/// Creates an endpoint with a new random secret, wrapped under the KEK; returns it and the
/// secret in clear, which is shown once. Audited as `webhook.create`.
pub fn create_endpoint<S: Store + ?Sized>(
    store: &S,
    owner: Owner<'_>,
    new: &NewEndpoint<'_>,
    actor: &str,
) -> Result<(EndpointRow, String), StoreError> {
    if new.events.is_empty() || new.url.len() > URL_BYTES_MAX {
        return Err(StoreError::Invalid("webhook endpoint".into()));
    }
    let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()));
    let keys = store.keys().clone();
    let now = micros(store.now());
    let id = setup(store, |tx, head| {
        let count = tx.one(
            "SELECT COUNT(*) FROM webhook_endpoints
              WHERE removed_at IS NULL AND merchant_id IS NOT DISTINCT FROM ?1",
            p![owner.map(MerchantId::as_str)],
            |r| r.i64(0),
        )?;
        if count >= i64::from(ENDPOINTS_PER_OWNER_MAX) {
            return Err(StoreError::Invalid(format!(
                "at most {ENDPOINTS_PER_OWNER_MAX} webhook endpoints"
            )));
        }
        let id = tx.insert_id(
            "INSERT INTO webhook_endpoints
                (merchant_id, url, secret, events, description, enabled, created_at, created_by, changed_at)
             VALUES (?1, ?2, '', ?3, ?4, 1, ?5, ?6, ?5)",
            p![
                owner.map(MerchantId::as_str),
                new.url,
                events_text(new.events).as_str(),
                new.description,
                now,
                actor
            ],
        )?;
        let wrapped = keys.wrap(&secret_identity(id), secret.as_bytes())?;
        tx.exec(
            "UPDATE webhook_endpoints SET secret = ?1 WHERE id = ?2",
            p![&wrapped, id],
        )?;
        let target = format!("webhook:{id}");
        head.append(tx, now, [actor, "webhook.create", &target, new.url, "ok"])?;
        Ok(id)
    })?;
    let row = endpoint(store, owner, id)?.ok_or(StoreError::WriterGone)?;
    Ok((row, secret))
}

/// The endpoints of `owner` (not removed), oldest first.
pub fn list_endpoints<S: Store + ?Sized>(
    store: &S,
    owner: Owner<'_>,
) -> Result<Vec<EndpointRow>, StoreError> {
    read(store, |c| {
        c.rows(
            &format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
                  WHERE removed_at IS NULL AND merchant_id IS NOT DISTINCT FROM ?1
                  ORDER BY id LIMIT ?2"
            ),
            p![owner.map(MerchantId::as_str), ENDPOINTS_PER_OWNER_MAX],
            endpoint_from,
        )
    })
}

/// One endpoint of `owner`; `None` when it does not exist, was removed or is another's.
pub fn endpoint<S: Store + ?Sized>(
    store: &S,
    owner: Owner<'_>,
    id: i64,
) -> Result<Option<EndpointRow>, StoreError> {
    read(store, |c| {
        c.row(
            &format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
                  WHERE id = ?1 AND removed_at IS NULL AND merchant_id IS NOT DISTINCT FROM ?2"
            ),
            p![id, owner.map(MerchantId::as_str)],
            endpoint_from,
        )
    })
}

/// A change to an endpoint; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange<'a> {
    /// A new URL (checked by the caller).
    pub url: Option<&'a str>,
    /// New subscriptions (at least one).
    pub events: Option<&'a [EventKind]>,
    /// A new note.
    pub description: Option<&'a str>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// Changes an endpoint of `owner`; `false` when there is none. Audited as `webhook.update`.
pub fn update_endpoint<S: Store + ?Sized>(
    store: &S,
    owner: Owner<'_>,
    id: i64,
    change: &EndpointChange<'_>,
    actor: &str,
) -> Result<bool, StoreError> {
    if change.events.is_some_and(<[EventKind]>::is_empty)
        || change.url.is_some_and(|u| u.len() > URL_BYTES_MAX)
    {
        return Err(StoreError::Invalid("webhook endpoint".into()));
    }
    let now = micros(store.now());
    let events = change.events.map(events_text);
    setup(store, |tx, head| {
        let n = tx.exec(
            "UPDATE webhook_endpoints
                SET url = COALESCE(?1, url), events = COALESCE(?2, events),
                    description = COALESCE(?3, description), enabled = COALESCE(?4, enabled),
                    changed_at = ?5
              WHERE id = ?6 AND removed_at IS NULL AND merchant_id IS NOT DISTINCT FROM ?7",
            p![
                change.url,
                events.as_deref(),
                change.description,
                change.enabled.map(i64::from),
                now,
                id,
                owner.map(MerchantId::as_str)
            ],
        )?;
        if n == 1 {
            let what = format!(
                "url={} events={} enabled={}",
                change.url.unwrap_or("-"),
                events.as_deref().unwrap_or("-"),
                change.enabled.map_or("-", |e| if e { "yes" } else { "no" })
            );
            head.append(
                tx,
                now,
                [
                    actor,
                    "webhook.update",
                    &format!("webhook:{id}"),
                    &what,
                    "ok",
                ],
            )?;
        }
        Ok(n == 1)
    })
}

/// Removes an endpoint of `owner` (kept for its delivery log, never sent to again; its
/// pending deliveries fail); `false` when there is none. Audited as `webhook.remove`.
pub fn remove_endpoint<S: Store + ?Sized>(
    store: &S,
    owner: Owner<'_>,
    id: i64,
    actor: &str,
) -> Result<bool, StoreError> {
    let now = micros(store.now());
    setup(store, |tx, head| {
        let n = tx.exec(
            "UPDATE webhook_endpoints SET removed_at = ?1, enabled = 0, changed_at = ?1
              WHERE id = ?2 AND removed_at IS NULL AND merchant_id IS NOT DISTINCT FROM ?3",
            p![now, id, owner.map(MerchantId::as_str)],
        )?;
        if n == 1 {
            tx.exec(
                "UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint removed', done_at = ?1
                  WHERE endpoint_id = ?2 AND status = 'pending'",
                p![now, id],
            )?;
            head.append(
                tx,
                now,
                [actor, "webhook.remove", &format!("webhook:{id}"), "", "ok"],
            )?;
        }
        Ok(n == 1)
    })
}

const DELIVERY_SELECT: &str =
    "SELECT d.id, d.endpoint_id, e.event_id, e.kind, d.status, d.attempts, d.next_at,
        d.last_code, d.last_error, e.created_at
   FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id";

fn delivery_from(r: &dyn SqlRow) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        id: r.i64(0)?,
        endpoint_id: r.i64(1)?,
        event_id: r.text(2)?,
        kind: r.text(3)?,
        status: r.text(4)?,
        attempts: r.u32(5)?,
        next_at: r.i64(6)?,
        last_code: r.opt_i64(7)?,
        last_error: r.text(8)?,
        created_at: r.i64(9)?,
    })
}

/// The newest deliveries of an endpoint (of `owner`), at most [`DELIVERIES_ROWS_MAX`].
pub fn list_deliveries<S: Store + ?Sized>(
    store: &S,
    owner: Owner<'_>,
    endpoint_id: i64,
    limit: u32,
) -> Result<Vec<DeliveryRow>, StoreError> {
    read(store, |c| {
        c.rows(
            &format!(
                "{DELIVERY_SELECT} JOIN webhook_endpoints w ON w.id = d.endpoint_id
                  WHERE d.endpoint_id = ?1 AND w.merchant_id IS NOT DISTINCT FROM ?2
                  ORDER BY d.id DESC LIMIT ?3"
            ),
            p![
                endpoint_id,
                owner.map(MerchantId::as_str),
                limit.min(DELIVERIES_ROWS_MAX)
            ],
            delivery_from,
        )
    })
}

/// One delivery of `owner` with its attempts, oldest first.
pub fn delivery<S: Store + ?Sized>(
    store: &S,
    owner: Owner<'_>,
    id: i64,
) -> Result<Option<(DeliveryRow, Vec<AttemptRow>)>, StoreError> {
    read(store, |c| {
        let Some(d) = c.row(
            &format!(
                "{DELIVERY_SELECT} JOIN webhook_endpoints w ON w.id = d.endpoint_id
                  WHERE d.id = ?1 AND w.merchant_id IS NOT DISTINCT FROM ?2"
            ),
            p![id, owner.map(MerchantId::as_str)],
            delivery_from,
        )?
        else {
            return Ok(None);
        };
        let attempts = c.rows(
            "SELECT at, status_code, latency_ms, error, replay FROM webhook_attempts
              WHERE delivery_id = ?1 ORDER BY id LIMIT ?2",
            p![id, DELIVERIES_ROWS_MAX],
            |r| {
                Ok(AttemptRow {
                    at: r.i64(0)?,
                    status_code: r.opt_i64(1)?,
                    latency_ms: r.i64(2)?,
                    error: r.text(3)?,
                    replay: r.flag(4)?,
                })
            },
        )?;
        Ok(Some((d, attempts)))
    })
}

/// Queues a delivery of `owner` again now, whatever its status (a person's replay): its
/// attempts start again from zero, its log keeps the earlier ones. `false` when there is no
/// such delivery or its endpoint was removed. Audited as `webhook.replay`.
pub fn replay<S: Store + ?Sized>(
    store: &S,
    owner: Owner<'_>,
    id: i64,
    actor: &str,
) -> Result<bool, StoreError> {
    let now = micros(store.now());
    setup(store, |tx, head| {
        let n = tx.exec(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_at = ?1,
                    claimed_at = NULL, done_at = NULL, last_error = 'replay'
              WHERE id = ?2 AND status <> 'delivering' AND endpoint_id IN
                    (SELECT id FROM webhook_endpoints
                      WHERE removed_at IS NULL AND merchant_id IS NOT DISTINCT FROM ?3)",
            p![now, id, owner.map(MerchantId::as_str)],
        )?;
        if n == 1 {
            head.append(
                tx,
                now,
                [actor, "webhook.replay", &format!("delivery:{id}"), "", "ok"],
            )?;
        }
        Ok(n == 1)
    })
}

/// Claims up to `limit` deliveries due at `now` (and claims a dead worker left behind),
/// each with one conditional `UPDATE`, so that of two workers one posts it.
///
/// A poll that finds nothing due on the read connection ends there: the worker polls
/// every second on every node, and a write transaction per poll took the store's write
/// lock from the sales' writer for nothing (issue 15, s18-speed). A delivery queued after
/// that read is claimed at the next poll, as one queued after the claim always was.
pub fn claim_due<S: Store + ?Sized>(
    store: &S,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<DueDelivery>, StoreError> {
    let at = micros(now);
    let stale = at - CLAIM_STALE_SECONDS * 1_000_000;
    let any_due = read(store, |c| {
        c.row(
            "SELECT 1 FROM webhook_deliveries
              WHERE (status = 'pending' AND next_at <= ?1)
                 OR (status = 'delivering' AND claimed_at < ?2)
              LIMIT 1",
            p![at, stale],
            |_| Ok(()),
        )
    })?;
    if any_due.is_none() {
        return Ok(Vec::new());
    }
    setup(store, |tx, _| {
        let due = tx.rows(
            "SELECT d.id, w.url, w.id, w.secret, e.event_id, e.kind, e.payload, d.attempts, d.last_error
               FROM webhook_deliveries d
               JOIN webhook_events e ON e.id = d.event_id
               JOIN webhook_endpoints w ON w.id = d.endpoint_id
              WHERE (d.status = 'pending' AND d.next_at <= ?1)
                 OR (d.status = 'delivering' AND d.claimed_at < ?2)
              ORDER BY d.next_at, d.id LIMIT ?3",
            p![at, stale, limit.min(CLAIM_BATCH_MAX)],
            |r| {
                Ok(DueDelivery {
                    id: r.i64(0)?,
                    url: r.text(1)?,
                    endpoint_id: r.i64(2)?,
                    secret_wrapped: r.text(3)?,
                    event_id: r.text(4)?,
                    kind: r.text(5)?,
                    body: r.text(6)?,
                    attempts: r.u32(7)?,
                    replay: r.text(8)? == "replay",
                })
            },
        )?;
        let mut claimed = Vec::with_capacity(due.len());
        for d in due {
            let n = tx.exec(
                "UPDATE webhook_deliveries SET status = 'delivering', claimed_at = ?1
                  WHERE id = ?2 AND ((status = 'pending' AND next_at <= ?1)
                                  OR (status = 'delivering' AND claimed_at < ?3))",
                p![at, d.id, stale],
            )?;
            if n == 1 {
                claimed.push(d);
            }
        }
        Ok(claimed)
    })
}

/// Records one attempt of a claimed delivery started at `started` and sets what it becomes
/// ([`suanpan_core::notify::after_attempt`]): delivered, pending after the back-off, or
/// failed. Returns the new status.
pub fn record_attempt<S: Store + ?Sized>(
    store: &S,
    due: &DueDelivery,
    started: Timestamp,
    attempt: &Attempt,
) -> Result<DeliveryStatus, StoreError> {
    let attempts = due.attempts.saturating_add(1);
    let (status, wait) = after_attempt(attempt.succeeded(), attempts);
    let at = micros(started);
    let next_at = at + wait.unwrap_or(0) * 1_000_000;
    let error: String = attempt.error.chars().take(ERROR_CHARS_MAX).collect();
    let done = matches!(status, DeliveryStatus::Delivered | DeliveryStatus::Failed).then_some(at);
    setup(store, |tx, _| {
        tx.exec(
            "INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, error, replay)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            p![
                due.id,
                at,
                attempt.status_code.map(i64::from),
                attempt.latency_ms,
                &error,
                i64::from(due.replay && due.attempts == 0)
            ],
        )?;
        tx.exec(
            "UPDATE webhook_deliveries SET status = ?1, attempts = ?2, next_at = ?3, claimed_at = NULL,
                    last_code = ?4, last_error = ?5, done_at = ?6
              WHERE id = ?7 AND status = 'delivering'",
            p![
                status.as_str(),
                attempts,
                next_at,
                attempt.status_code.map(i64::from),
                &error,
                done,
                due.id
            ],
        )?;
        Ok(status)
    })
}

/// Deliveries by status across the store (the ops page's line).
pub fn delivery_counts<S: Store + ?Sized>(store: &S) -> Result<Vec<(String, i64)>, StoreError> {
    read(store, |c| {
        c.rows(
            "SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status ORDER BY status",
            p![],
            |r| Ok((r.text(0)?, r.i64(1)?)),
        )
    })
}
