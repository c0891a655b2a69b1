//! One file per command: arguments in, one call of the application API, results out.

pub mod backup;
pub mod backup_settings;
pub mod backups;
pub mod build;
pub mod check;
pub mod config;
pub mod create;
pub mod down;
pub mod engines;
pub mod logs;
pub mod ps;
pub mod recover;
pub mod repair;
pub mod restore;
pub mod stacks;
pub mod switch;
pub mod up;
pub mod verify;
pub mod watch;
