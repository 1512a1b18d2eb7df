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


def main():
    text = (ROOT / "docker-compose.yaml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    problems = []
    checks = 0

    def check(ok, message):
        nonlocal checks
        checks += 1
        if not ok:
            problems.append(message)

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
            check(":" in image and not image.endswith(":latest"), f"{name}: image {image!r} is not pinned to a tag")
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

    check_cassandra_entrypoint(check)
    check_cassandra_logins(services, check)
    check_no_secret_literals(services, check)

    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)(?::-[^}]*)?\}", text))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, re.M))
    for var in sorted(interpolated - documented):
        check(False, f"${{{var}}} is used but not documented in .env.example")
    for var in sorted(documented - interpolated):
        check(False, f".env.example sets {var}, which docker-compose.yaml never uses")
    check(bool(interpolated), "no variables interpolated at all")

    def mebibytes(limit):
        value = str(limit).lower()
        return int(value[:-1]) * (1024 if value.endswith("g") else 1) if value[-1] in "gm" else 0

    steady = sum(mebibytes(s.get("mem_limit", "0m")) for n, s in services.items() if n not in ONE_SHOT and "profiles" not in s)
    for problem in problems:
        print("FAILED " + problem)
    print(f"memory limits of the long-running services (no demo profile): {steady} MiB = {steady / 1024:.1f} GiB")
    print(f"{checks - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
