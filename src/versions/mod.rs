//! Versions of an SOP side by side: whether the open cases of one can move onto the next.

mod migration;

pub use migration::check_migration;
