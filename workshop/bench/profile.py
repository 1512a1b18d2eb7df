#!/usr/bin/env python3
"""Profiles of the pipeline's stages on the run's servers, as a markdown section (issue 25).

Called by workshop/bench/run after bench-run, with the servers' endpoints in the environment and
the release binaries built; appends "## Profiles" to the report named on the command line.

For each stage it records where the CPU went:
- CPU seconds per process (sampled from /proc every 200 ms, so processes that exit count too);
- our process's hottest functions (`perf record`, self time, release symbols);
- for Cassandra, the JVM's own sampler (Java Flight Recorder, built into JDK 17): which threads
  and which classes were on the CPU.

With the CPU a stage costs per order on each process, the report can say what bounds a figure:
on this machine the processes share its cores, so orders/s can be no higher than the cores
divided by the CPU seconds every process together spends per order.
"""

import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(ROOT, "target", "release")
TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
BENCH_KEY = "bench-key-0123456789"


def category(cmdline):
    """Which part of the system a process is, from its command line."""
    if "kafka.Kafka" in cmdline:
        return "Kafka broker"
    if "CassandraDaemon" in cmdline:
        return "Cassandra node"
    if "chdb_front" in cmdline:
        return "ClickHouse engine (chdb front)"
    first = cmdline.split(" ", 1)[0]
    return os.path.basename(first) or "other"


def processes():
    """(pid, command line) of every process with one."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmdline:
            yield pid, cmdline


class CpuSampler:
    """CPU seconds per process category between start() and stop(), sampled every 200 ms."""

    def __init__(self):
        self.first = {}
        self.last = {}
        self.names = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def sample(self):
        for pid, cmdline in processes():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks = int(fields[11]) + int(fields[12])
            self.first.setdefault(pid, ticks)
            self.last[pid] = ticks
            self.names[pid] = category(cmdline)

    def run(self):
        while not self.stopping.is_set():
            self.sample()
            time.sleep(0.2)

    def start(self):
        self.sample()
        self.started = time.monotonic()
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join()
        self.sample()
        self.wall = time.monotonic() - self.started
        totals = collections.Counter()
        for pid, ticks in self.last.items():
            totals[self.names[pid]] += (ticks - self.first[pid]) / TICKS
        return {name: seconds for name, seconds in totals.items() if seconds >= 0.05}


def perf_available():
    if shutil.which("perf") is None:
        return False
    probe = subprocess.run(["perf", "stat", "-e", "task-clock", "true"], capture_output=True)
    return probe.returncode == 0


def perf_rows(data):
    """Every function of a perf recording with its self time, hottest first, as (share, symbol)."""
    report = subprocess.run(
        ["perf", "report", "-i", data, "--no-children", "--sort", "sym", "--stdio", "-g", "none"],
        capture_output=True, text=True,
    ).stdout
    rows = []
    for line in report.splitlines():
        match = re.match(r"\s+([\d.]+)%\s+\[([.k])\]\s+(.*)", line)
        if match:
            share, space, symbol = match.groups()
            symbol = symbol.strip()
            if len(symbol) > 110:
                symbol = symbol[:107] + "..."
            rows.append((float(share), ("kernel: " if space == "k" else "") + symbol))
    return rows


def allocator_share(rows):
    """Share of `rows`' samples in malloc/free, glibc's or mimalloc's."""
    pattern = re.compile(r"(^|[^a-z])(_?int_malloc|_int_free|malloc|cfree|free|realloc|"
                         r"malloc_consolidate|unlink_chunk|mi_\w+|_mi_\w+)\b")
    return sum(share for share, symbol in rows if pattern.search(symbol))


def rate(line):
    """The orders/s a bench line reports, or None."""
    match = re.search(r"= *([\d.]+) orders/s", line)
    return float(match.group(1)) if match else None


def share_of(line, bound):
    measured = rate(line)
    if measured is None:
        return ""
    return f" The run measured {measured:,.0f} orders/s: {100 * measured / bound:.0f}% of that."


def result_line(output, prefix):
    for line in output.splitlines():
        if line.startswith(prefix):
            return line
    return ""


class Section:
    def __init__(self):
        self.lines = []

    def add(self, text=""):
        self.lines.append(text)

    def para(self, text):
        """A paragraph: the text and a blank line."""
        self.add(text)
        self.add()

    def quote(self, output, *prefixes):
        """The bench output's lines starting with `prefixes`, as a block."""
        lines = [line for line in (result_line(output, p) for p in prefixes) if line]
        for line in lines:
            self.add(f"    {line}")
        if lines:
            self.add()

    def cpu_table(self, cpu, wall, orders):
        self.add(f"CPU over {wall:.1f} s of wall time ({CORES} cores: {CORES * wall:.1f} CPU-s "
                 "available), per process:")
        self.add()
        self.add("| process | CPU-s | share of the machine | CPU ms per order |")
        self.add("| --- | --- | --- | --- |")
        for name, seconds in sorted(cpu.items(), key=lambda item: -item[1])[:6]:
            self.add(f"| {name} | {seconds:.1f} | {100 * seconds / (CORES * wall):.0f}% | "
                     f"{1000 * seconds / orders:.3f} |")
        total = sum(cpu.values())
        self.add(f"| **all** | {total:.1f} | {100 * total / (CORES * wall):.0f}% | "
                 f"{1000 * total / orders:.3f} |")
        self.add()
        return total

    def top_table(self, title, rows):
        self.add(f"{title}:")
        self.add()
        self.add("| self | function |")
        self.add("| --- | --- |")
        for share, symbol in rows:
            self.add(f"| {share:.1f}% | `{symbol.replace('|', '/')}` |")
        self.add()


def run(command, env=None):
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)


def run_timed(command, env):
    """Runs a bench that prints `timed part: started` and `timed part: ended`; its output, and the
    CPU per process and wall time between the two markers."""
    bench = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, env=env, cwd=ROOT)
    lines, cpu, used = [], None, {}
    for line in bench.stdout:
        lines.append(line)
        if line.startswith("timed part: started"):
            cpu = CpuSampler().start()
        elif line.startswith("timed part: ended") and cpu is not None:
            used = cpu.stop()
    bench.wait()
    return "".join(lines), used, (cpu.wall if cpu is not None and used else 0.0)


def profile_ingest(section, workdir, env):
    """ingest-api as the user runs it (release binary, its own process) under ingest-bench."""
    port = 18000 + os.getpid() % 1000
    service_env = dict(env, INGEST_LISTEN_ADDR=f"127.0.0.1:{port}", INGEST_API_KEYS=BENCH_KEY,
                       INGEST_RATE_LIMIT_PER_KEY="1000000", INGEST_BODY_LIMIT_BYTES="4194304",
                       RUST_LOG="warn")
    service = subprocess.Popen([os.path.join(RELEASE, "ingest-api")], env=service_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        orders = {"single": 40_000, "batch": 200_000}
        runs = {}
        for only in ("single", "batch"):
            data = os.path.join(workdir, f"ingest-{only}.perf")
            perf = subprocess.Popen(
                ["perf", "record", "-F", "999", "-o", data, "-p", str(service.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            cpu = CpuSampler().start()
            bench = run([os.path.join(RELEASE, "ingest-bench")],
                        dict(env, INGEST_URL=f"http://127.0.0.1:{port}", BENCH_ONLY=only,
                             BENCH_ORDERS=str(orders[only])))
            used = cpu.stop()
            perf.send_signal(signal.SIGINT)
            perf.wait()
            runs[only] = (bench, used, cpu.wall, data)
    finally:
        service.terminate()
        service.wait()
    section.para("### ingest-api")
    section.para("The release binary in its own process, `perf record` attached, while ingest-bench "
                 "posts to it: single orders (64 in flight), then batches of 500 (4 in flight). "
                 "Each run's CPU window includes ingest-bench's 2,000-order warm-up.")
    for only, what in (("single", "POST /v1/orders  "), ("batch", "POST /v1/orders/batch")):
        bench, used, wall, data = runs[only]
        section.para(f"**{'Single orders' if only == 'single' else 'Batches of 500'}:**")
        section.quote(bench.stdout, what)
        posted = orders[only] + 2_000
        section.cpu_table(used, wall, posted)
        service = used.get("ingest-api", 0.0)
        if service > 0:
            section.para(f"**Bound.** ingest-api itself spent {1000 * service / posted:.3f} CPU "
                         f"ms per order: with every core to itself it would top out at "
                         f"{CORES * posted / service:,.0f} orders/s. Here it shares them with the "
                         "client and the broker (the client's CPU includes building its request "
                         "bodies before the timed part)."
                         + share_of(result_line(bench.stdout, what), CORES * posted / service))
        rows = perf_rows(data)
        section.top_table("ingest-api's hottest functions", rows[:12])
        section.para(f"malloc and free (glibc's, librdkafka's, and mimalloc's): "
                     f"{allocator_share(rows):.1f}% of ingest-api's samples.")


def profile_stream(section, workdir, env):
    """stream-job's pipeline (in stream-bench's process) on both sinks, then Cassandra's JVM."""
    orders = 30_000
    data = os.path.join(workdir, "stream.perf")
    output, used, wall = run_timed(
        ["perf", "record", "-F", "499", "-o", data, "--", os.path.join(RELEASE, "stream-bench")],
        dict(env, BENCH_SINKS="both", BENCH_ORDERS=str(orders)))
    section.para("### stream-job")
    section.para(f"stream-bench with both sinks, {orders:,} orders pre-loaded, `perf record` on the "
                 "bench process, which runs the job's pipeline; CPU counted over the timed part "
                 "(first write to last commit) only:")
    section.quote(output, "Kafka -> Cassandra", "conflicting-duplicate check", "windows recomputed")
    if not used:
        section.para("(stream-bench did not mark its timed part: no CPU figures)")
        return
    total = section.cpu_table(used, wall, orders)
    cassandra = used.get("Cassandra node", 0.0)
    if cassandra > 0:
        section.para(f"**Bound.** Every process together spent {1000 * total / orders:.3f} CPU ms per "
                     f"order; on {CORES} cores that allows at most "
                     f"{CORES * orders / total:,.0f} orders/s whatever the job does. Cassandra "
                     f"alone spent {1000 * cassandra / orders:.3f} ms per order: even with the "
                     f"whole machine to itself it could store at most "
                     f"{CORES * orders / cassandra:,.0f} orders/s, so 10,000 orders/s on one node "
                     f"would need {10_000 * cassandra / orders:.1f} cores of Cassandra alone."
                     + share_of(result_line(output, "Kafka -> Cassandra"), CORES * orders / total))
    section.top_table("Hottest functions in the bench process (the job's pipeline and its "
                      "ClickHouse engine's client side)", perf_rows(data)[:10])
    profile_cassandra(section, workdir, env)


def java_pid(marker):
    return next((pid for pid, cmdline in processes() if marker in cmdline), None)


def profile_cassandra(section, workdir, env):
    """Java Flight Recorder on the Cassandra node during a Cassandra-only stream-bench."""
    pid = java_pid("CassandraDaemon")
    if pid is None or shutil.which("jcmd") is None or shutil.which("jfr") is None:
        section.para("(No Cassandra node of this machine's or no JDK tools: no JVM profile.)")
        return
    recording = os.path.join(workdir, "cassandra.jfr")
    started = run(["jcmd", pid, "JFR.start", "name=bench", "settings=default",
                   f"filename={recording}"])
    if started.returncode != 0:
        section.para(f"(Java Flight Recorder refused: {started.stdout.strip()[:200]})")
        return
    bench = run([os.path.join(RELEASE, "stream-bench")],
                dict(env, BENCH_SINKS="cassandra", BENCH_ORDERS="30000"))
    run(["jcmd", pid, "JFR.stop", "name=bench"])
    samples = run(["jfr", "print", "--events", "jdk.ExecutionSample", recording]).stdout
    events = samples.split("jdk.ExecutionSample {")[1:]
    threads, classes = collections.Counter(), collections.Counter()
    for event in events:
        thread = re.search(r'sampledThread = "([^"]*)"', event)
        if thread:
            threads[re.sub(r"\d+", "N", thread.group(1))] += 1
        seen = set()
        for frame in re.findall(r"^\s+([\w.$<>]+)\(", event, re.M):
            owner = frame.rsplit(".", 1)[0]
            if owner.startswith("org.apache.cassandra") and owner not in seen:
                classes[owner] += 1
                seen.add(owner)
    section.para("Cassandra's JVM (Java Flight Recorder's execution samples, default settings) "
                 "during a Cassandra-only stream-bench of 30,000 orders (slowed by the recorder):")
    section.quote(bench.stdout, "Kafka -> Cassandra")
    if not events:
        section.para("(no samples)")
        return
    section.add("| thread pool | samples |")
    section.add("| --- | --- |")
    for name, count in threads.most_common(7):
        section.add(f"| {name} | {100 * count / len(events):.0f}% |")
    section.add()
    section.add("| Cassandra class on the stack | samples |")
    section.add("| --- | --- |")
    for name, count in classes.most_common(10):
        section.add(f"| `{name}` | {100 * count / len(events):.0f}% |")
    section.add()


def main():
    report = sys.argv[1]
    section = Section()
    section.para("## Profiles")
    if not perf_available():
        section.add("`perf` is not available on this machine: no profiles.")
    else:
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn,scylla=off")
        with tempfile.TemporaryDirectory() as workdir:
            section.para("Taken after the figures above, on the same servers, one stage at a time. "
                         "Shares are of samples; CPU seconds come from /proc.")
            profile_ingest(section, workdir, env)
            profile_stream(section, workdir, env)
    text = open(report).read()
    marker = "\nThe whole run took"
    block = "\n".join(section.lines).rstrip() + "\n"
    if marker in text:
        head, tail = text.split(marker, 1)
        text = head.rstrip() + "\n\n" + block + marker + tail
    else:
        text = text.rstrip() + "\n\n" + block
    with open(report, "w") as f:
        f.write(text)
    print(f"profiles added to {report}")


if __name__ == "__main__":
    main()
