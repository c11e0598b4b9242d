//! runsheet: a terminal runbook assistant for database changes in production.

pub mod backfill;
pub mod commands;
pub mod db;
pub mod demo;
pub mod engine;
pub mod exec;
pub mod headless;
pub mod journal;
pub mod lint;
pub mod model;
pub mod tui;
