//! What the engine accepts: bounded ids, text and lists, and times in a fixed range.
//!
//! A store keeps whatever the engine decides, and every reader (work queues, lists, the
//! CLI's tables) must cope with it. So the engine refuses, with a clear error and no event,
//! a command that would store an unbounded id or text, or a time no timer could ever fire
//! at: one far-future time would otherwise leave a case refusing every later command.
//!
//! | what | limit |
//! |---|---|
//! | case, actor and command ids | [`MAX_ID_CHARS`] characters, not blank, no control characters |
//! | roles an actor holds | [`MAX_ROLES`] |
//! | a note, reason or comment, the item a command names | [`MAX_TEXT_CHARS`] characters |
//! | a text field value, and each option of a multi-choice value | [`MAX_TEXT_CHARS`] characters (a field's own `max` applies below that) |
//! | options of a multi-choice value | [`MAX_LIST_ITEMS`] |
//! | the time of a command, and every timer it sets | from [`earliest`] to [`latest`] |

use chrono::{DateTime, TimeZone, Utc};

use super::command::{Action, Command, FieldValues};
use super::error::CommandError;
use super::state::CaseState;
use crate::model::FieldValue;

/// The longest case, actor or command id, in characters.
pub const MAX_ID_CHARS: usize = 200;

/// The most roles one actor may hold in a command.
pub const MAX_ROLES: usize = 64;

/// The longest note, reason, comment or text field value, in characters.
pub const MAX_TEXT_CHARS: usize = 100_000;

/// The most options of one multi-choice value.
pub const MAX_LIST_ITEMS: usize = 1_000;

/// The earliest time the engine accepts: 1970-01-01T00:00:00Z.
pub fn earliest() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The latest time the engine accepts or computes: 9999-12-31T23:59:59Z, the last second
/// every store, RFC 3339 writer and `--now` parser can represent.
pub fn latest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Refuses a command whose ids, texts, values or time are out of bounds.
pub(crate) fn check_command(command: &Command, now: DateTime<Utc>) -> Result<(), CommandError> {
    check_time("the command time", now)?;
    check_id("command id", command.id.as_str())?;
    check_id("actor id", command.actor.id.as_str())?;
    if command.actor.roles.len() > MAX_ROLES {
        return Err(CommandError::TooMany {
            what: "roles of the actor",
            count: command.actor.roles.len(),
            limit: MAX_ROLES,
        });
    }
    if let Some(item) = command.action.item() {
        check_text("item", item)?;
    }
    match &command.action {
        Action::Start { case, fields } | Action::StartSubCase { case, fields, .. } => {
            check_id("case id", case.as_str())?;
            check_fields(fields)
        }
        Action::SubCaseStarted { child } => check_id("sub-case id", child.as_str()),
        Action::FinishSubCase { child, fields, .. } => {
            check_id("sub-case id", child.as_str())?;
            check_fields(fields)
        }
        Action::Complete { fields, .. } | Action::UpdateFields { fields } => check_fields(fields),
        Action::Assign { assignee, .. } => check_id("assignee", assignee.as_str()),
        Action::Approve {
            comment: Some(text),
            ..
        } => check_text("comment", text),
        Action::Reject { reason, .. }
        | Action::Escalate { reason, .. }
        | Action::CancelStep { reason, .. }
        | Action::Cancel { reason }
        | Action::Reopen { reason }
        | Action::CorrectTime { reason }
        | Action::Pause { reason } => check_text("reason", reason),
        Action::AddNote { text, .. } => check_text("note", text),
        Action::Postpone { until, .. } => check_time("the end of the hold", *until),
        Action::Approve { comment: None, .. }
        | Action::Claim { .. }
        | Action::Transfer { .. }
        | Action::Resume
        | Action::ParentInformed
        | Action::Tick => Ok(()),
    }
}

/// Refuses a command that would set a timer no clock in range could fire. Only timers the
/// command set count: a case that holds such a timer from before must not be wedged by it.
pub(crate) fn check_timers(before: &CaseState, after: &CaseState) -> Result<(), CommandError> {
    let latest = latest();
    let timers = |active: &super::state::ActiveStep| [active.due_at, active.timeout_at];
    for active in after.active_steps() {
        let old = before
            .active_steps()
            .iter()
            .find(|a| a.token == active.token && a.step == active.step)
            .map(timers);
        for (i, at) in timers(active).into_iter().enumerate() {
            let Some(at) = at else { continue };
            let unchanged = old.is_some_and(|old| old[i] == Some(at));
            if at > latest && !unchanged {
                return Err(CommandError::TimerOutOfRange {
                    step: active.step.clone(),
                    at,
                    latest,
                });
            }
        }
    }
    Ok(())
}

fn check_time(what: &'static str, at: DateTime<Utc>) -> Result<(), CommandError> {
    if at < earliest() || at > latest() {
        return Err(CommandError::TimeOutOfRange {
            what,
            at,
            earliest: earliest(),
            latest: latest(),
        });
    }
    Ok(())
}

fn check_id(what: &'static str, id: &str) -> Result<(), CommandError> {
    let chars = id.chars().count();
    if chars > MAX_ID_CHARS {
        return Err(CommandError::TooLong {
            what,
            length: chars,
            limit: MAX_ID_CHARS,
        });
    }
    if id.trim().is_empty() || id.chars().any(char::is_control) {
        return Err(CommandError::InvalidId {
            what,
            id: id.escape_debug().to_string(),
        });
    }
    Ok(())
}

fn check_text(what: &'static str, text: &str) -> Result<(), CommandError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(CommandError::TooLong {
            what,
            length: chars,
            limit: MAX_TEXT_CHARS,
        });
    }
    Ok(())
}

fn check_fields(fields: &FieldValues) -> Result<(), CommandError> {
    for value in fields.values() {
        match value {
            FieldValue::Text(text) => check_text("field value", text)?,
            FieldValue::List(items) => {
                if items.len() > MAX_LIST_ITEMS {
                    return Err(CommandError::TooMany {
                        what: "options of a multi-choice value",
                        count: items.len(),
                        limit: MAX_LIST_ITEMS,
                    });
                }
                for item in items {
                    check_text("option", item)?;
                }
            }
            FieldValue::Bool(_) | FieldValue::Integer(_) | FieldValue::Number(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Actor, CaseId};

    fn start(case: &str) -> Command {
        Command::new(
            "c1",
            Actor::new("ana", []),
            Action::Start {
                case: CaseId::new(case),
                fields: FieldValues::new(),
            },
        )
    }

    fn t(year: i32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn ids_are_bounded_and_printable() {
        assert_eq!(check_command(&start("T-1"), t(2026)), Ok(()));
        let long = "x".repeat(MAX_ID_CHARS + 1);
        assert_eq!(
            check_command(&start(&long), t(2026)),
            Err(CommandError::TooLong {
                what: "case id",
                length: MAX_ID_CHARS + 1,
                limit: MAX_ID_CHARS
            })
        );
        assert!(matches!(
            check_command(&start("T-\u{1b}[31m"), t(2026)),
            Err(CommandError::InvalidId {
                what: "case id",
                ..
            })
        ));
        assert!(matches!(
            check_command(&start("  "), t(2026)),
            Err(CommandError::InvalidId { .. })
        ));
    }

    #[test]
    fn times_stay_in_range() {
        assert!(check_command(&start("T-1"), latest()).is_ok());
        assert!(matches!(
            check_command(&start("T-1"), t(1969)),
            Err(CommandError::TimeOutOfRange { .. })
        ));
        let far = latest() + chrono::TimeDelta::seconds(1);
        assert!(matches!(
            check_command(&start("T-1"), far),
            Err(CommandError::TimeOutOfRange { .. })
        ));
    }

    #[test]
    fn the_item_a_command_names_is_bounded() {
        let claim = |item: String| {
            Command::new(
                "c",
                Actor::new("ana", []),
                Action::Claim {
                    step: crate::model::StepId::from_static("create_account"),
                    item: Some(item),
                },
            )
        };
        assert!(check_command(&claim("x".repeat(MAX_TEXT_CHARS)), t(2026)).is_ok());
        assert!(matches!(
            check_command(&claim("x".repeat(MAX_TEXT_CHARS + 1)), t(2026)),
            Err(CommandError::TooLong { what: "item", .. })
        ));
    }

    #[test]
    fn texts_and_lists_are_bounded() {
        let note = |text: String| {
            Command::new(
                "n",
                Actor::new("ana", []),
                Action::AddNote { text, step: None },
            )
        };
        assert!(check_command(&note("x".repeat(MAX_TEXT_CHARS)), t(2026)).is_ok());
        assert!(matches!(
            check_command(&note("x".repeat(MAX_TEXT_CHARS + 1)), t(2026)),
            Err(CommandError::TooLong { what: "note", .. })
        ));
        let many = FieldValues::from([(
            "tags".parse().unwrap(),
            FieldValue::List(vec!["a".to_owned(); MAX_LIST_ITEMS + 1]),
        )]);
        let set = Command::new(
            "s",
            Actor::new("ana", []),
            Action::UpdateFields { fields: many },
        );
        assert!(matches!(
            check_command(&set, t(2026)),
            Err(CommandError::TooMany { .. })
        ));
    }
}
