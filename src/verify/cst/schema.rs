//! The container-structure-test schema 2.0.0, field for field as container-structure-test
//! declares it (`pkg/types/v2/*.go`, `pkg/types/unversioned/types.go`), with its defaults.
//!
//! container-structure-test reads YAML with `yaml.UnmarshalStrict` (yaml.v2): an unknown key or a
//! key given twice is an error, and a key left out, or given as `null`, is Go's zero value (an
//! empty string or list, 0, false). So every type here denies unknown fields and reads `null` as
//! empty ([`nullable`]). Fields without a yaml tag in Go are spelled as yaml.v2 derives them (the
//! lowercased Go name: `key`, `value`, `user`, `privileged`, `capabilities`).
//!
//! What container-structure-test checks in `Validate` (a test without a name, an empty setup
//! command) is no parse error there but a failed test: [`super`] reports it the same way.

use serde::{Deserialize, Deserializer};

/// `null` (or a missing key, with `#[serde(default)]`) as the type's zero value, as yaml.v2 does.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// A whole test file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schema {
    #[serde(default, deserialize_with = "nullable")]
    pub schema_version: String,
    /// Set in the image's environment before every command and file existence test; values are
    /// expanded (`$VAR`, `${VAR}`) against the image's own environment.
    #[serde(default, deserialize_with = "nullable")]
    pub global_env_vars: Vec<EnvVar>,
    #[serde(default, deserialize_with = "nullable")]
    pub command_tests: Vec<CommandTest>,
    #[serde(default, deserialize_with = "nullable")]
    pub file_existence_tests: Vec<FileExistenceTest>,
    #[serde(default, deserialize_with = "nullable")]
    pub file_content_tests: Vec<FileContentTest>,
    #[serde(default, deserialize_with = "nullable")]
    pub metadata_test: MetadataTest,
    #[serde(default, deserialize_with = "nullable")]
    pub license_tests: Vec<LicenseTest>,
    #[serde(default, deserialize_with = "nullable")]
    pub container_run_options: ContainerRunOptions,
}

/// `key`/`value` (and `isRegex` where a value is matched): env vars and labels alike.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
    #[serde(default, deserialize_with = "nullable")]
    pub value: String,
    #[serde(default, deserialize_with = "nullable", rename = "isRegex")]
    pub is_regex: bool,
}

/// How containers of command tests run.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerRunOptions {
    #[serde(default, deserialize_with = "nullable")]
    pub user: String,
    #[serde(default, deserialize_with = "nullable")]
    pub privileged: bool,
    #[serde(default, deserialize_with = "nullable", rename = "allocateTty")]
    pub allocate_tty: bool,
    /// Names of variables of the environment lucid runs in, passed on with their values.
    #[serde(default, deserialize_with = "nullable", rename = "envVars")]
    pub env_vars: Vec<String>,
    /// A dotenv file on the host (relative to the working directory, as container-structure-test
    /// reads it).
    #[serde(default, deserialize_with = "nullable", rename = "envFile")]
    pub env_file: String,
    #[serde(default, deserialize_with = "nullable")]
    pub capabilities: Vec<String>,
    /// `HOST:CONTAINER[:OPTIONS]`, docker's `-v` syntax.
    #[serde(default, deserialize_with = "nullable", rename = "bindMounts")]
    pub bind_mounts: Vec<String>,
}

impl ContainerRunOptions {
    /// container-structure-test's `IsSet`: only then does it replace the container's
    /// environment with `envFile` and `envVars` (see [`super::commands`]).
    pub fn is_set(&self) -> bool {
        !self.user.is_empty()
            || self.privileged
            || self.allocate_tty
            || !self.env_file.is_empty()
            || !self.env_vars.is_empty()
            || !self.capabilities.is_empty()
            || !self.bind_mounts.is_empty()
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandTest {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Commands run before `command`, each in a container of its own whose changes the next one
    /// sees (container-structure-test commits each to an image).
    #[serde(default, deserialize_with = "nullable")]
    pub setup: Vec<Vec<String>>,
    /// Commands after `command` (container-structure-test's docker driver skips them).
    #[serde(default, deserialize_with = "nullable")]
    pub teardown: Vec<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub env_vars: Vec<EnvVar>,
    #[serde(default, deserialize_with = "nullable")]
    pub exit_code: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub command: String,
    #[serde(default, deserialize_with = "nullable")]
    pub args: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub expected_output: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub excluded_output: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub expected_error: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub excluded_error: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileExistenceTest {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub path: String,
    /// True unless said otherwise (container-structure-test's `UnmarshalYAML` default).
    #[serde(default = "yes")]
    pub should_exist: bool,
    /// Go's `os.FileMode` string (`-rwxr-xr-x`, `dtrwxrwxrwx`, `Lrwxrwxrwx`).
    #[serde(default, deserialize_with = "nullable")]
    pub permissions: String,
    /// `None` (or -1, container-structure-test's default) leaves the owner unchecked.
    #[serde(default)]
    pub uid: Option<i64>,
    #[serde(default)]
    pub gid: Option<i64>,
    /// `owner`, `group`, `other` or `any`.
    #[serde(default, deserialize_with = "nullable")]
    pub is_executable_by: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileContentTest {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub path: String,
    #[serde(default, deserialize_with = "nullable")]
    pub expected_contents: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub excluded_contents: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseTest {
    #[serde(default, deserialize_with = "nullable")]
    pub debian: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub files: Vec<String>,
}

/// Every field may be left out. `entrypoint` and `cmd` are checked only when given: `[]` says
/// the image has none, a missing key (or `null`) says nothing.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetadataTest {
    #[serde(default, deserialize_with = "nullable")]
    pub env_vars: Vec<EnvVar>,
    /// Variables that must not be set (only `key` counts).
    #[serde(default, deserialize_with = "nullable")]
    pub unbound_env_vars: Vec<EnvVar>,
    #[serde(default, deserialize_with = "nullable")]
    pub exposed_ports: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub unexposed_ports: Vec<String>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub workdir: String,
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub unmounted_volumes: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub labels: Vec<EnvVar>,
    #[serde(default, deserialize_with = "nullable")]
    pub user: String,
}

impl MetadataTest {
    /// container-structure-test's `IsEmpty`: an empty metadata test is not run (no result).
    pub fn is_empty(&self) -> bool {
        self.env_vars.is_empty()
            && self.unbound_env_vars.is_empty()
            && self.exposed_ports.is_empty()
            && self.unexposed_ports.is_empty()
            && self.entrypoint.is_none()
            && self.cmd.is_none()
            && self.workdir.is_empty()
            && self.user.is_empty()
            && self.volumes.is_empty()
            && self.unmounted_volumes.is_empty()
            && self.labels.is_empty()
    }
}
