//! `tracemark`: parse arguments, call one library function per command, print.
//!
//! Exit status: 0 on success, 2 on any error (one `error:` line on standard error), as grep
//! does; `detect` also exits 1 when no watermark was detected. A closed standard output
//! (`tracemark detect … | head -1`) ends the command quietly, as Unix tools do.

mod accounts;
mod args;
mod args_serving;
mod demo;
mod detect;
mod distill;
mod generate;
mod keygen;
mod model;
mod out;
mod print;
mod query;
mod radioactivity;
mod serve;
mod trace;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// Exit status of a failed command.
const FAILURE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(a) => keygen::run(&a),
        Command::KeyInfo(a) => keygen::info(&a),
        Command::Detect(a) => detect::run(&a),
        Command::Generate(a) => generate::run(&a),
        Command::Distill(a) => distill::run(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Radioactivity(a) => radioactivity::run(&a),
        Command::Trace(a) => trace::run(&a),
        Command::Model(c) => model::run(&c),
        Command::Accounts(c) => accounts::run(&c),
        Command::Serve(a) => serve::run(&a),
        Command::Query(a) => query::run(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) if out::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: each cause once, never a backtrace or a panic.
            let mut msg = String::new();
            for cause in e.chain().map(|c| c.to_string()) {
                if !msg.contains(&cause) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&cause);
                }
            }
            eprintln!("error: {}", msg.replace('\n', " "));
            ExitCode::from(FAILURE)
        }
    }
}
