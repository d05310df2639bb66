//! The `ecs-bridge` command: the operator (`run`) and its offline tools. Kept thin: each
//! subcommand parses its flags and calls the library.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Amazon ECS's application model on Kubernetes.
#[derive(Parser)]
#[command(name = "ecs-bridge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How `render` prints objects.
#[derive(Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    /// Multi-document YAML.
    Yaml,
    /// One JSON `List`.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Turn ECS JSON from the AWS CLI into ecs-bridge custom resources (YAML on stdout).
    Import {
        /// RegisterTaskDefinition input, describe-task-definition output, CreateService input,
        /// describe-services output, CreateCapacityProvider input, describe-capacity-providers
        /// output or PutClusterCapacityProviders input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Namespace (the ECS cluster) to set on every object.
        #[arg(short, long)]
        namespace: Option<String>,
        /// Keep a service's `taskDefinition` as written when it pins a revision (`family:N` or
        /// an ARN with one); by default it becomes the family, since the source account's
        /// revision numbers will not exist in the cluster.
        #[arg(long)]
        keep_task_definition_revisions: bool,
    },
    /// Print the Kubernetes objects the operator would create for the given manifests, offline.
    Render {
        /// Manifest files or directories (multi-document YAML or JSON).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Nodes (a YAML/JSON list of Node objects, e.g. `kubectl get nodes -o yaml`) to compile
        /// placement against.
        #[arg(long)]
        nodes: Option<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value = "yaml")]
        output: OutputFormat,
        /// The installation options, as the operator's flags.
        #[command(flatten)]
        options: ecs_bridge::translate::Options,
    },
    /// Run the operator against the current kubeconfig context (or in-cluster config).
    Run {
        /// Namespaces to watch (repeat or comma-separate); all namespaces when absent.
        #[arg(long = "namespace", env = "ECS_BRIDGE_NAMESPACES", value_delimiter = ',')]
        namespaces: Vec<String>,
        /// Log filter, as RUST_LOG takes it (e.g. `info,kube=warn`).
        #[arg(long, env = "ECS_BRIDGE_LOG", default_value = "info,kube=warn")]
        log: String,
        /// Log as JSON lines instead of text.
        #[arg(long, env = "ECS_BRIDGE_LOG_JSON")]
        log_json: bool,
        /// TaskDefinition revisions to keep besides the latest and those Services use.
        #[arg(long, env = "ECS_BRIDGE_REVISION_HISTORY_LIMIT",
              default_value_t = ecs_bridge::controller::DEFAULT_REVISION_HISTORY_LIMIT)]
        revision_history_limit: usize,
        /// How long a stopped standalone task's pod is kept (describable, with its logs) before
        /// it is deleted, e.g. `1h`, `30m`, `2h30m`; the Task's status keeps its summary.
        #[arg(long, env = "ECS_BRIDGE_TASK_RETENTION", default_value = "1h",
              value_parser = parse_duration)]
        task_retention: std::time::Duration,
        /// The installation options.
        #[command(flatten)]
        options: ecs_bridge::translate::Options,
        /// Run the controllers only while holding the leader Lease, so that of several replicas
        /// one works at a time (`--leader-elect=false`: run a single replica; `--leader-elect`
        /// alone means true).
        #[arg(long, env = "ECS_BRIDGE_LEADER_ELECT", default_value_t = true, num_args = 0..=1,
              default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
        leader_elect: bool,
        /// Name of the leader Lease (coordination.k8s.io/v1).
        #[arg(long, env = "ECS_BRIDGE_LEASE_NAME", default_value = "ecs-bridge")]
        lease_name: String,
        /// Namespace of the leader Lease [default: $POD_NAMESPACE, else ecs-bridge-system].
        #[arg(long, env = "ECS_BRIDGE_LEASE_NAMESPACE")]
        lease_namespace: Option<String>,
        /// Address of the HTTP server of /healthz, /readyz and /metrics (port 0: any free port,
        /// logged).
        #[arg(long, env = "ECS_BRIDGE_METRICS_ADDRESS", default_value = "0.0.0.0:8080")]
        metrics_address: std::net::SocketAddr,
        /// How often every object is reconciled again although nothing changed (the
        /// level-triggered safety net), e.g. `5m`, `1h`.
        #[arg(long, env = "ECS_BRIDGE_RESYNC_INTERVAL", default_value = "5m",
              value_parser = parse_duration)]
        resync_interval: std::time::Duration,
        /// Most reconciles running at once, per controller (0: no limit).
        #[arg(long, env = "ECS_BRIDGE_CONCURRENCY",
              default_value_t = ecs_bridge::controller::DEFAULT_CONCURRENCY)]
        concurrency: u16,
        /// Requests a second the operator sends to the API server, sustained (0: no limit).
        #[arg(long, env = "ECS_BRIDGE_QPS", default_value_t = ecs_bridge::runtime::rate_limit::DEFAULT_QPS)]
        qps: u32,
        /// Requests the operator may send at once above `--qps` after a quiet time.
        #[arg(long, env = "ECS_BRIDGE_BURST", default_value_t = ecs_bridge::runtime::rate_limit::DEFAULT_BURST)]
        burst: u32,
    },
    /// Show what a memberOf expression (cluster query language) compiles to: node affinity and
    /// pod (anti-)affinity, and the nodes it selects.
    Explain {
        /// The expression, e.g. "attribute:ecs.instance-type =~ t3.* and not(task:group == db)".
        #[arg(long)]
        expression: String,
        /// Nodes (a YAML/JSON list of Node objects, e.g. `kubectl get nodes -o yaml`) to evaluate
        /// `=~` and `ec2InstanceId` against and to list the matches of.
        #[arg(long)]
        nodes: Option<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value = "json")]
        output: OutputFormat,
        /// Label prefix of custom ECS attributes, as the operator's flag: `attribute:stack` reads
        /// the node label `<PREFIX>stack`. Followed by a name it must be a label key
        /// (`example.com/`, `example.com/attr-`).
        #[arg(long, value_name = "PREFIX", default_value = DEFAULT_ATTRIBUTE_PREFIX,
              value_parser = ecs_bridge::translate::options::parse_attribute_prefix)]
        attribute_prefix: String,
    },
    /// Print the KubeSchedulerConfiguration of the ecs-bridge scheduler (binpack profiles).
    SchedulerConfig {
        /// Namespace of the scheduler's leader election lease.
        #[arg(long, default_value = "ecs-bridge-system")]
        namespace: String,
    },
    /// Print every CRD as multi-document YAML, or write one file per CRD with --dir.
    Crdgen {
        /// Write `<plural>.ecsbridge.io.yaml` files into this directory instead of printing.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// The default of `--attribute-prefix`.
const DEFAULT_ATTRIBUTE_PREFIX: &str = ecs_bridge::translate::placement::attributes::DEFAULT_PREFIX;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            // Causes often repeat their own causes in their message: print each new part once.
            let mut message = e.to_string();
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !message.contains(&cause) {
                    message = format!("{message}: {cause}");
                }
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Crdgen { dir } => crdgen(dir.as_deref()),
        Command::Explain {
            expression,
            nodes,
            output,
            attribute_prefix,
        } => explain(&expression, nodes.as_deref(), &attribute_prefix, output),
        Command::SchedulerConfig { namespace } => {
            let config = ecs_bridge::translate::placement::strategy::scheduler_configuration(&namespace);
            print!("{}", ecs_bridge::yaml::to_string(&config)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            files,
            namespace,
            keep_task_definition_revisions,
        } => import(
            &files,
            ecs_bridge::import::ImportOptions {
                namespace,
                keep_task_definition_revisions,
            },
        ),
        Command::Render {
            paths,
            nodes,
            output,
            options,
        } => render(&paths, nodes.as_deref(), output, &options),
        Command::Run {
            namespaces,
            log,
            log_json,
            revision_history_limit,
            task_retention,
            options,
            leader_elect,
            lease_name,
            lease_namespace,
            metrics_address,
            resync_interval,
            concurrency,
            qps,
            burst,
        } => {
            // The operator's own namespace: its Lease's, and its placeholder pods'.
            let own_namespace = lease_namespace
                .filter(|ns| !ns.is_empty())
                .unwrap_or_else(ecs_bridge::runtime::leader::default_namespace);
            run(
                namespaces,
                &log,
                log_json,
                ecs_bridge::runtime::rate_limit::RateLimit::from_flags(qps, burst),
                ecs_bridge::run::RunConfig {
                    controllers: ecs_bridge::controller::Config {
                        revision_history_limit,
                        options,
                        headroom_namespace: own_namespace.clone(),
                        task_retention,
                        concurrency,
                        resync_interval,
                    },
                    leader_election: leader_elect.then(|| ecs_bridge::runtime::LeaderConfig {
                        lease_name,
                        lease_namespace: own_namespace,
                        identity: ecs_bridge::runtime::leader::default_identity(),
                        timing: ecs_bridge::runtime::lease::Timing::default(),
                    }),
                    metrics_address: Some(metrics_address),
                    ..ecs_bridge::run::RunConfig::default()
                },
            )
        }
    }
}

fn explain(
    expression: &str,
    nodes: Option<&std::path::Path>,
    attribute_prefix: &str,
    output: OutputFormat,
) -> Result<ExitCode> {
    let nodes = match nodes {
        Some(path) => match ecs_bridge::render::read_nodes(path) {
            Ok(nodes) => Some(nodes),
            Err(d) => {
                eprintln!("{d}");
                return Ok(ExitCode::FAILURE);
            }
        },
        None => None,
    };
    match ecs_bridge::translate::placement::explain(expression, nodes.as_deref(), attribute_prefix) {
        Ok(v) => {
            match output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&v)?),
                OutputFormat::Yaml => print!("{}", ecs_bridge::yaml::to_string(&v)?),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: --expression: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn crdgen(dir: Option<&std::path::Path>) -> Result<ExitCode> {
    match dir {
        None => print!("{}", ecs_bridge::crdgen::multi_document()?),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for f in ecs_bridge::crdgen::files()? {
                let path = dir.join(&f.file_name);
                std::fs::write(&path, f.yaml).with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import(files: &[PathBuf], options: ecs_bridge::import::ImportOptions) -> Result<ExitCode> {
    let mut failed = false;
    let mut out = String::new();
    for (_, result) in ecs_bridge::import::import_files(files, &options) {
        for d in &result.diagnostics {
            eprintln!("{d}");
            failed |= d.is_error();
        }
        for obj in &result.objects {
            out.push_str("---\n");
            out.push_str(&obj.to_yaml()?);
        }
    }
    print!("{out}");
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn render(
    paths: &[PathBuf],
    nodes: Option<&std::path::Path>,
    output: OutputFormat,
    options: &ecs_bridge::translate::Options,
) -> Result<ExitCode> {
    let nodes = match nodes {
        Some(path) => Some(ecs_bridge::render::read_nodes(path).map_err(|d| anyhow::anyhow!("{d}"))?),
        None => None,
    };
    let rendered = ecs_bridge::render::render_paths(
        paths,
        options,
        nodes.as_deref(),
        k8s_openapi::jiff::Timestamp::now(),
    );
    for d in &rendered.diagnostics {
        eprintln!("{d}");
    }
    match output {
        OutputFormat::Yaml => {
            let mut out = String::new();
            for obj in &rendered.objects {
                out.push_str("---\n");
                out.push_str(&ecs_bridge::yaml::to_string(obj)?);
            }
            print!("{out}");
        }
        OutputFormat::Json => {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": rendered.objects});
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
    }
    Ok(if rendered.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run(
    namespaces: Vec<String>,
    log: &str,
    json: bool,
    rate_limit: Option<ecs_bridge::runtime::rate_limit::RateLimit>,
    run_config: ecs_bridge::run::RunConfig,
) -> Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_new(log).with_context(|| format!("--log {log:?}"))?;
    // Colours only for a person at a terminal: a file or a log collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let mut config = kube::Config::infer()
            .await
            .context("connecting to Kubernetes (kubeconfig or in-cluster service account)")?;
        // Say who we are: API server audit logs (and tests) tell the operator's requests apart.
        let agent = format!("ecs-bridge/{}", env!("CARGO_PKG_VERSION"));
        config
            .headers
            .push((http::header::USER_AGENT, http::HeaderValue::from_str(&agent)?));
        let client = ecs_bridge::runtime::rate_limit::client(config, rate_limit)
            .context("building the Kubernetes client")?;
        let run_config = ecs_bridge::run::RunConfig {
            namespaces,
            ..run_config
        };
        ecs_bridge::run::run(run_config, client).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// A duration as `1h`, `30m`, `90s` or `2h30m` (jiff's friendly format), at least one second.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let span: jiff::Span = text
        .parse()
        .map_err(|e| format!("{text:?} is not a duration like 1h, 30m or 90s: {e}"))?;
    let signed = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| format!("{text:?}: {e}"))?;
    let d = std::time::Duration::try_from(signed).map_err(|e| format!("{text:?}: {e}"))?;
    if d < std::time::Duration::from_secs(1) {
        return Err(format!("{text:?} is shorter than one second"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn task_retention_takes_friendly_durations() {
        assert_eq!(
            super::parse_duration("1h"),
            Ok(std::time::Duration::from_secs(3600))
        );
        assert_eq!(
            super::parse_duration("2h30m"),
            Ok(std::time::Duration::from_secs(9000))
        );
        assert!(super::parse_duration("0s").is_err_and(|e| e.contains("shorter than one second")));
        assert!(super::parse_duration("soon").is_err_and(|e| e.contains("not a duration")));
    }

    use clap::Parser;

    use super::{Cli, Command};

    /// `--leader-elect` of `run`, as parsed from `args`.
    fn leader_elect(args: &[&str]) -> bool {
        let cli = Cli::try_parse_from([&["ecs-bridge", "run"], args].concat()).expect("parses");
        match cli.command {
            Command::Run { leader_elect, .. } => leader_elect,
            _ => unreachable!("run"),
        }
    }

    #[test]
    fn leader_election_is_on_by_default_and_alone_or_with_a_value() {
        // (Unless the environment says otherwise.)
        if std::env::var_os("ECS_BRIDGE_LEADER_ELECT").is_none() {
            assert!(leader_elect(&[]));
        }
        assert!(leader_elect(&["--leader-elect"]));
        assert!(leader_elect(&["--leader-elect=true"]));
        assert!(!leader_elect(&["--leader-elect=false"]));
    }
}
