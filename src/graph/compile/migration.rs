//! Compiling `migrate:`: what can be checked with this version alone. The steps on the
//! left are the earlier version's; [`crate::versions::check_migration`] checks them
//! against it.

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{MigrationPlan, NodeKind};
use crate::model::StepId;

use super::{Compiler, check_value, did_you_mean, with_optional_help};

impl Compiler<'_> {
    /// Checks the migration plan's targets, field values and version against this version.
    pub(super) fn compile_migration(&mut self) {
        let Some(spec) = &self.sop.migrate else {
            return;
        };
        let plan_span = spec.span;
        let version = self.sop.version.value;
        let from = match &spec.from {
            Some(from) if from.value >= version => {
                self.report(
                    Diagnostic::new(
                        Code::InvalidMigration,
                        from.span,
                        format!(
                            "`migrate` moves cases from version {}, which is not earlier than this version ({version})",
                            from.value
                        ),
                    )
                    .with_help("name the version whose open cases move onto this one"),
                );
                return;
            }
            Some(from) => from.value,
            None if version <= 1 => {
                self.report(
                    Diagnostic::new(
                        Code::InvalidMigration,
                        self.sop.version.span,
                        "version 1 has a `migrate` section, but there is no earlier version to migrate from",
                    )
                    .with_help("remove `migrate`, or raise `version`"),
                );
                return;
            }
            None => version - 1,
        };
        let mut steps = Vec::new();
        for (old, new) in spec.steps.iter() {
            let Some(&node) = self.steps.get(&new.value) else {
                let candidates: Vec<&str> = self.steps.keys().map(StepId::as_str).collect();
                self.report(with_optional_help(
                    Diagnostic::new(
                        Code::InvalidMigration,
                        new.span,
                        format!(
                            "`migrate` moves the work of step `{}` to `{}`, which is not a step of this version",
                            old.value, new.value
                        ),
                    ),
                    did_you_mean(new.as_str(), &candidates),
                ));
                continue;
            };
            if !matches!(
                self.graph[node].kind,
                NodeKind::Task(_) | NodeKind::Approval(_)
            ) {
                self.report(
                    Diagnostic::new(
                        Code::InvalidMigration,
                        new.span,
                        format!(
                            "`migrate` moves the work of step `{}` to `{}`, which is a decision or a split and cannot hold work",
                            old.value, new.value
                        ),
                    )
                    .with_help("map it to the task or approval gate where its work goes on"),
                );
                continue;
            }
            steps.push((old.value.clone(), new.value.clone()));
        }
        let mut fields = Vec::new();
        for (field, value) in spec.fields.iter() {
            let Some(spec) = self.fields.iter().find(|f| f.id == field.value) else {
                let help = self.suggest_field(field.as_str());
                self.report(with_optional_help(
                    Diagnostic::new(
                        Code::InvalidMigration,
                        field.span,
                        format!(
                            "`migrate` sets `{}`, which is not a field of this version",
                            field.value
                        ),
                    ),
                    help,
                ));
                continue;
            };
            if let Err(problem) = check_value(
                spec.field_type,
                &spec.options,
                spec.min,
                spec.max,
                &value.value,
            ) {
                self.report(Diagnostic::new(
                    Code::InvalidMigration,
                    value.span,
                    format!("`migrate` sets `{}`: {problem}", field.value),
                ));
                continue;
            }
            fields.push((field.value.clone(), value.value.clone()));
        }
        self.migration = Some(MigrationPlan {
            from,
            steps,
            fields,
            span: plan_span,
        });
    }
}
