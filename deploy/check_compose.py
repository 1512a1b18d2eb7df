"""Static checks of docker-compose.yaml that need no Docker engine: what a first `docker compose up`
on a clean machine relies on. Run after `docker-compose config -q` has validated the file against
the Compose specification.

Checks: every build context and Dockerfile, every mounted host path and every file a Dockerfile
COPYs exists; every long-running service has a healthcheck and a memory limit; start-up order
only names existing services; ports are published on 127.0.0.1 only; every variable the file
interpolates is documented in .env.example, and every key .env.example sets is used; images are
pinned to a tag. Cassandra requires logins: its entrypoint is deploy/cassandra-entrypoint.sh, which,
run on sample cassandra.yaml files of both layouts (5.0's `authenticator:` block with `class_name`,
and the one-line form), sets PasswordAuthenticator and CassandraAuthorizer, keeps
CassandraRoleManager and the other settings, and changes nothing when run again; its healthcheck
and the init step log in; every service that connects to Cassandra gets CASSANDRA_USERNAME and
CASSANDRA_PASSWORD. No password or other secret is written into the file: each comes from a
`${VAR...}` (or, in commands, `$$VAR`). Prints the memory footprint from the limits. Exit status 0
when all pass.
"""

import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
ONE_SHOT = {"kafka-init", "cassandra-init", "clickhouse-init", "superset-init"}
# Environment variables that hold a secret: their value must come from the environment (.env).
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEYS?$")
INTERPOLATED = re.compile(r"^\$\{[A-Z0-9_]+(:?-[^}]*)?\}$")
# A password given to a command (cqlsh's `-p X`, `--password X`, `--password=X`, CQL's
# `PASSWORD = 'X'`) must be a variable reference.
PASSWORD_ARGUMENTS = (
    re.compile(r"""\bcqlsh\b[^;|&\n]*?\s-p\s+["']?([^\s"']+)"""),
    re.compile(r"""--password(?:\s+|=)["']?([^\s"']+)"""),
    re.compile(r"""PASSWORD\s*=\s*'([^']*)'""", re.I),
)
# Services that talk to Cassandra and must log in; the pipeline's own ones at least.
CASSANDRA_CLIENTS = {"stream-job", "serving"}

# What the cassandra image's cassandra.yaml may look like around the auth settings.
SAMPLE_YAMLS = {
    "5.0 block form": """cluster_name: 'Test Cluster'
num_tokens: 16
# - PasswordAuthenticator relies on username/password pairs to authenticate
authenticator:
  class_name : org.apache.cassandra.auth.AllowAllAuthenticator
# MutualTlsAuthenticator can be configured using the following configuration.
#  class_name: org.apache.cassandra.auth.MutualTlsAuthenticator
#  parameters:
#    validator_class_name: org.apache.cassandra.auth.SpiffeCertificateValidator

# Authorization backend, implementing IAuthorizer
authorizer:
  class_name: AllowAllAuthorizer

role_manager:
  class_name: CassandraRoleManager
  parameters:
    # invalid_role_disconnect_task_period: 4h

network_authorizer:
  class_name: AllowAllNetworkAuthorizer
roles_validity: 2000ms
""",
    "one-line form": """cluster_name: 'Test Cluster'
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
role_manager: CassandraRoleManager
roles_validity: 2000ms
""",
}


def class_name(value):
    """A cassandra.yaml class setting, either form, as its short class name."""
    name = value.get("class_name") if isinstance(value, dict) else value
    return str(name).rsplit(".", 1)[-1]


def check_cassandra_entrypoint(check):
    script = ROOT / "deploy" / "cassandra-entrypoint.sh"
    for label, sample in SAMPLE_YAMLS.items():
        with tempfile.TemporaryDirectory() as conf:
            path = pathlib.Path(conf) / "cassandra.yaml"
            path.write_text(sample)
            runs = []
            for _ in range(2):
                run = subprocess.run(["bash", str(script), "--configure-only"], capture_output=True, text=True,
                                     env={"PATH": "/usr/bin:/bin", "CASSANDRA_CONF": conf})
                runs.append((run.returncode, path.read_text(), run.stderr.strip()))
            code, once, error = runs[0]
            check(code == 0, f"cassandra-entrypoint.sh --configure-only fails on the {label}: {error}")
            if code != 0:
                continue
            check(runs[1][:2] == (0, once), f"cassandra-entrypoint.sh changes the {label} again on a second run")
            settings, before = yaml.safe_load(once), yaml.safe_load(sample)
            check(class_name(settings.get("authenticator")) == "PasswordAuthenticator",
                  f"cassandra-entrypoint.sh leaves the {label} without PasswordAuthenticator")
            check(class_name(settings.get("authorizer")) == "CassandraAuthorizer",
                  f"cassandra-entrypoint.sh leaves the {label} without CassandraAuthorizer")
            check(class_name(settings.get("role_manager")) == "CassandraRoleManager",
                  f"cassandra-entrypoint.sh leaves the {label} without CassandraRoleManager")
            others = {k: v for k, v in before.items() if k not in ("authenticator", "authorizer")}
            check(all(settings.get(k) == v for k, v in others.items()),
                  f"cassandra-entrypoint.sh changes other settings of the {label}")


def check_cassandra_logins(services, check):
    cassandra = services.get("cassandra", {})
    mounts = {v.split(":")[1]: v.split(":")[0] for v in cassandra.get("volumes", []) if v.startswith("./")}
    entrypoint = " ".join(cassandra.get("entrypoint") or [])
    script = re.search(r"(/\S*cassandra-entrypoint\.sh)\b", entrypoint)
    check(bool(script) and mounts.get(script.group(1)) == "./deploy/cassandra-entrypoint.sh",
          "cassandra: the entrypoint is not ./deploy/cassandra-entrypoint.sh (PasswordAuthenticator), mounted")
    check(cassandra.get("command") == ["cassandra", "-f"], "cassandra: command is not [cassandra, -f]")
    check("CASSANDRA_SUPERUSER_PASSWORD" in (cassandra.get("environment") or {}),
          "cassandra: no CASSANDRA_SUPERUSER_PASSWORD for its credentials file")
    health = " ".join(cassandra.get("healthcheck", {}).get("test", []))
    probe = re.search(r"(/\S*cassandra-healthcheck\.sh)\b", health)
    check(bool(probe) and mounts.get(probe.group(1)) == "./deploy/cassandra-healthcheck.sh",
          "cassandra: the healthcheck is not ./deploy/cassandra-healthcheck.sh (a login), mounted")
    probe_text = (ROOT / "deploy" / "cassandra-healthcheck.sh").read_text()
    check("cqlsh" in probe_text and "--credentials" in probe_text,
          "deploy/cassandra-healthcheck.sh does not log in with cqlsh")

    init = services.get("cassandra-init", {})
    init_env = init.get("environment") or {}
    for var in ("CASSANDRA_SUPERUSER_PASSWORD", "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD"):
        check(var in init_env, f"cassandra-init: no {var}")
    clients = {name for name, s in services.items()
               if "CASSANDRA_CONTACT_POINTS" in (s.get("environment") or {})}
    for name in sorted(CASSANDRA_CLIENTS - clients):
        check(False, f"{name}: no CASSANDRA_CONTACT_POINTS")
    for name in sorted(clients):
        env = services[name].get("environment") or {}
        for var in ("CASSANDRA_USERNAME", "CASSANDRA_PASSWORD"):
            check(var in env, f"{name}: connects to Cassandra without {var}")
            check(env.get(var) == init_env.get(var),
                  f"{name}: {var} is not the one cassandra-init sets up ({env.get(var)!r})")
    check(init_env.get("CASSANDRA_SUPERUSER_PASSWORD") == (cassandra.get("environment") or {}).get(
        "CASSANDRA_SUPERUSER_PASSWORD"), "cassandra and cassandra-init get different CASSANDRA_SUPERUSER_PASSWORD")


def check_no_secret_literals(services, check):
    for name, service in services.items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
        for var, value in env.items():
            if SECRET_NAME.search(var):
                check(value is None or bool(INTERPOLATED.match(str(value))),
                      f"{name}: {var} is written into docker-compose.yaml; take it from .env as ${{{var}:-...}}")
        commands = []
        for key in ("command", "entrypoint"):
            value = service.get(key)
            commands += value if isinstance(value, list) else [value] if value else []
        commands += service.get("healthcheck", {}).get("test", [])
        for text in commands:
            for pattern in PASSWORD_ARGUMENTS:
                for match in pattern.finditer(str(text)):
                    check(match.group(1).startswith("$"),
                          f"{name}: a password is written into a command; use a variable from .env")


def merged(base, override):
    """`docker compose -f base -f override`'s model, as far as these checks read it: mappings merge
    key by key (environment, depends_on, healthcheck), ports and volumes add up, anything else the
    override sets replaces the base's."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        elif key in ("ports", "volumes") and isinstance(result.get(key), list):
            result[key] = result[key] + [v for v in value if v not in result[key]]
        else:
            result[key] = value
    return result


def default(value):
    """The value a setting takes when .env leaves it unset: `${VAR:-default}`'s default."""
    match = re.fullmatch(r"\$\{[A-Z0-9_]+:-([^}]*)\}", str(value))
    return match.group(1) if match else str(value)


def check_deployment(compose, check):
    services = compose["services"]
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = ROOT / build["context"]
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            check(dockerfile.is_file(), f"{name}: {dockerfile} is missing")
            for line in dockerfile.read_text().splitlines() if dockerfile.is_file() else []:
                match = re.match(r"^COPY\s+(?!--from)(.+)\s+\S+$", line.strip())
                if match:
                    for source in match.group(1).split():
                        check((context / source).exists(), f"{name}: {dockerfile.name} copies {source}, which is missing")
        else:
            image = service.get("image", "")
            check(":" in image and not image.endswith(":latest")
                  or image == "sales-pipeline:latest" and any(s.get("build") and s.get("image") == image
                                                              for s in services.values()),
                  f"{name}: image {image!r} is not pinned to a tag")
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("./"):
                check((ROOT / host).exists(), f"{name}: mounts {host}, which is missing")
            else:
                check(host in compose.get("volumes", {}), f"{name}: named volume {host} is not declared")
        for dependency in service.get("depends_on", {}):
            check(dependency in services, f"{name}: depends on unknown service {dependency}")
        for port in service.get("ports", []):
            check(str(port).startswith("127.0.0.1:"), f"{name}: port {port} is published beyond localhost")
        check("mem_limit" in service, f"{name}: no memory limit")
        if name not in ONE_SHOT:
            check("healthcheck" in service, f"{name}: no healthcheck")
            check(service.get("restart") == "unless-stopped", f"{name}: no restart policy")
    published = [str(p).rsplit(":", 1)[0] for s in services.values() for p in s.get("ports", [])]
    check(len(published) == len(set(published)), f"a host port is published twice: {sorted(published)}")

    check_cassandra_logins(services, check)
    check_no_secret_literals(services, check)


def members(services, command):
    return sorted(name for name, s in services.items() if s.get("command") == command)


def check_cluster(services, check):
    """What issue 21's cluster deployment promises, read from the merged model with .env unset."""
    env = {name: {k: default(v) for k, v in (s.get("environment") or {}).items()} for name, s in services.items()}
    brokers = sorted(n for n, s in services.items() if str(s.get("image", "")).startswith("apache/kafka")
                     and "KAFKA_NODE_ID" in env[n])
    check(len(brokers) == 3, f"cluster: {len(brokers)} Kafka brokers, not 3")
    voters = {env[b].get("KAFKA_CONTROLLER_QUORUM_VOTERS") for b in brokers}
    check(len(voters) == 1, f"cluster: the brokers name different controller quorums: {voters}")
    quorum = dict(v.split("@") for v in (voters.pop() if len(voters) == 1 else "").split(",") if "@" in v)
    for broker in brokers:
        e = env[broker]
        check(quorum.get(e.get("KAFKA_NODE_ID")) == f"{broker}:9093",
              f"cluster: {broker} (node {e.get('KAFKA_NODE_ID')}) is not its own voter in the quorum {quorum}")
        check(e.get("KAFKA_PROCESS_ROLES") == "broker,controller", f"cluster: {broker} is not in KRaft combined mode")
        check(e.get("KAFKA_ADVERTISED_LISTENERS") == f"PLAINTEXT://{broker}:9092",
              f"cluster: {broker} advertises {e.get('KAFKA_ADVERTISED_LISTENERS')}")
        for var, value in (("KAFKA_DEFAULT_REPLICATION_FACTOR", "3"), ("KAFKA_MIN_INSYNC_REPLICAS", "2"),
                           ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3"),
                           ("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "false")):
            check(e.get(var) == value, f"cluster: {broker} has {var}={e.get(var)!r}, not {value}")
    check(len({env[b].get("CLUSTER_ID") for b in brokers}) == 1 and env[brokers[0]].get("CLUSTER_ID"),
          "cluster: the brokers do not share one CLUSTER_ID")
    init = env.get("kafka-init", {})
    check((init.get("KAFKA_REPLICATION_FACTOR"), init.get("KAFKA_MIN_INSYNC_REPLICAS")) == ("3", "2"),
          "cluster: kafka-init does not create the topics with 3 replicas and min.insync.replicas=2")
    script = " ".join(map(str, services.get("kafka-init", {}).get("command") or []))
    check("$$KAFKA_REPLICATION_FACTOR" in script and "min.insync.replicas=\"$$KAFKA_MIN_INSYNC_REPLICAS\"" in script,
          "kafka-init's command does not use KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS")

    nodes = sorted(n for n, s in services.items() if str(s.get("image", "")).startswith("cassandra:")
                   and s.get("command") == ["cassandra", "-f"])
    check(len(nodes) == 3, f"cluster: {len(nodes)} Cassandra nodes, not 3")
    for key in ("CASSANDRA_CLUSTER_NAME", "CASSANDRA_DC", "CASSANDRA_SEEDS", "CASSANDRA_SUPERUSER_PASSWORD"):
        values = {env[n].get(key) for n in nodes}
        check(len(values) == 1 and None not in values, f"cluster: the Cassandra nodes differ in {key}: {values}")
    check(env.get("cassandra-init", {}).get("CASSANDRA_REPLICAS") == "3"
          and env.get("cassandra-init", {}).get("CASSANDRA_DC") == env[nodes[0]].get("CASSANDRA_DC"),
          "cluster: cassandra-init does not give the keyspace 3 replicas in the nodes' data centre")
    init_script = (ROOT / "deploy" / "cassandra-init.sh").read_text()
    check("NetworkTopologyStrategy" in init_script and "ALTER KEYSPACE system_auth" in init_script,
          "deploy/cassandra-init.sh does not replicate the keyspace and the logins with NetworkTopologyStrategy")

    jobs = members(services, ["stream-job", "run"])
    check(len(jobs) == 3, f"cluster: {len(jobs)} stream-job members, not 3")
    check(len({env[j].get("STREAM_JOB_GROUP") for j in jobs}) == 1, "cluster: the stream-job members are in different groups")
    servings = members(services, ["serving"])
    check(len(servings) == 2, f"cluster: {len(servings)} serving instances, not 2")
    for name in jobs + servings + ["ingest-api"]:
        e = env.get(name, {})
        check(e.get("KAFKA_BOOTSTRAP_SERVERS") == ",".join(f"{b}:9092" for b in brokers),
              f"cluster: {name} does not bootstrap from every broker ({e.get('KAFKA_BOOTSTRAP_SERVERS')})")
        if name != "ingest-api":
            check(e.get("CASSANDRA_CONTACT_POINTS") == ",".join(f"{n}:9042" for n in nodes),
                  f"cluster: {name} does not know every Cassandra node ({e.get('CASSANDRA_CONTACT_POINTS')})")
            check(e.get("CASSANDRA_CONSISTENCY") == "LOCAL_QUORUM" and e.get("CASSANDRA_LOCAL_DC") == env[nodes[0]].get("CASSANDRA_DC"),
                  f"cluster: {name} does not read and write at LOCAL_QUORUM in the nodes' data centre")
    same = ("KAFKA_TOPIC", "CASSANDRA_KEYSPACE", "CLICKHOUSE_URL", "CLICKHOUSE_DATABASE", "BUSINESS_TIME_ZONE",
            "STREAM_JOB_WINDOW_SECONDS")
    for key in same:
        values = {env[j].get(key) for j in jobs}
        check(len(values) == 1, f"cluster: the stream-job members differ in {key}: {values}")

    command = services.get("prometheus", {}).get("command") or []
    config = next((c.split("=", 1)[1] for c in command if c.startswith("--config.file=")), "")
    path = ROOT / "deploy" / "prometheus" / pathlib.Path(config).name
    check(path.is_file(), f"cluster: Prometheus reads {config}, which deploy/prometheus lacks")
    if path.is_file():
        scraped = {t for job in yaml.safe_load(path.read_text())["scrape_configs"]
                   for c in job.get("static_configs", []) for t in c["targets"]}
        for name in jobs:
            check(f"{name}:9100" in scraped, f"cluster: Prometheus does not scrape {name}")
        for name in servings:
            check(f"{name}:8081" in scraped, f"cluster: Prometheus does not scrape {name}")


def mebibytes(limit):
    value = str(limit).lower()
    return int(value[:-1]) * (1024 if value.endswith("g") else 1) if value[-1] in "gm" else 0


def steady_memory(services):
    return sum(mebibytes(s.get("mem_limit", "0m")) for n, s in services.items() if n not in ONE_SHOT and "profiles" not in s)


def main():
    text = (ROOT / "docker-compose.yaml").read_text()
    cluster_text = (ROOT / "docker-compose.cluster.yaml").read_text()
    compose = yaml.safe_load(text)
    cluster = merged(compose, yaml.safe_load(cluster_text))
    problems = []
    checks = 0

    def check(ok, message):
        nonlocal checks
        checks += 1
        if not ok:
            problems.append(message)

    def labelled(label):
        return lambda ok, message: check(ok, f"{label}: {message}")

    check_deployment(compose, labelled("docker-compose.yaml"))
    check_deployment(cluster, labelled("with docker-compose.cluster.yaml"))
    check_cluster(cluster["services"], labelled("docker-compose.cluster.yaml"))
    check_cassandra_entrypoint(check)

    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)(?::-[^}]*)?\}", text + cluster_text))
    example = (ROOT / ".env.example").read_text()
    # A setting whose default differs between the two deployments is documented commented out.
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, re.M))
    for var in sorted(interpolated - documented):
        check(False, f"${{{var}}} is used but not documented in .env.example")
    for var in sorted(documented - interpolated):
        check(False, f".env.example sets {var}, which the compose files never use")
    check(bool(interpolated), "no variables interpolated at all")

    for problem in problems:
        print("FAILED " + problem)
    single, whole = steady_memory(compose["services"]), steady_memory(cluster["services"])
    print(f"memory limits of the long-running services (no demo profile): {single} MiB = {single / 1024:.1f} GiB; "
          f"with the cluster file {whole} MiB = {whole / 1024:.1f} GiB")
    print(f"{checks - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
