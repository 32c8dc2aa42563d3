//! `sop case notifications`: what people must hear about, as the store keeps it.
//!
//! Without a case id it lists the notifications nobody acknowledged yet, oldest first:
//! what an app (or a person) still has to deliver. With one, it lists every notification of
//! that case. `--ack ID` marks notifications delivered; acknowledging one twice says so
//! and is not an error, so a delivery retried after a crash stays safe.

use std::fmt::Write as _;

use serde_json::json;
use sopflow::engine::{CaseId, NotificationKind};
use sopflow::store::{StoreError, StoredNotification};

use super::{Context, Exit, Failure, Outcome, Output, parse_now, time};

/// The arguments of `sop case notifications`.
#[derive(clap::Args)]
pub(super) struct NotificationsArgs {
    /// Only this case's notifications (acknowledged ones too)
    #[arg(value_name = "ID")]
    case: Option<String>,
    /// Acknowledge these notifications (delivered)
    #[arg(long = "ack", value_name = "NOTIFICATION", conflicts_with = "case")]
    ack: Vec<u64>,
    /// At most this many pending notifications
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// The time of an acknowledgement, RFC 3339; default now
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    #[command(flatten)]
    pub(super) output: Output,
}

/// Runs `sop case notifications`.
pub(super) fn notifications(cx: &Context, args: NotificationsArgs) -> Outcome {
    let store = cx.open_existing()?;
    if !args.ack.is_empty() {
        let now = parse_now(args.now.as_deref())?;
        let mut acknowledged = Vec::new();
        for id in &args.ack {
            match store.acknowledge_notification(*id, now) {
                Ok(first) => acknowledged.push((*id, first)),
                Err(StoreError::NotificationNotFound { id }) => {
                    return Err(Failure {
                        exit: Exit::NotFound,
                        message: format!(
                            "there is no notification {id} in the store `{}`",
                            cx.store_name()
                        ),
                    });
                }
                Err(error) => return Err(cx.store_failure(error)),
            }
        }
        cx.print(
            || {
                let list: Vec<_> = acknowledged
                    .iter()
                    .map(|(id, first)| json!({ "id": id, "first_time": first }))
                    .collect();
                json!({ "acknowledged": list })
            },
            || {
                let mut out = String::new();
                for (id, first) in &acknowledged {
                    let note = if *first {
                        ""
                    } else {
                        " (already acknowledged)"
                    };
                    let _ = writeln!(out, "acknowledged notification {id}{note}");
                }
                out
            },
        );
        return Ok(());
    }
    let listed = match &args.case {
        Some(case) => {
            let case = CaseId::new(case.as_str());
            // A case with no event has no notification: say it does not exist instead.
            store.load_latest(&case).map_err(|e| cx.store_failure(e))?;
            store.case_notifications(&case)
        }
        None => store.pending_notifications(None, args.limit),
    }
    .map_err(|e| cx.store_failure(e))?;
    cx.print(
        || json!({ "notifications": listed }),
        || render(&listed, args.case.is_none()),
    );
    Ok(())
}

fn render(listed: &[StoredNotification], pending: bool) -> String {
    let mut out = String::new();
    if listed.is_empty() {
        let what = if pending {
            "no notification is waiting to be delivered"
        } else {
            "the case has no notification"
        };
        let _ = writeln!(out, "{what}");
    }
    for stored in listed {
        let notification = &stored.notification;
        let ack = stored
            .acknowledged_at
            .map_or_else(String::new, |at| format!("  (acknowledged {})", time(at)));
        let _ = writeln!(
            out,
            "{:>5}  {}  to {}  [{}]  {}{ack}",
            stored.id,
            time(notification.at),
            notification.to,
            kind_name(&notification.kind),
            notification.message
        );
    }
    out
}

fn kind_name(kind: &NotificationKind) -> String {
    match kind {
        NotificationKind::WorkWaiting => "work waiting".to_owned(),
        NotificationKind::WorkAssigned => "assigned".to_owned(),
        NotificationKind::ApprovalRequested => "approval".to_owned(),
        NotificationKind::DueSoon => "due soon".to_owned(),
        NotificationKind::Overdue => "overdue".to_owned(),
        NotificationKind::Escalation { level } => format!("escalation {level}"),
        NotificationKind::Rejected { .. } => "rejected".to_owned(),
        NotificationKind::StepCancelled { .. } => "step cancelled".to_owned(),
    }
}
