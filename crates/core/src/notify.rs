//! Outgoing notifications (issue 13): the events a merchant's or the acquirer's webhook
//! endpoint can subscribe to, the retry schedule of a failed delivery, and which addresses a
//! delivery may go to. Pure: the outbox and the worker that POSTs live in the store and in
//! `suanpan-notify`.

use std::net::IpAddr;

/// What happened, as a receiver subscribes to it. The string form is the `type` of the JSON
/// body and of the `X-Suanpan-Event` header, and what an endpoint's `events` list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A void was booked (at a terminal, over the API, or by an approved request).
    VoidExecuted,
    /// A refund was booked.
    RefundExecuted,
    /// A case (撤错 / 调账) was opened or changed status.
    CaseChanged,
    /// A terminal's batch was settled (balanced or not).
    BatchSettled,
    /// The daily compliance report was made.
    ComplianceReport,
    /// A risk rule raised an alert (issue 13's alerts queue emits it).
    AlertRaised,
}

impl EventKind {
    /// Every event, in the order pages list them.
    pub const ALL: [EventKind; 6] = [
        EventKind::VoidExecuted,
        EventKind::RefundExecuted,
        EventKind::CaseChanged,
        EventKind::BatchSettled,
        EventKind::ComplianceReport,
        EventKind::AlertRaised,
    ];

    /// The wire name (`void.executed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::VoidExecuted => "void.executed",
            EventKind::RefundExecuted => "refund.executed",
            EventKind::CaseChanged => "case.changed",
            EventKind::BatchSettled => "batch.settled",
            EventKind::ComplianceReport => "compliance.report",
            EventKind::AlertRaised => "alert.raised",
        }
    }

    /// The event of a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether only the acquirer's endpoints receive it (the compliance report covers every
    /// merchant of the store).
    pub fn acquirer_only(self) -> bool {
        matches!(self, EventKind::ComplianceReport)
    }
}

/// Retries of a delivery after its first attempt fails; after the last the delivery is
/// `failed` and waits for a person's replay.
pub const DELIVERY_RETRIES_MAX: u32 = 5;

/// The documented back-off: the wait before retry n (1-based) is `RETRY_DELAYS_SECONDS[n-1]`
/// — 1 minute, 5 minutes, 30 minutes, 2 hours, 6 hours (about 8.6 hours in all), so a
/// receiver down for a night's maintenance still gets its events, and a dead one is not
/// hammered.
pub const RETRY_DELAYS_SECONDS: [i64; DELIVERY_RETRIES_MAX as usize] =
    [60, 300, 1_800, 7_200, 21_600];

/// The wait before the next attempt once `attempts_failed` attempts have failed, or `None`
/// when the retries are spent (the delivery is then `failed`).
pub fn retry_delay_seconds(attempts_failed: u32) -> Option<i64> {
    let n = attempts_failed.checked_sub(1)?;
    RETRY_DELAYS_SECONDS.get(n as usize).copied()
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (`next_at`).
    Pending,
    /// A worker claimed it and is posting.
    Delivering,
    /// The receiver answered 2xx.
    Delivered,
    /// The retries are spent; a replay queues it again.
    Failed,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivering,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivering => "delivering",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The status of a stored name.
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What the delivery becomes after one attempt: delivered on success; otherwise pending
/// again after the back-off, or failed once the retries are spent.
pub fn after_attempt(succeeded: bool, attempts_so_far: u32) -> (DeliveryStatus, Option<i64>) {
    if succeeded {
        return (DeliveryStatus::Delivered, None);
    }
    match retry_delay_seconds(attempts_so_far) {
        Some(wait) => (DeliveryStatus::Pending, Some(wait)),
        None => (DeliveryStatus::Failed, None),
    }
}

/// Whether a delivery may connect to `ip`. Public (global) addresses always; loopback,
/// private (RFC 1918, unique-local), link-local (which holds the cloud metadata service
/// 169.254.169.254), unspecified, broadcast and multicast only when `allow_private` is set
/// (`[notify] allow_private`): a merchant's endpoint URL must not reach into the acquirer's
/// own network (server-side request forgery).
pub fn address_allowed(ip: IpAddr, allow_private: bool) -> bool {
    if allow_private {
        return !ip.is_multicast() && !ip.is_unspecified();
    }
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT: not reachable from outside either.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return address_allowed(IpAddr::V4(v4), false);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80) // link local
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_is_the_documented_schedule_then_failed() {
        // Goal: five retries at 1 min, 5 min, 30 min, 2 h, 6 h, then failed.
        assert_eq!(retry_delay_seconds(0), None);
        let waits: Vec<_> = (1..=5).map(|n| retry_delay_seconds(n).unwrap()).collect();
        assert_eq!(waits, [60, 300, 1800, 7200, 21600]);
        assert_eq!(
            after_attempt(false, 5),
            (DeliveryStatus::Pending, Some(21600))
        );
        assert_eq!(after_attempt(false, 6), (DeliveryStatus::Failed, None));
        assert_eq!(after_attempt(true, 6), (DeliveryStatus::Delivered, None));
    }

    #[test]
    fn private_and_metadata_addresses_are_refused_unless_allowed() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert!(!address_allowed(ip, false), "{a} must be refused");
        }
        assert!(address_allowed("127.0.0.1".parse().unwrap(), true));
        assert!(!address_allowed("0.0.0.0".parse().unwrap(), true));
        assert!(address_allowed("203.0.114.1".parse().unwrap(), false));
        assert!(address_allowed("2606:4700::1".parse().unwrap(), false));
    }

    #[test]
    fn event_names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("void"), None);
    }
}
