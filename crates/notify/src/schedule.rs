//! Scheduled operations (issue 13).
