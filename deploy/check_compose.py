"""Static checks of docker-compose.yaml that need no Docker engine: what a first `docker compose up`
on a clean machine relies on. Run after `docker-compose config -q` has validated the file against
the Compose specification.

Checks: every build context and Dockerfile, every mounted host path and every file a Dockerfile
COPYs exists; every long-running service has a healthcheck and a memory limit; start-up order
only names existing services; ports are published on 127.0.0.1 only; every variable the file
interpolates is documented in .env.example, and every key .env.example sets is used; images are
pinned to a tag. Prints the memory footprint from the limits. Exit status 0 when all pass.
"""

import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
ONE_SHOT = {"kafka-init", "cassandra-init", "clickhouse-init", "superset-init"}


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
