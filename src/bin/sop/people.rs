//! `sop people`: the store's directory of people (who exists, which roles they hold,
//! whether they are active), and the check of `sop case … --as` against it.
//!
//! The directory is off until someone is in it: with nobody in the store, `--as` is taken
//! as typed, as it always was, so scripts and first steps keep working. The first person
//! added must hold the `admin` role ([`ADMIN_ROLE`]), so someone can manage the directory
//! from then on; every later change needs `--as` naming an active admin, and no change may
//! leave the directory without an active admin. Should that happen anyway (two admins
//! demoting each other at the same moment), adding an admin works as on an empty
//! directory, so the directory can always be managed again.
//!
//! Exit codes as `sop case`: 0 done, 1 refused, 2 usage or I/O error, 3 not found.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::output::{Output, OutputFormat};
use clap::Subcommand;
use serde_json::json;
use sopflow::engine::{Actor, ActorId, limits};
use sopflow::model::RoleId;
use sopflow::store::{BlockingStore, Person, StoreError};

/// The role that may change the directory.
pub(crate) const ADMIN_ROLE: &str = "admin";

/// How similar an unknown id must be to a known one to be suggested.
const SUGGESTION_THRESHOLD: f64 = 0.8;

#[derive(clap::Args)]
#[command(
    after_help = "Once anyone is in the directory, `sop case … --as ana` acts with ana's roles \
from it, and `--as ana:ROLE` is refused unless ana is active and holds ROLE. With nobody in \
it, `--as` is taken as typed.\n\nThe first person added must hold the `admin` role; after \
that, changes need `--as` naming an active admin.\n\nExit codes: 0 done, 1 refused (not an \
admin, or the change would leave no active admin), 2 usage or I/O error, 3 person or store \
not found."
)]
pub struct PeopleArgs {
    /// The store: `sqlite:PATH` or `postgres://user:password@host/db`. `add` creates a
    /// SQLite file; every other command needs an existing store
    #[arg(
        long,
        global = true,
        value_name = "URL",
        default_value = sopflow::store::DEFAULT_URL
    )]
    db: String,
    #[command(subcommand)]
    command: PeopleCommand,
}

/// Options of every command that changes the directory.
#[derive(clap::Args)]
struct Managing {
    /// Who makes the change: an active person holding `admin` (not needed for the first
    /// person added)
    #[arg(long = "as", value_name = "ACTOR")]
    actor: Option<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Subcommand)]
enum PeopleCommand {
    /// Add a person, or give an existing one more roles
    #[command(alias = "set")]
    Add {
        /// Their actor id, as `--as` names them
        id: String,
        /// A role they hold (repeat for several)
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        managing: Managing,
    },
    /// Take roles away from a person
    RemoveRole {
        /// Their actor id
        id: String,
        /// A role to take away (repeat for several)
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        managing: Managing,
    },
    /// Stop a person from acting: `--as` them is refused; their roles are kept
    Deactivate {
        /// Their actor id
        id: String,
        #[command(flatten)]
        managing: Managing,
    },
    /// Let a deactivated person act again
    Activate {
        /// Their actor id
        id: String,
        #[command(flatten)]
        managing: Managing,
    },
    /// List everyone in the directory, by id
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one person: roles and whether they are active
    Show {
        /// Their actor id
        id: String,
        #[command(flatten)]
        output: Output,
    },
}

/// The exit codes, the same as `sop case`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Refused = 1,
    Usage = 2,
    NotFound = 3,
}

impl Exit {
    fn name(self) -> &'static str {
        match self {
            Exit::Refused => "refused",
            Exit::Usage => "usage",
            Exit::NotFound => "not_found",
        }
    }
}

/// Why a command failed.
struct Failure {
    exit: Exit,
    message: String,
}

impl Failure {
    fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }
}

/// Where the command runs.
struct Context {
    db: String,
    format: OutputFormat,
}

impl Context {
    fn store_name(&self) -> String {
        sopflow::store::url_without_password(&self.db)
    }

    fn store_failure(&self, error: StoreError) -> Failure {
        let exit = match &error {
            StoreError::NoStore { .. } => Exit::NotFound,
            _ => Exit::Usage,
        };
        let message = match &error {
            StoreError::NoStore { .. } => error.to_string(),
            _ => format!("{error} (store `{}`)", self.store_name()),
        };
        Failure::new(exit, message)
    }

    fn print(&self, json: impl FnOnce() -> serde_json::Value, human: impl FnOnce() -> String) {
        match self.format {
            OutputFormat::Json => crate::output::stdout(&format!("{}\n", json())),
            OutputFormat::Human => crate::output::human(&human()),
        }
    }
}

/// Runs `sop people …`.
pub fn run(args: PeopleArgs) -> ExitCode {
    let format = match &args.command {
        PeopleCommand::Add { managing, .. }
        | PeopleCommand::RemoveRole { managing, .. }
        | PeopleCommand::Deactivate { managing, .. }
        | PeopleCommand::Activate { managing, .. } => managing.output.format,
        PeopleCommand::List { output } | PeopleCommand::Show { output, .. } => output.format,
    };
    let context = Context {
        db: args.db.clone(),
        format,
    };
    match dispatch(&context, args.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            match format {
                OutputFormat::Json => {
                    let error = json!({"error": {
                        "kind": failure.exit.name(),
                        "message": failure.message,
                        "exit": failure.exit as u8,
                        "store": context.store_name(),
                    }});
                    crate::output::stdout(&format!("{error}\n"));
                }
                OutputFormat::Human => {
                    eprintln!("error: {}", crate::output::printable(&failure.message));
                }
            }
            ExitCode::from(failure.exit as u8)
        }
    }
}

fn dispatch(cx: &Context, command: PeopleCommand) -> Result<(), Failure> {
    match command {
        PeopleCommand::Add {
            id,
            roles,
            managing,
        } => add(cx, &id, &roles, &managing),
        PeopleCommand::RemoveRole {
            id,
            roles,
            managing,
        } => {
            let roles = parse_roles(&roles)?;
            change(cx, &id, &managing, "removed roles from", |person| {
                let kept: Vec<RoleId> = person
                    .roles
                    .iter()
                    .filter(|r| !roles.contains(r))
                    .cloned()
                    .collect();
                person.set_roles(kept);
            })
        }
        PeopleCommand::Deactivate { id, managing } => {
            change(cx, &id, &managing, "deactivated", |person| {
                person.active = false;
            })
        }
        PeopleCommand::Activate { id, managing } => {
            change(cx, &id, &managing, "activated", |person| {
                person.active = true
            })
        }
        PeopleCommand::List { .. } => list(cx),
        PeopleCommand::Show { id, .. } => show(cx, &id),
    }
}

fn parse_id(text: &str) -> Result<ActorId, Failure> {
    let id = text.trim();
    if id.is_empty() || id.contains(':') || id.contains(',') || id.chars().any(char::is_whitespace)
    {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "`{text}` is not a person id: write the id alone, without spaces, `:` or `,` \
                 (e.g. ana)"
            ),
        ));
    }
    if id.chars().count() > limits::MAX_ID_CHARS {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "a person id may have at most {} characters; this one has {}",
                limits::MAX_ID_CHARS,
                id.chars().count()
            ),
        ));
    }
    Ok(ActorId::new(id))
}

fn parse_roles(roles: &[String]) -> Result<Vec<RoleId>, Failure> {
    roles
        .iter()
        .map(|r| {
            RoleId::new(r.trim())
                .map_err(|e| Failure::new(Exit::Usage, format!("--role `{r}`: {e}")))
        })
        .collect()
}

/// Whether anyone active holds `admin` among `people`.
fn has_active_admin(people: &[Person]) -> bool {
    people
        .iter()
        .any(|p| p.active && p.roles.iter().any(|r| r.as_str() == ADMIN_ROLE))
}

/// Checks that `--as` names someone who may change the directory: an active admin.
fn check_manager(
    cx: &Context,
    store: &BlockingStore,
    people: &[Person],
    managing: &Managing,
) -> Result<(), Failure> {
    let Some(text) = &managing.actor else {
        return Err(Failure::new(
            Exit::Usage,
            "changing the directory of people needs --as naming an active person who holds \
             `admin`; `sop people list` shows who does",
        ));
    };
    let id = parse_id(text)?;
    let manager = store.person(&id).map_err(|e| cx.store_failure(e))?;
    match manager {
        None => Err(Failure::new(
            Exit::Refused,
            unknown_person_message(&id, people),
        )),
        Some(manager) if !manager.active => Err(Failure::new(
            Exit::Refused,
            format!("`{id}` is deactivated in the directory and may not change it"),
        )),
        Some(manager) if !manager.roles.iter().any(|r| r.as_str() == ADMIN_ROLE) => {
            Err(Failure::new(
                Exit::Refused,
                format!(
                    "`{id}` does not hold `{ADMIN_ROLE}`, so may not change the directory of \
                     people; ask someone who does (`sop people list`)"
                ),
            ))
        }
        Some(_) => Ok(()),
    }
}

/// `sop people add`.
fn add(cx: &Context, id: &str, roles: &[String], managing: &Managing) -> Result<(), Failure> {
    let id = parse_id(id)?;
    let roles = parse_roles(roles)?;
    let store = BlockingStore::open(&cx.db).map_err(|e| cx.store_failure(e))?;
    let people = store.people().map_err(|e| cx.store_failure(e))?;
    if !has_active_admin(&people) {
        // The bootstrap: with no active admin nobody can be checked, and whoever may write
        // the store may start its directory. The person added must be an admin, or nobody
        // could manage it. A directory left without an active admin (two admins demoting
        // each other at once) is recovered the same way.
        if !roles.iter().any(|r| r.as_str() == ADMIN_ROLE) {
            return Err(Failure::new(
                Exit::Refused,
                format!(
                    "nobody active in the directory of people holds `{ADMIN_ROLE}`, so the \
                     first person added must, so that someone can manage it: add \
                     `--role {ADMIN_ROLE}`"
                ),
            ));
        }
    } else {
        check_manager(cx, &store, &people, managing)?;
    }
    let existing = people.iter().find(|p| p.id == id).cloned();
    let verb = if existing.is_some() {
        "updated"
    } else {
        "added"
    };
    let mut person = existing.unwrap_or_else(|| Person::new(id, []));
    let all: Vec<RoleId> = person.roles.iter().cloned().chain(roles).collect();
    person.set_roles(all);
    if person.roles.len() > limits::MAX_ROLES {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "a person may hold at most {} roles; `{}` would hold {}",
                limits::MAX_ROLES,
                person.id,
                person.roles.len()
            ),
        ));
    }
    store.put_person(&person).map_err(|e| cx.store_failure(e))?;
    report(cx, &person, verb);
    Ok(())
}

/// A change to an existing person, made by an admin, that leaves an active admin.
fn change(
    cx: &Context,
    id: &str,
    managing: &Managing,
    verb: &str,
    edit: impl FnOnce(&mut Person),
) -> Result<(), Failure> {
    let id = parse_id(id)?;
    let store = BlockingStore::open_existing(&cx.db).map_err(|e| cx.store_failure(e))?;
    let people = store.people().map_err(|e| cx.store_failure(e))?;
    let Some(mut person) = people.iter().find(|p| p.id == id).cloned() else {
        return Err(Failure::new(
            Exit::NotFound,
            unknown_person_message(&id, &people),
        ));
    };
    check_manager(cx, &store, &people, managing)?;
    edit(&mut person);
    let after: Vec<Person> = people
        .iter()
        .map(|p| {
            if p.id == id {
                person.clone()
            } else {
                p.clone()
            }
        })
        .collect();
    if !has_active_admin(&after) {
        return Err(Failure::new(
            Exit::Refused,
            format!(
                "this would leave nobody active holding `{ADMIN_ROLE}`, and the directory could \
                 not be changed again; give someone else `{ADMIN_ROLE}` first"
            ),
        ));
    }
    store.put_person(&person).map_err(|e| cx.store_failure(e))?;
    report(cx, &person, verb);
    Ok(())
}

fn report(cx: &Context, person: &Person, verb: &str) {
    cx.print(
        || json!({ "person": person }),
        || format!("{verb} {}\n", line(person)),
    );
}

/// `ana: agent, team_leader` (and `(inactive)` for someone deactivated).
fn line(person: &Person) -> String {
    let roles: Vec<&str> = person.roles.iter().map(RoleId::as_str).collect();
    let roles = if roles.is_empty() {
        "no role".to_owned()
    } else {
        roles.join(", ")
    };
    let state = if person.active { "" } else { " (inactive)" };
    format!("{}: {roles}{state}", person.id)
}

/// `sop people list`.
fn list(cx: &Context) -> Result<(), Failure> {
    let store = BlockingStore::open_existing(&cx.db).map_err(|e| cx.store_failure(e))?;
    let people = store.people().map_err(|e| cx.store_failure(e))?;
    if cx.format == OutputFormat::Human && people.is_empty() {
        eprintln!(
            "nobody is in the directory of the store `{}`: `--as` is taken as typed until \
             someone is (`sop people add ID --role admin`)",
            cx.store_name()
        );
        return Ok(());
    }
    cx.print(
        || json!({ "people": people }),
        || {
            let mut out = String::new();
            for person in &people {
                let _ = writeln!(out, "{}", line(person));
            }
            out
        },
    );
    Ok(())
}

/// `sop people show`.
fn show(cx: &Context, id: &str) -> Result<(), Failure> {
    let id = parse_id(id)?;
    let store = BlockingStore::open_existing(&cx.db).map_err(|e| cx.store_failure(e))?;
    match store.person(&id).map_err(|e| cx.store_failure(e))? {
        Some(person) => {
            cx.print(
                || json!({ "person": person }),
                || format!("{}\n", line(&person)),
            );
            Ok(())
        }
        None => {
            let people = store.people().map_err(|e| cx.store_failure(e))?;
            Err(Failure::new(
                Exit::NotFound,
                unknown_person_message(&id, &people),
            ))
        }
    }
}

/// `nobody called `anna` is in the directory; did you mean `ana`?`
fn unknown_person_message(id: &ActorId, people: &[Person]) -> String {
    let mut message = format!("nobody called `{id}` is in the directory of people");
    let closest = people
        .iter()
        .map(|p| (strsim::jaro_winkler(id.as_str(), p.id.as_str()), &p.id))
        .filter(|(score, _)| *score >= SUGGESTION_THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, suggestion)) => {
            let _ = write!(message, "; did you mean `{suggestion}`?");
        }
        None => message.push_str("; `sop people list` shows who is"),
    }
    message
}

/// What `--as` may act as, checked against the store's directory of people.
///
/// With nobody in the directory, `typed` is returned as it is. Otherwise its id must be an
/// active person, who acts with their roles from the directory (`--as ana`) or with the
/// roles typed (`--as ana:team_leader`), each of which they must hold. The error is a
/// sentence saying why the actor was refused.
pub(crate) fn checked_actor(store: &BlockingStore, typed: Actor) -> Result<Actor, ActorCheck> {
    let person = store.person(&typed.id).map_err(ActorCheck::Store)?;
    let Some(person) = person else {
        let people = store.people().map_err(ActorCheck::Store)?;
        if people.is_empty() {
            return Ok(typed);
        }
        return Err(ActorCheck::Refused(format!(
            "--as `{}`: {}",
            typed.id,
            unknown_person_message(&typed.id, &people)
        )));
    };
    if !person.active {
        return Err(ActorCheck::Refused(format!(
            "--as `{}`: they are deactivated in the directory of people and may not act",
            typed.id
        )));
    }
    if typed.roles.is_empty() {
        return Ok(person.actor());
    }
    let missing: Vec<&str> = typed
        .roles
        .iter()
        .filter(|r| !person.holds(r))
        .map(RoleId::as_str)
        .collect();
    if !missing.is_empty() {
        let held: Vec<&str> = person.roles.iter().map(RoleId::as_str).collect();
        let held = if held.is_empty() {
            "no role".to_owned()
        } else {
            held.join(", ")
        };
        return Err(ActorCheck::Refused(format!(
            "--as `{}`: the directory of people says {} does not hold {} (they hold {held}); \
             write `--as {}` to act with the roles they hold",
            typed.id,
            typed.id,
            missing
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", "),
            typed.id
        )));
    }
    Ok(typed)
}

/// Why [`checked_actor`] did not give an actor.
pub(crate) enum ActorCheck {
    /// The directory refuses the actor: the sentence says why.
    Refused(String),
    /// The directory could not be read.
    Store(StoreError),
}
