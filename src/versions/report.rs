//! A diff as text for people: grouped by section, each change with its place in both
//! files, text-only changes last.

use std::fmt::Write;

use super::diff::{Change, ChangeKind, Section, SopDiff};

impl SopDiff {
    /// The diff for people, plain text: a summary line, then one block per [`Section`]
    /// (text-only changes last), each change as a line with a sign (`+` added, `-`
    /// removed, `~` changed) and a second line locating it: `old.yaml:12:5 → new.yaml:14:5`.
    ///
    /// `old_name` and `new_name` are what the locations call the two files.
    pub fn render_human(&self, old_name: &str, new_name: &str) -> String {
        let mut out = String::new();
        let behaviour = self.behaviour_changes().count();
        let text = self.changes.len() - behaviour;
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "{} v{} → v{}: {} change{} that can affect open cases, {} that cannot",
            self.sop,
            self.old_version,
            self.new_version,
            behaviour,
            plural(behaviour),
            text,
        );
        if self.changes.is_empty() {
            out.push_str("no differences\n");
            return out;
        }
        for section in Section::ALL {
            let changes: Vec<&Change> = self
                .changes
                .iter()
                .filter(|c| c.section == section && c.affects_cases)
                .collect();
            // What cannot affect cases goes last: wording in the text section, and a step
            // written elsewhere in the list with the steps.
            let quiet: Vec<&Change> = self
                .changes
                .iter()
                .filter(|c| c.section == section && !c.affects_cases)
                .collect();
            if changes.is_empty() && quiet.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{}", section.heading());
            for change in changes.iter().chain(&quiet) {
                let _ = writeln!(out, "  {} {}", sign(change.kind), change.message);
                let _ = writeln!(out, "      {}", locate(change, old_name, new_name));
            }
        }
        let unmapped: Vec<String> = self.unmapped_steps().map(|s| format!("`{s}`")).collect();
        if !unmapped.is_empty() {
            let _ = writeln!(
                out,
                "\nOpen cases waiting at {} have no step to move to in v{}.",
                unmapped.join(", "),
                self.new_version
            );
        }
        out
    }
}

fn sign(kind: ChangeKind) -> char {
    use ChangeKind::*;
    match kind {
        StepAdded | RouteAdded | RoleAdded | FieldAdded | CalendarAdded => '+',
        StepRemoved | RouteRemoved | RoleRemoved | FieldRemoved | CalendarRemoved => '-',
        _ => '~',
    }
}

/// `old.yaml:12:5 → new.yaml:14:5`, or one side when the other has no place.
fn locate(change: &Change, old_name: &str, new_name: &str) -> String {
    match (change.old, change.new) {
        (Some(old), Some(new)) => format!("{old_name}:{old} → {new_name}:{new}"),
        (Some(old), None) => format!("{old_name}:{old}"),
        (None, Some(new)) => format!("{new_name}:{new}"),
        (None, None) => format!("{old_name} → {new_name}"),
    }
}
