"""Self-test of chdb_front.py: spawns it as the Rust harness does and speaks ClickHouse HTTP to it.

Run with the venv that requirements-chdb.txt describes:

    target/chdb-venv/bin/python workshop/test-support/test_chdb_front.py

Requests are built by hand where the exact bytes matter (the `clickhouse` crate's chunked,
native-compressed RowBinary inserts and multipart parameters); clickhouse-connect, which Superset
uses, is driven through its own API. Ends with `N passed, M failed` and a matching exit status.
"""

import base64
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import zlib

import lz4.block
import lz4.frame
import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import chdb_front  # noqa: E402  (its framing helpers check the server's compressed answers)

TESTS = []
TIMINGS = {}


def pinned_release():
    """`X.Y.` of the chdb-core pin in requirements-chdb.txt: the engine's release (the compose
    image's too, which scripts/check-versions keeps on the same X.Y)."""
    with open(os.path.join(HERE, "requirements-chdb.txt")) as requirements:
        pin = re.search(r"^chdb-core==(\d+)\.(\d+)\.", requirements.read(), re.M)
    return f"{pin.group(1)}.{pin.group(2)}."


RELEASE = pinned_release()


def test(function):
    TESTS.append(function)
    return function


class Front:
    """A chdb_front child process, spawned with stdin piped like the Rust harness does."""

    def __init__(self, *args):
        self.tmp = tempfile.mkdtemp(prefix="chdb-front-test-")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "chdb_front.py"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "TMPDIR": self.tmp},
        )
        self.url = self.process.stdout.readline().decode().strip()
        self.startup = time.monotonic() - started
        assert self.url.startswith("http://127.0.0.1:"), f"no URL line, got {self.url!r}"
        self.port = int(self.url.rsplit(":", 1)[1])

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(self, method="POST", body=b"", headers=None, connection=None, **params):
        conn = connection or self.connection()
        path = "/?" + urllib.parse.urlencode(params) if params else "/"
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        if connection is None:
            conn.close()
        return response.status, dict(response.getheaders()), data

    def ok(self, sql=b"", **params):
        status, _, data = self.request(body=sql.encode() if isinstance(sql, str) else sql,
                                       **params)
        assert status == 200, f"{status}: {data.decode(errors='replace')}"
        return data

    def stop(self):
        """Stops the server if it still runs; returns everything else it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        printed = self.process.stdout.read() + self.process.stderr.read()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return printed


def expect_error(result, status, code, text):
    got_status, headers, body = result
    assert got_status == status, f"status {got_status}, body {body!r}"
    assert headers.get("X-ClickHouse-Exception-Code") == str(code), headers
    message = body.decode()
    assert message.startswith(f"Code: {code}. DB::Exception: "), message
    assert text in message, message
    assert "(version 26." in message, message


def varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(s):
    data = s.encode()
    return varint(len(data)) + data


def rows_binary(rows):
    """RowBinary for (id UInt32, name String, amount Int64) rows."""
    return b"".join(struct.pack("<I", i) + string(n) + struct.pack("<q", a) for i, n, a in rows)


def rbwnat_header(columns):
    return varint(len(columns)) + b"".join(string(n) for n, _ in columns) + b"".join(
        string(t) for _, t in columns)


def stored_block(data):
    block = struct.pack("<BII", 0x02, 9 + len(data), len(data)) + data
    return chdb_front.checksum(block) + block


def zstd_block(data):
    payload = zstandard.ZstdCompressor().compress(data)
    block = struct.pack("<BII", 0x90, 9 + len(payload), len(data)) + payload
    return chdb_front.checksum(block) + block


def chunked_post(conn, path, chunks, headers=None):
    """A POST whose body goes out with Transfer-Encoding: chunked, as the Rust crate's inserts."""
    conn.putrequest("POST", path)
    for name, value in {"Transfer-Encoding": "chunked", **(headers or {})}.items():
        conn.putheader(name, value)
    conn.endheaders()
    for chunk in chunks:
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def create_orders(front, table):
    front.ok("CREATE DATABASE IF NOT EXISTS sales")
    front.ok(f"CREATE TABLE sales.{table} (id UInt32, name String, amount Int64, "
             "note String DEFAULT 'none') ENGINE = MergeTree ORDER BY id")


# --- tests ----------------------------------------------------------------------------------


@test
def ping_and_root_answer_ok(front):
    status, _, body = front.request("GET")
    assert (status, body) == (200, b"Ok.\n")
    conn = front.connection()
    conn.request("GET", "/ping")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"Ok.\n")
    conn.close()


@test
def engine_is_current_and_headers_are_clickhouse_like(front):
    status, headers, body = front.request(body=b"SELECT version(), timezone()")
    version, zone = body.decode().strip().split("\t")
    assert version.startswith(RELEASE), (version, RELEASE)
    assert zone == "UTC"
    assert headers["X-ClickHouse-Timezone"] == "UTC"
    assert headers["X-ClickHouse-Format"] == "TabSeparated"
    assert headers["Content-Type"].startswith("text/tab-separated-values")
    assert headers["X-ClickHouse-Server-Display-Name"]
    assert headers["X-ClickHouse-Query-Id"]
    summary = json.loads(headers["X-ClickHouse-Summary"])
    assert {"read_rows", "written_rows", "elapsed_ns"} <= summary.keys()
    _, headers, _ = front.request(body=b"SELECT 1", query_id="my-id")
    assert headers["X-ClickHouse-Query-Id"] == "my-id"


@test
def query_from_url_body_or_both(front):
    assert front.ok(query="SELECT 1 + 1") == b"2\n"
    assert front.ok("SELECT 2 + 2") == b"4\n"
    assert front.ok(" + 3", query="SELECT 3") == b"6\n"  # URL part, newline, then the body
    assert front.request("GET", query="SELECT 5")[2] == b"5\n"


@test
def database_and_default_format_apply_to_one_request(front):
    create_orders(front, "db_param")
    front.ok("INSERT INTO sales.db_param (id, name, amount) VALUES (1, 'a', 10)")
    assert front.ok("SELECT name FROM db_param", database="sales") == b"a\n"
    assert front.ok("SELECT currentDatabase()") == b"default\n"
    status, headers, body = front.request(body=b"SELECT 1 AS x", default_format="JSONEachRow")
    assert body == b'{"x":1}\n' and headers["X-ClickHouse-Format"] == "JSONEachRow"
    _, headers, body = front.request(body=b"SELECT 1 AS x FORMAT CSV", default_format="JSON")
    assert body == b"1\n" and headers["X-ClickHouse-Format"] == "CSV"


@test
def select_formats_clients_use(front):
    sql = "SELECT toUInt32(7) AS n, 'hi' AS s"
    assert front.ok(sql, default_format="RowBinary") == struct.pack("<I", 7) + string("hi")
    assert front.ok(sql, default_format="RowBinaryWithNamesAndTypes") == rbwnat_header(
        [("n", "UInt32"), ("s", "String")]) + struct.pack("<I", 7) + string("hi")
    native = front.ok(sql + " FORMAT Native")
    assert native.startswith(b"\x02\x01") and string("UInt32") in native
    assert front.ok(sql + " FORMAT TSV") == b"7\thi\n"
    assert front.ok(sql + " FORMAT CSV") == b'7,"hi"\n'
    assert front.ok(sql + " FORMAT JSONEachRow") == b'{"n":7,"s":"hi"}\n'
    assert json.loads(front.ok(sql + " FORMAT JSON"))["data"] == [{"n": 7, "s": "hi"}]


@test
def settings_apply_to_their_query_only(front):
    probe = "SELECT getSetting('max_block_size')"
    default = front.ok(probe)
    assert front.ok(probe, max_block_size="1234") == b"1234\n"
    assert front.ok(probe) == default
    # A failing setting list must not leave its valid settings behind either.
    expect_error(front.request(body=probe.encode(), max_block_size="77", no_such_setting="1"),
                 404, 115, "Unknown setting")
    assert front.ok(probe) == default
    assert front.ok("SELECT toInt64(1) AS v FORMAT JSONEachRow",
                    output_format_json_quote_64bit_integers="1") == b'{"v":"1"}\n'
    assert front.ok("SELECT toInt64(1) AS v FORMAT JSONEachRow") == b'{"v":1}\n'


@test
def insert_settings_apply_too(front):
    front.ok("CREATE TABLE default.semi (a UInt32, b String) ENGINE = Memory")
    front.ok(b"1;x\n", query="INSERT INTO default.semi FORMAT CSV", format_csv_delimiter=";")
    expect_error(front.request(body=b"2;y\n", query="INSERT INTO default.semi FORMAT CSV"),
                 400, 27, "Cannot parse input")
    assert front.ok("SELECT * FROM default.semi") == b"1\tx\n"


@test
def http_layer_params_are_accepted(front):
    params = dict(session_id="s-1", session_timeout="60", wait_end_of_query="1",
                  send_progress_in_http_headers="1", http_headers_progress_interval_ms="100",
                  buffer_size="1000", cancel_http_readonly_queries_on_client_close="1",
                  enable_http_compression="1", readonly="0")
    status, headers, body = front.request(body=b"SELECT 1", headers={
        "Accept-Encoding": "gzip, lz4"}, **params)
    assert (status, body) == (200, b"1\n") and "Content-Encoding" not in headers


@test
def readonly_and_get_refuse_writes(front):
    expect_error(front.request(body=b"CREATE TABLE default.ro (a UInt8) ENGINE = Memory",
                               readonly="1"), 500, 164, "readonly mode")
    expect_error(front.request("GET", query="CREATE TABLE default.ro (a UInt8) ENGINE = Memory"),
                 500, 164, "method GET implies readonly")
    assert front.ok("SELECT 1", readonly="1") == b"1\n"


@test
def query_parameters_from_url_and_multipart(front):
    assert front.ok("SELECT {x:UInt32} + 1, {s:String}", param_x="41", param_s="it's") \
        == b"42\tit\\'s\n"
    boundary = "chdbfronttest"
    fields = [("query", "SELECT {a:Int64} * 2"), ("param_a", "21")]
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'.encode()
        for n, v in fields) + f"--{boundary}--\r\n".encode()
    status, _, data = front.request(body=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert (status, data) == (200, b"42\n"), data
    expect_error(front.request(body=b"SELECT {x:UInt32}"), 500, 456, "x")


@test
def errors_are_clickhouse_shaped(front):
    expect_error(front.request(body=b"SELECT * FROM no_such_table"), 404, 60, "(UNKNOWN_TABLE)")
    expect_error(front.request(body=b"SELEC 1"), 400, 62, "Syntax error")
    expect_error(front.request(body=b"SELECT 1; SELECT 2"), 400, 62, "Multi-statements")
    assert front.ok("SELECT ';' ; ") == b";\n"  # a trailing `;` and quoted ones are fine
    expect_error(front.request(body=b"SET max_threads = 1"), 501, 48, "URL parameters")
    expect_error(front.request(body=b"USE sales"), 501, 48, "URL parameters")
    expect_error(front.request(body=b""), 400, 62, "Empty query")


@test
def inserts_in_the_formats_clients_send(front):
    create_orders(front, "formats")
    front.ok(b"id,name,amount\n1,csv,10\n", query="INSERT INTO sales.formats FORMAT CSVWithNames")
    front.ok(b"INSERT INTO sales.formats (id, name, amount) FORMAT TabSeparated\n2\ttsv\t20\n")
    front.ok(b'{"id":3,"name":"json","amount":30}\n',
             query="INSERT INTO sales.formats FORMAT JSONEachRow")
    front.ok(rows_binary([(4, "rb", 40)]),
             query='INSERT INTO "sales"."formats"(`id`,`name`,`amount`) FORMAT RowBinary')
    front.ok(rbwnat_header([("amount", "Int64"), ("id", "UInt32"), ("name", "String")])
             + struct.pack("<qI", 50, 5) + string("rbwnat"),
             query="INSERT INTO formats(`amount`,`id`,`name`) FORMAT RowBinaryWithNamesAndTypes",
             database="sales")
    front.ok(b"(6, 'values', 60, 'given')", query="INSERT INTO sales.formats VALUES")
    assert front.ok("SELECT id, name, amount, note FROM sales.formats ORDER BY id").decode() == (
        "1\tcsv\t10\tnone\n2\ttsv\t20\tnone\n3\tjson\t30\tnone\n4\trb\t40\tnone\n"
        "5\trbwnat\t50\tnone\n6\tvalues\t60\tgiven\n")
    _, headers, _ = front.request(
        body=rows_binary([(7, "x", 1)]),
        query="INSERT INTO sales.formats(id,name,amount) FORMAT RowBinary")
    assert json.loads(headers["X-ClickHouse-Summary"])["written_rows"] == "1"
    status, headers, body = front.request(
        body=b"id\nnot-a-number\n", query="INSERT INTO sales.formats(id) FORMAT CSVWithNames")
    assert status == 400 and body.startswith(b"Code: "), (status, body)


@test
def rust_client_exchange(front):
    """What the `clickhouse` crate 0.15 sends with validation and LZ4 on (its defaults)."""
    create_orders(front, "rust")
    conn = front.connection()
    auth = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": "",
            "User-Agent": "clickhouse-rs/0.15.3", "Accept-Encoding": "lz4"}
    describe = urllib.parse.urlencode({
        "default_format": "RowBinaryWithNamesAndTypes", "database": "sales",
        "describe_include_subcolumns": "0"})
    conn.request("POST", "/?" + describe, body=b"DESCRIBE TABLE rust", headers=auth)
    response = conn.getresponse()
    described = response.read()
    assert response.status == 200 and string("name") in described and string("Int64") in described
    columns = [("id", "UInt32"), ("name", "String"), ("amount", "Int64")]
    rows = rows_binary([(i, f"n{i}", i * 10) for i in range(1000)])
    data = rbwnat_header(columns) + rows
    # The crate compresses its buffer in blocks and sends each as one HTTP chunk.
    chunks = [chdb_front.compress_blocks(data[:1000]), chdb_front.compress_blocks(data[1000:])]
    insert = urllib.parse.urlencode({
        "database": "sales", "decompress": "1",
        "query": "INSERT INTO rust(`id`,`name`,`amount`) FORMAT RowBinaryWithNamesAndTypes"})
    status, _, body = chunked_post(conn, "/?" + insert, chunks, auth)
    assert status == 200, body
    select = urllib.parse.urlencode({"default_format": "RowBinary", "database": "sales"})
    conn.request("POST", "/?" + select, body=b"SELECT `id`,`name`,`amount` FROM rust ORDER BY id",
                 headers=auth)
    response = conn.getresponse()
    assert response.status == 200 and "Content-Encoding" not in dict(response.getheaders())
    assert response.read() == rows
    conn.close()


@test
def compressed_responses(front):
    sql = b"SELECT toString(number) FROM system.numbers LIMIT 300000 FORMAT TSV"
    plain = front.ok(sql)
    framed = front.ok(sql, compress="1")
    assert framed != plain and chdb_front.decompress_blocks(framed) == plain
    sizes = []
    pos = 0
    while pos < len(framed):
        assert framed[pos + 16] == 0x82
        compressed, size = struct.unpack_from("<II", framed, pos + 17)
        sizes.append(size)
        pos += 16 + compressed
    assert sizes == [1 << 20, len(plain) - (1 << 20)], sizes
    status, headers, body = front.request(body=b"SELECT * FROM nope", compress="1")
    assert status == 404 and chdb_front.decompress_blocks(body).startswith(b"Code: 60.")


@test
def compressed_requests(front):
    create_orders(front, "packed")
    insert = "INSERT INTO sales.packed(id,name,amount) FORMAT RowBinary"
    rows = [rows_binary([(i, "z", i)]) for i in range(3)]
    front.ok(chdb_front.compress_blocks(rows[0]), query=insert, decompress="1")
    front.ok(stored_block(rows[1][:3]) + stored_block(rows[1][3:]), query=insert,
             decompress="1")
    front.ok(zstd_block(rows[2]), query=insert, decompress="1")
    assert front.ok("SELECT count() FROM sales.packed") == b"3\n"
    conn = front.connection()  # the errors below must leave a kept-alive connection usable
    corrupt = bytearray(chdb_front.compress_blocks(rows[0]))
    corrupt[-1] ^= 1
    expect_error(front.request(body=bytes(corrupt), query=insert, decompress="1",
                               connection=conn), 500, 40, "Checksum doesn't match")
    unknown = bytearray(stored_block(rows[0]))
    unknown[16] = 0x91
    unknown[:16] = chdb_front.checksum(bytes(unknown[16:]))
    expect_error(front.request(body=bytes(unknown), query=insert, decompress="1",
                               connection=conn), 500, 89, "Unknown compression method 0x91")
    expect_error(front.request(body=b"\x00" * 10, query=insert, decompress="1",
                               connection=conn), 500, 33, "Cannot read all data")
    assert front.request(body=b"SELECT count() FROM sales.packed", connection=conn)[2] == b"3\n"
    # A compressed body may carry the statement itself.
    assert front.ok(chdb_front.compress_blocks(b"SELECT 9"), decompress="1") == b"9\n"


@test
def content_encoded_requests(front):
    encoders = {"gzip": gzip.compress, "deflate": zlib.compress,
                "zstd": zstandard.ZstdCompressor().compress, "lz4": lz4.frame.compress}
    for name, encode in encoders.items():
        status, _, body = front.request(body=encode(b"SELECT 'decoded'"),
                                        headers={"Content-Encoding": name})
        assert (status, body) == (200, b"decoded\n"), (name, body)
    expect_error(front.request(body=b"x", headers={"Content-Encoding": "br"}), 400, 36,
                 "Unsupported Content-Encoding 'br'")


@test
def keep_alive_and_concurrency(front):
    conn = front.connection()
    for i in range(20):
        assert front.request(body=f"SELECT {i}".encode(), connection=conn)[2] == f"{i}\n".encode()
    conn.close()
    failures = []

    def client(n):
        c = front.connection()
        try:
            for i in range(25):
                got = front.request(body=f"SELECT {n} * 1000 + {i}".encode(), connection=c)[2]
                if got != f"{n * 1000 + i}\n".encode():
                    failures.append(got)
        finally:
            c.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures


@test
def clickhouse_connect_end_to_end(front):
    import clickhouse_connect

    client = clickhouse_connect.get_client(host="127.0.0.1", port=front.port,
                                           username="default", password="")
    assert client.server_version.startswith(RELEASE), (client.server_version, RELEASE)
    client.command("CREATE DATABASE IF NOT EXISTS superset")
    client.command("CREATE TABLE superset.t (id UInt32, region LowCardinality(String), "
                   "revenue Decimal(18, 2), day Date, tags Array(String), "
                   "note Nullable(String)) ENGINE = MergeTree ORDER BY id")
    import datetime
    import decimal
    summary = client.insert("superset.t", [
        [1, "north", decimal.Decimal("1.50"), datetime.date(2024, 1, 2), ["a"], None],
        [2, "south", decimal.Decimal("2.25"), datetime.date(2024, 1, 3), [], "x"],
    ], column_names=["id", "region", "revenue", "day", "tags", "note"])
    assert summary.written_rows == 2
    result = client.query("SELECT * FROM superset.t ORDER BY id")
    assert result.result_rows == [
        (1, "north", decimal.Decimal("1.50"), datetime.date(2024, 1, 2), ["a"], None),
        (2, "south", decimal.Decimal("2.25"), datetime.date(2024, 1, 3), [], "x"),
    ], result.result_rows
    assert client.query("SELECT {n:UInt8} + 1", parameters={"n": 1}).result_rows == [(2,)]
    assert client.query("SELECT %(s)s", parameters={"s": "it's"}).result_rows == [("it's",)]
    assert client.command("SELECT count() FROM superset.t") == 2
    client.close()


@test
def timings(front):
    conn = front.connection()
    front.request(body=b"SELECT 1", connection=conn)
    started = time.monotonic()
    for _ in range(50):
        front.request(body=b"SELECT 1", connection=conn)
    TIMINGS["trivial query round trip (kept-alive)"] = (time.monotonic() - started) / 50
    create_orders(front, "timed")
    body = chdb_front.compress_blocks(rows_binary([(i, f"n{i}", i) for i in range(1000)]))
    query = "INSERT INTO sales.timed(`id`,`name`,`amount`) FORMAT RowBinary"
    started = time.monotonic()
    for _ in range(10):
        status, _, data = front.request(body=body, query=query, decompress="1", connection=conn)
        assert status == 200, data
    TIMINGS["1,000-row RowBinary insert (LZ4)"] = (time.monotonic() - started) / 10
    conn.close()


# --- tests that start their own server ------------------------------------------------------


@test
def credentials_are_checked_and_never_printed(_front):
    front = Front("--user", "app", "--password", "s3cret-pw")
    try:
        basic = "Basic " + base64.b64encode(b"app:s3cret-pw").decode()
        assert front.request(body=b"SELECT 1", headers={"Authorization": basic})[2] == b"1\n"
        assert front.request(body=b"SELECT 1", headers={
            "X-ClickHouse-User": "app", "X-ClickHouse-Key": "s3cret-pw"})[2] == b"1\n"
        assert front.request(body=b"SELECT 1", user="app", password="s3cret-pw")[2] == b"1\n"
        expect_error(front.request(body=b"SELECT 1", user="app", password="wrong"), 403, 516,
                     "app: Authentication failed")
        expect_error(front.request(body=b"SELECT 1"), 403, 516, "Authentication failed")
        assert front.request("GET")[2] == b"Ok.\n"  # health checks need no credentials
    finally:
        printed = front.url.encode() + front.stop()
    assert b"s3cret-pw" not in printed


@test
def exits_when_stdin_closes_and_removes_its_data(_front):
    front = Front()
    front.process.stdin.close()
    assert front.process.wait(15) == 0
    assert os.listdir(front.tmp) == [], os.listdir(front.tmp)
    front.stop()


@test
def exits_on_sigterm_and_keeps_given_data(_front):
    data = tempfile.mkdtemp(prefix="chdb-front-data-")
    front = Front("--data", data)
    front.ok("CREATE TABLE default.kept (a UInt8) ENGINE = MergeTree ORDER BY a")
    front.ok("INSERT INTO default.kept VALUES (7)")
    front.process.send_signal(signal.SIGTERM)
    assert front.process.wait(15) == 0
    front.stop()
    again = Front("--data", data)
    try:
        assert again.ok("SELECT a FROM default.kept") == b"7\n"
        again.process.send_signal(signal.SIGINT)
        assert again.process.wait(15) == 0
    finally:
        again.stop()
        shutil.rmtree(data, ignore_errors=True)


def main():
    front = Front()
    TIMINGS["process start to printed URL"] = front.startup
    passed = failed = 0
    try:
        for function in TESTS:
            try:
                function(front)
            except Exception:
                failed += 1
                print(f"FAIL {function.__name__}")
                traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {function.__name__}")
    finally:
        front.stop()
    for name, seconds in TIMINGS.items():
        print(f"time {name}: {seconds * 1000:.1f} ms")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
