//! `lucid debug`: a toolbox beside a running container, a shell in an image that has none, or the
//! `kubectl debug` line for a pod.

use anyhow::Result;

use lucid::debug::{DEFAULT_TOOLBOX, Ids, Options, kubectl};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  lucid build lucid-toolbox --platform linux/amd64 --load      # the toolbox, once
  lucid debug my-app                                            # a shell beside a running container
  lucid debug my-app -- ps                                      # one command, its output, its status
  lucid debug my-app -- jattach 1 threaddump                    # a JVM's thread dump (jcmd Thread.print)
  lucid debug my-app -- jattach 1 jcmd GC.class_histogram       # a heap histogram
  lucid debug my-app -- py-spy dump --pid 1                     # a Python process's stacks
  lucid debug my-app -- cat /proc/1/root/etc/os-release         # the target's files
  lucid debug lucid-python-base:latest -- ls -l /usr/lib        # look around an image with no shell
  lucid debug --print-kubectl shop-7d9f --container app --toolbox REGISTRY/lucid/lucid-toolbox:latest

A running container: the toolbox joins its PID and network namespaces (and its IPC namespace when
it is shareable) as its UID and GID (its User, resolved through its /etc/passwd; --user to
override), with no added capability and the capabilities the target dropped dropped too; its
processes are in `ps`, its files under /proc/1/root. lucid writes nothing into the target: the
attach socket a JVM makes in /tmp when jattach attaches is removed afterwards, and anything else
that changed meanwhile (by the application, or by what you ran) is named.
An image: a container of it with the toolbox's static busybox at /busybox (read-only), no network.
Everything lucid creates in the engine is removed when the session ends, Ctrl-C included.

Exit: 0 when the command exits 0, 1 when it exits otherwise (its status is printed), 3 when
there is no engine, no such target or toolbox, the target is not running, or its user cannot be
resolved. docs/debugging.md has every workflow.")]
pub struct Args {
    /// A running container (name or ID), or an image in the engine; with --print-kubectl, a pod.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// The toolbox image (in the engine; with --print-kubectl, required: as the cluster pulls it).
    /// A toolbox needs /bin/busybox.
    #[arg(long, value_name = "IMAGE", default_value = DEFAULT_TOOLBOX)]
    pub toolbox: String,
    /// Run as UID:GID (numbers) instead of the target's user (with --print-kubectl: the pod's,
    /// default 65532:65532).
    #[arg(long, value_name = "UID:GID")]
    pub user: Option<String>,
    /// Print the `kubectl debug` command that gives pod TARGET the same toolbox, and run nothing.
    #[arg(long)]
    pub print_kubectl: bool,
    /// With --print-kubectl: the application's container in the pod (default: the pod's name).
    #[arg(long, value_name = "NAME", requires = "print_kubectl")]
    pub container: Option<String>,
    /// With --print-kubectl: the pod's namespace.
    #[arg(long, short = 'n', value_name = "NAMESPACE", requires = "print_kubectl")]
    pub namespace: Option<String>,
    /// The command to run in the toolbox (after `--`); none: an interactive shell.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub fn run(args: Args) -> Result<i32> {
    if args.print_kubectl {
        if args.toolbox == DEFAULT_TOOLBOX {
            return Err(lucid::exit::Usage::msg(
                "--print-kubectl: name the toolbox as the cluster pulls it, --toolbox REGISTRY/REPO/lucid-toolbox:TAG \
                 (push it with `lucid build lucid-toolbox --push -t ...`)",
            ));
        }
        let ids = match &args.user {
            Some(u) => lucid::debug::parse_user_flag(u).map_err(lucid::exit::Usage::msg)?,
            None => Ids { uid: 65532, gid: 65532 },
        };
        let request = kubectl::Request {
            pod: &args.target,
            container: args.container.as_deref().unwrap_or(&args.target),
            image: &args.toolbox,
            namespace: args.namespace.as_deref(),
            ids,
        };
        println!("{}", kubectl::command(&request));
        return Ok(lucid::exit::PASSED);
    }
    let opts = Options { target: args.target, toolbox: args.toolbox, user: args.user, command: args.command };
    let status = lucid::debug::run(&lucid::oci::engine::engine_host(), &opts)?;
    if status == 0 {
        return Ok(lucid::exit::PASSED);
    }
    if !opts.command.is_empty() {
        eprintln!("lucid: {:?} exited with status {status}", opts.command.join(" "));
    }
    Ok(lucid::exit::FINDINGS)
}
