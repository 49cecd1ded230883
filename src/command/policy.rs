//! `osenv policy`: the least-privilege access policy for the secrets a config reads, in its
//! manager's language (each backend writes its own: [`osenv::backend::policy`]).

use super::output::emit;
use crate::cli::{PolicyAccess, PolicyArgs, PolicyFormat};
use osenv::backend::policy::Access;
use osenv::error::Error;

pub(super) fn run(args: &PolicyArgs) -> Result<(), Error> {
    let session = super::load(&args.config)?;
    let access = match args.access {
        PolicyAccess::Read => Access::Read,
        PolicyAccess::ReadWrite => Access::ReadWrite,
    };
    let (policy, read, write) = session.policy(access, args.principal.as_deref())?;
    let text = match args.format {
        PolicyFormat::Text => {
            // A JSON document has no comments: what it cannot say goes to stderr.
            if policy.language == "iam-policy" {
                for note in &policy.notes {
                    osenv::escape::eprint_line(&format!("note: {note}"));
                }
            }
            osenv::escape::lines(&policy.text)
        }
        PolicyFormat::Json => {
            let report = serde_json::json!({
                "config": session.document().file().as_ref(),
                "manager": session.backend_name(),
                "access": access.as_str(),
                "language": policy.language,
                "policy": policy.data,
                "names": { "read": read, "write": write },
                "notes": policy.notes,
            });
            osenv::escape::json(&serde_json::to_string_pretty(&report).expect("a report serializes")) + "\n"
        }
    };
    emit(None, &text)
}
