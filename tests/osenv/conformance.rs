//! One suite every backend that stores secrets runs, against its real server (or the project's
//! own fake): store, read, overwrite, export, check, missing, permanent delete, delete of what is
//! gone. The values written here cross the wire, so the suite also proves that they reach stdout
//! only: never stderr, even at `-vvv`, and never `check`'s output.

use crate::support::{Run, osenv, workdir};
use std::path::Path;

/// How to reach one backend.
trait Fixture {
    /// LiteLLM's `key_management_system` value.
    fn system(&self) -> &'static str;
    /// The environment a run needs to reach the server.
    fn env(&self) -> Vec<(&'static str, String)>;
}

fn run(fixture: &dyn Fixture, dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    osenv(dir).args(args).envs(fixture.env()).stdin_opt(stdin).run()
}

#[track_caller]
fn no_value(run: &Run, values: &[&str]) {
    for value in values {
        assert!(!run.stderr.contains(value), "a value on stderr:\n{}", run.stderr);
    }
}

fn suite(fixture: &dyn Fixture) {
    let system = fixture.system();
    // Names every backend can hold: letters, digits and `-` (Azure allows nothing else), no
    // prefix (Google allows no `/`), unique per process (servers are shared).
    let name = format!("conformance-{}", crate::support::run_id());
    let first = format!("canary-{system}-first-{}", crate::support::run_id());
    let second = format!("canary-{system}-second-{}", crate::support::run_id());
    let values = [first.as_str(), second.as_str()];
    let config = format!(
        "general_settings:\n  key_management_system: {system}\n  key_management_settings:\n    access_mode: read_and_write\n    prefix_for_stored_virtual_keys: \"\"\n\
         model_list:\n  - model_name: m\n    litellm_params:\n      api_key: os.environ/{name}\n"
    );
    let missing = format!("{config}      api_base: os.environ/{name}-missing\n");
    let dir = workdir(&[("config.yaml", &config), ("missing.yaml", &missing)]);
    let d = dir.path();

    // Store, then read back; at -vvv the value the server returned is on stdout only.
    run(fixture, d, &["put", "config.yaml", &name], Some(&format!("{first}\n"))).success();
    let out = run(fixture, d, &["-vvv", "render", "config.yaml"], None);
    out.success();
    assert!(
        out.stdout.contains(&format!("api_key: {first}\n")),
        "{system}: {}",
        out.stdout
    );
    no_value(&out, &values);

    // Overwrite: the next read sees the new value.
    run(fixture, d, &["put", "config.yaml", &name], Some(&second)).success();
    let out = run(fixture, d, &["-vvv", "env", "config.yaml", "--format", "json"], None);
    out.success();
    let exported: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(exported[&name], second.as_str(), "{system}");
    no_value(&out, &values);

    // check proves it exists and prints no value.
    let out = run(fixture, d, &["-vvv", "check", "config.yaml"], None);
    out.success();
    assert!(
        !out.stdout.contains(&second) && !out.stdout.contains(&first),
        "{}",
        out.stdout
    );
    no_value(&out, &values);

    // A missing name is located, names the backend, and the present one's value stays out.
    let out = run(fixture, d, &["-vvv", "render", "missing.yaml"], None);
    out.code(1);
    assert!(
        out.stderr.contains(&format!(
            "missing.yaml:10:17: cannot resolve `os.environ/{name}-missing`: not found in {system}"
        )),
        "{system}: {}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    no_value(&out, &values);

    // A permanent delete; then nothing is read, and a second delete says there is nothing.
    run(fixture, d, &["delete", "config.yaml", &name, "--force"], None).success();
    let out = run(fixture, d, &["render", "config.yaml"], None);
    out.code(1);
    assert!(
        out.stderr.contains(&format!("cannot resolve `os.environ/{name}`")),
        "{system}: {}",
        out.stderr
    );
    no_value(&out, &values);
    let out = run(fixture, d, &["delete", "config.yaml", &name, "--force"], None);
    out.code(1);
    // Some services delete idempotently (AWS force delete, Vault); osenv still says so.
    assert!(
        out.stderr.contains("no secret `") && out.stderr.contains(&format!("{name}` to ")),
        "{system}: {}",
        out.stderr
    );
}

#[cfg(feature = "aws")]
mod aws {
    use crate::servers::{Moto, moto};

    struct Aws(Moto);

    impl super::Fixture for Aws {
        fn system(&self) -> &'static str {
            "aws_secret_manager"
        }
        fn env(&self) -> Vec<(&'static str, String)> {
            Moto::env(&self.0.url)
        }
    }

    #[test]
    fn aws_secrets_manager() {
        let Some(moto) = moto() else { return };
        super::suite(&Aws(moto));
    }
}

#[cfg(feature = "vault")]
mod vault {
    struct Vault(crate::vault::Server);

    impl super::Fixture for Vault {
        fn system(&self) -> &'static str {
            "hashicorp_vault"
        }
        fn env(&self) -> Vec<(&'static str, String)> {
            vec![
                ("HCP_VAULT_ADDR", self.0.addr.clone()),
                ("HCP_VAULT_TOKEN", "root".into()),
            ]
        }
    }

    #[test]
    fn hashicorp_vault() {
        let Some(server) = crate::vault::server() else { return };
        super::suite(&Vault(server));
    }
}

#[cfg(feature = "azure")]
mod azure {
    struct Azure(crate::azure::Fake);

    impl super::Fixture for Azure {
        fn system(&self) -> &'static str {
            "azure_key_vault"
        }
        fn env(&self) -> Vec<(&'static str, String)> {
            self.0.managed_identity()
        }
    }

    #[test]
    fn azure_key_vault() {
        let Some(fake) = crate::azure::fake() else { return };
        super::suite(&Azure(fake));
    }
}

#[cfg(feature = "gcp")]
mod gcp {
    struct Google(crate::gcp::Drongo);

    impl super::Fixture for Google {
        fn system(&self) -> &'static str {
            "google_secret_manager"
        }
        fn env(&self) -> Vec<(&'static str, String)> {
            self.0.env(&self.0.url)
        }
    }

    #[test]
    fn google_secret_manager() {
        let Some(drongo) = crate::gcp::drongo() else { return };
        super::suite(&Google(drongo));
    }
}

#[cfg(feature = "cyberark")]
mod conjur {
    struct Conjur(crate::conjur::Fake);

    impl super::Fixture for Conjur {
        fn system(&self) -> &'static str {
            "cyberark"
        }
        fn env(&self) -> Vec<(&'static str, String)> {
            self.0.admin()
        }
    }

    #[test]
    fn cyberark_conjur() {
        let Some(fake) = crate::conjur::fake() else { return };
        super::suite(&Conjur(fake));
    }
}
