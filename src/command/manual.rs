//! `osenv completions` and `osenv man`: generated from the clap definitions, so they never
//! drift from the flags.

use super::output::emit;
use crate::cli::Cli;
use clap::CommandFactory as _;
use osenv::error::{Error, IoError};

/// The completion script for `shell`, on stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "osenv", &mut script);
    emit(None, &String::from_utf8_lossy(&script))
}

/// The manual page (roff), on stdout: the top-level page with every subcommand's options.
pub(super) fn page() -> Result<(), Error> {
    let command = Cli::command();
    let mut roff = Vec::new();
    let failed = |source| {
        Error::Output(IoError {
            verb: "cannot write",
            path: "<stdout>".into(),
            source,
        })
    };
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut roff).map_err(failed)?;
    man.render_name_section(&mut roff).map_err(failed)?;
    man.render_synopsis_section(&mut roff).map_err(failed)?;
    man.render_description_section(&mut roff).map_err(failed)?;
    man.render_options_section(&mut roff).map_err(failed)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name();
        roff.extend_from_slice(format!(".SH \"OSENV {}\"\n", name.to_uppercase()).as_bytes());
        let sub = sub
            .clone()
            .display_name(format!("osenv-{name}"))
            .bin_name(format!("osenv {name}"));
        let man = clap_mangen::Man::new(sub);
        let mut section = Vec::new();
        man.render_synopsis_section(&mut section).map_err(failed)?;
        man.render_description_section(&mut section).map_err(failed)?;
        man.render_options_section(&mut section).map_err(failed)?;
        // Each part's own `.SH` headings become subsections of this command's section.
        let text = String::from_utf8_lossy(&section).replace(".SH ", ".SS ");
        roff.extend_from_slice(text.as_bytes());
    }
    // clap's `after_help` (the exit codes) is its "EXTRA" section: named as man pages name it.
    let mut extra = Vec::new();
    man.render_extra_section(&mut extra).map_err(failed)?;
    roff.extend_from_slice(
        String::from_utf8_lossy(&extra)
            .replace(".SH EXTRA", ".SH \"EXIT STATUS\"")
            .as_bytes(),
    );
    man.render_version_section(&mut roff).map_err(failed)?;
    emit(None, &String::from_utf8_lossy(&roff))
}
