//! `tracemark`: parse arguments, call one library function per command, print.

mod args;
mod demo;
mod detect;
mod distill;
mod generate;
mod keygen;
mod paper;
mod print;
mod radioactivity;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(a) => keygen::run(&a),
        Command::KeyInfo(a) => keygen::info(&a),
        Command::Detect(a) => detect::run(&a),
        Command::Generate(a) if a.student.is_some() => distill::generate(&a),
        Command::Generate(a) => generate::run(&a),
        Command::Distill(a) => distill::run(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Paper(a) => paper::run(&a),
        Command::Radioactivity(a) => radioactivity::run(&a),
        Command::Model(c) => generate::model(&c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
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
            let msg = msg.replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
