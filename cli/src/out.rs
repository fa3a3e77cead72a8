//! Writing to standard output without panicking when it closes early.

/// `println!` that returns the write error instead of panicking (a closed pipe).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}
pub(crate) use outln;

/// Whether `e` is (caused by) a write to a closed pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints a warning about a key file that other users can read.
pub fn warn_key_permissions(path: &std::path::Path) {
    if let Some(warning) = tracemark_io::keyfile::permissions_warning(path) {
        eprintln!("warning: {warning}");
    }
}
