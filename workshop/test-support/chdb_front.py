"""A ClickHouse-HTTP-compatible front for chDB: the current ClickHouse engine, over HTTP, for tests.

Tests and local runs cannot download a ClickHouse server (DESIGN.md §8), but PyPI ships the
current engine in-process as `chdb-core`. This module owns the thin HTTP layer between that engine
and the clients the project uses — the Rust `clickhouse` crate (RowBinary inserts and selects,
native-compressed insert bodies, multipart query parameters) and clickhouse-connect (Native
selects and inserts, used by Superset). It owns nothing else: SQL meaning, formats and errors are
the engine's.

Usage:

    python chdb_front.py [--host 127.0.0.1] [--port 0] [--data DIR]
                         [--user NAME --password SECRET] [--ignore-stdin]

It binds (port 0 picks a free port), warms the engine up, and only then prints exactly one line,
`http://HOST:PORT`, to stdout: a parent waits for that line to know the server answers queries.
Without --data the data directory is a fresh temporary one, removed at exit.

It exits cleanly on SIGTERM or SIGINT, and also when its stdin reaches end-of-file. A parent
spawns it with stdin piped and never writes to it; if the parent dies without cleaning up (a test
binary holding the child in a static never runs destructors), the pipe closes and the server goes
with it. Run it by hand with --ignore-stdin when stdin is /dev/null (a backgrounded shell job).

HTTP semantics kept from ClickHouse: the statement comes from the `query` parameter and/or the
body; `database`, `default_format`, `query_id`, `param_<name>`, `compress=1`/`decompress=1`
(ClickHouse's checksummed native blocks) and request `Content-Encoding`; any other parameter is a
query setting, applied to that one query and then restored. Responses are buffered, so they carry
a Content-Length and an error never follows data. Deliberate differences, each a clear error
rather than a silently different answer: one engine session serves every request, so `SET` and
`USE` statements (which would leak into other requests) and roles are refused; `session_id` is
accepted but gives no session state; responses are never HTTP-compressed (which HTTP allows);
`X-ClickHouse-Summary` counts written rows only for inserts that carry data (`INSERT ... FORMAT X`
and its data), since chdb-core 26.3 counts none for an `INSERT ... VALUES`/`SELECT` statement.
"""

import argparse
import base64
import contextlib
import gzip
import io
import json
import os
import re
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

# The engine reads the process time zone once; the server promises UTC in every response.
os.environ["TZ"] = "UTC"

import lz4.block  # noqa: E402
import lz4.frame  # noqa: E402
import zstandard  # noqa: E402
from chdb import session as chdb_session  # noqa: E402
from clickhouse_cityhash.cityhash import CityHash128  # noqa: E402

# The ClickHouse errors this layer raises itself (numbers checked against errorCodeToName()).
ERROR_CODES = {
    "UNSUPPORTED_METHOD": 1,
    "CANNOT_READ_ALL_DATA": 33,
    "BAD_ARGUMENTS": 36,
    "CHECKSUM_DOESNT_MATCH": 40,
    "NOT_IMPLEMENTED": 48,
    "SYNTAX_ERROR": 62,
    "UNKNOWN_COMPRESSION_METHOD": 89,
    "READONLY": 164,
    "CANNOT_DECOMPRESS": 271,
    "HTTP_LENGTH_REQUIRED": 381,
    "AUTHENTICATION_FAILED": 516,
    "STD_EXCEPTION": 1001,
}

# The HTTP status ClickHouse's HTTP handler gives each exception code; anything else is 500.
HTTP_STATUS_BY_CODE = {
    194: 401,  # REQUIRED_PASSWORD
    **dict.fromkeys([192, 193, 516, 512], 403),  # unknown user, wrong password, auth, role
    **dict.fromkeys(
        [6, 25, 26, 27, 36, 37, 38, 41, 53, 62, 72, 117, 123, 167, 168, 223, 376, 441, 675, 676],
        400,  # parse errors, syntax errors, bad arguments, bad data
    ),
    **dict.fromkeys(
        [46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336, 511],
        404,  # unknown table, function, identifier, type, database, setting, format ...
    ),
    229: 413,  # QUERY_IS_TOO_LARGE
    48: 501,  # NOT_IMPLEMENTED
    209: 503,  # SOCKET_TIMEOUT
    381: 411,  # HTTP_LENGTH_REQUIRED
}

# Parameters that belong to the HTTP layer rather than to the query. The ones not read anywhere
# below only shape how a real server streams, compresses or sessions its answer; a buffered,
# uncompressed, session-less answer satisfies all of them.
HTTP_PARAMS = {
    "query", "database", "default_format", "compress", "decompress", "query_id", "user",
    "password", "quota_key", "session_id", "session_timeout", "session_check", "stacktrace",
    "wait_end_of_query", "buffer_size", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "cancel_http_readonly_queries_on_client_close",
    "enable_http_compression", "http_zlib_compression_level", "http_response_buffer_size",
    "http_wait_end_of_query", "readonly", "role",
}

# Statements a read-only request may run (`readonly` >= 1, or any GET, as in ClickHouse).
READ_ONLY_KINDS = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK"}

# ClickHouse's max_compress_block_size: a compressed response is cut into blocks this large.
COMPRESS_BLOCK_SIZE = 1 << 20
METHOD_NONE, METHOD_LZ4, METHOD_ZSTD = 0x02, 0x82, 0x90
HEADER_SIZE = 9  # method byte + compressed size + uncompressed size, covered by the checksum


class ClickHouseError(Exception):
    """An error with a ClickHouse code, answered as `Code: N. DB::Exception: ...`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def of(cls, name, message):
        code = ERROR_CODES[name]
        return cls(code, f"Code: {code}. DB::Exception: {message}. ({name})")

    @classmethod
    def from_engine(cls, error):
        # chDB raises plain exceptions whose text carries the engine's `Code: N.` message,
        # sometimes behind a wrapper's prefix ("Streaming insert finish failed: ...").
        text = str(error)
        found = re.search(r"Code: (\d+)\. ", text)
        if not found:
            return cls.of("STD_EXCEPTION", f"chdb: {text}")
        return cls(int(found.group(1)), text[found.start():].strip())


# --- the statement --------------------------------------------------------------------------

# One SQL token at a time; comments, literals and quoted names are whole tokens, so a keyword
# or `;` inside them is never mistaken for structure.
TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>--[^\n]*|/\*.*?\*/)
      | (?P<string>'(?:[^'\\]|\\.|'')*')
      | (?P<quoted>"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.|``)*`)
      | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
      | (?P<number>[0-9][0-9A-Za-z_.]*)
      | (?P<other>.)""",
    re.S | re.X,
)


class Statement:
    """One statement from a request: its SQL, its kind and, for `INSERT ... FORMAT X`, the data.

    The text is scanned as latin-1 so that character positions are byte positions: an insert's
    data may be any bytes, and only the SQL before it is decoded (as UTF-8).
    """

    def __init__(self, raw):
        text = raw.decode("latin-1")
        self.kind = None
        self.output_format = None
        self.insert_format = None
        self.data = None
        end = len(text)
        depth = 0
        previous = None
        format_at = None
        finished_at = None
        for token in TOKEN.finditer(text):
            group, value = token.lastgroup, token.group()
            if group in ("space", "comment"):
                continue
            if finished_at is not None:
                raise ClickHouseError.of(
                    "SYNTAX_ERROR",
                    "Multi-statements are not allowed: failed at position "
                    f"{finished_at + 1} (end of query)",
                )
            if format_at is not None:
                name = value.strip('`"') if group == "quoted" else value
                if group == "word" or group == "quoted":
                    if self.kind == "INSERT":
                        self.insert_format = name
                        self._take_data(raw, format_at, token.end())
                        return
                    self.output_format = name
                format_at = None
            if group == "word":
                upper = value.upper()
                if self.kind is None:
                    self.kind = upper
                elif (
                    upper == "FORMAT"
                    and depth == 0
                    and previous not in ("INTO", "TABLE", "FUNCTION", ".")
                ):
                    format_at = token.start()
                previous = upper
            else:
                previous = value
                if value == "(":
                    depth += 1
                elif value == ")":
                    depth -= 1
                elif value == ";" and depth == 0:
                    finished_at = token.start()
                    end = token.start()
        self.sql = self._decode(raw[:end]).strip()
        if not self.sql:
            raise ClickHouseError.of("SYNTAX_ERROR", "Empty query")

    def _take_data(self, raw, format_at, data_at):
        self.sql = self._decode(raw[:format_at]).strip()
        # As in ClickHouse, inline data starts after the first newline following the format
        # name, or after the blanks when no newline follows.
        while data_at < len(raw) and raw[data_at] in b" \t":
            data_at += 1
        if raw[data_at:data_at + 2] == b"\r\n":
            data_at += 2
        elif raw[data_at:data_at + 1] == b"\n":
            data_at += 1
        self.data = raw[data_at:]

    @staticmethod
    def _decode(sql):
        try:
            return sql.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ClickHouseError.of("SYNTAX_ERROR", f"The query is not valid UTF-8: {error}")


# --- ClickHouse native compression ----------------------------------------------------------


def checksum(block):
    # ClickHouse stores CityHash128 (its v1.0.2) as two little-endian 64-bit words; this binding
    # returns them as one integer with the first word in the high half.
    value = CityHash128(block)
    return struct.pack("<QQ", value >> 64, value & 0xFFFF_FFFF_FFFF_FFFF)


def hex_checksum(digest):
    first, second = struct.unpack("<QQ", digest)
    return f"{first:016x}{second:016x}"


def decompress_blocks(data):
    """Unframes a `decompress=1` body: checksummed blocks, each LZ4, ZSTD or stored."""
    out = []
    pos = 0
    view = memoryview(data)
    while pos < len(data):
        if len(data) - pos < 16 + HEADER_SIZE:
            raise ClickHouseError.of(
                "CANNOT_READ_ALL_DATA", "Cannot read all data: a block header is cut short"
            )
        method = data[pos + 16]
        compressed_size, size = struct.unpack_from("<II", data, pos + 17)
        if compressed_size < HEADER_SIZE or pos + 16 + compressed_size > len(data):
            raise ClickHouseError.of(
                "CANNOT_READ_ALL_DATA",
                f"Cannot read all data: a compressed block declares {compressed_size} bytes",
            )
        block = view[pos + 16:pos + 16 + compressed_size]
        expected, actual = data[pos:pos + 16], checksum(block)
        if expected != actual:
            raise ClickHouseError.of(
                "CHECKSUM_DOESNT_MATCH",
                "Checksum doesn't match: corrupted data. Reference: "
                f"{hex_checksum(expected)}. Actual: {hex_checksum(actual)}. Size of compressed "
                f"block: {compressed_size}",
            )
        payload = block[HEADER_SIZE:]
        try:
            if method == METHOD_LZ4:
                out.append(lz4.block.decompress(payload, uncompressed_size=size))
            elif method == METHOD_ZSTD:
                out.append(zstandard.ZstdDecompressor().decompress(payload, max_output_size=size))
            elif method == METHOD_NONE:
                out.append(bytes(payload))
            else:
                raise ClickHouseError.of(
                    "UNKNOWN_COMPRESSION_METHOD",
                    f"Unknown compression method 0x{method:02x}: this server reads LZ4 (0x82), "
                    "ZSTD (0x90) and none (0x02)",
                )
        except (lz4.block.LZ4BlockError, zstandard.ZstdError) as error:
            raise ClickHouseError.of("CANNOT_DECOMPRESS", f"Cannot decompress a block: {error}")
        if len(out[-1]) != size:
            raise ClickHouseError.of(
                "CANNOT_DECOMPRESS",
                f"A block decompressed to {len(out[-1])} bytes, its header says {size}",
            )
        pos += 16 + compressed_size
    return b"".join(out)


def compress_blocks(data):
    """Frames a `compress=1` response as ClickHouse does: LZ4 blocks of at most 1 MiB."""
    out = []
    for start in range(0, len(data), COMPRESS_BLOCK_SIZE):
        chunk = data[start:start + COMPRESS_BLOCK_SIZE]
        payload = lz4.block.compress(chunk, store_size=False)
        block = struct.pack("<BII", METHOD_LZ4, HEADER_SIZE + len(payload), len(chunk)) + payload
        out.append(checksum(block) + block)
    return b"".join(out)


def decode_content_encoding(body, encoding):
    encoding = (encoding or "").strip().lower()
    try:
        if encoding in ("", "identity", "none"):
            return body
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body),
                                                                read_across_frames=True)
            return reader.read()
        if encoding == "lz4":
            return lz4.frame.decompress(body)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError, RuntimeError) as error:
        raise ClickHouseError.of("CANNOT_DECOMPRESS", f"Cannot decode the {encoding} body: {error}")
    raise ClickHouseError.of("BAD_ARGUMENTS", f"Unsupported Content-Encoding '{encoding}': this "
                             "server reads gzip, deflate, zstd and lz4")


# --- the engine -----------------------------------------------------------------------------

SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sql_string(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def from_infile(insert_sql, path, input_format):
    """`INSERT INTO t (cols) [SETTINGS ...]` and its data's format -> `INSERT INTO t (cols) FROM
    INFILE 'path' COMPRESSION 'none' [SETTINGS ...] FORMAT X`: FROM INFILE goes before a top-level
    SETTINGS clause, if there is one."""
    depth = 0
    at = len(insert_sql)
    for token in TOKEN.finditer(insert_sql):
        value = token.group()
        if value == "(":
            depth += 1
        elif value == ")":
            depth -= 1
        elif token.lastgroup == "word" and depth == 0 and value.upper() == "SETTINGS":
            at = token.start()
            break
    name = "`" + input_format.replace("\\", "\\\\").replace("`", "\\`") + "`"
    # One clause a line: a `--` comment ending either part cannot swallow what follows.
    parts = [insert_sql[:at].rstrip(), f"FROM INFILE {sql_string(path)} COMPRESSION 'none'",
             insert_sql[at:].strip(), f"FORMAT {name}"]
    return "\n".join(part for part in parts if part)


class Engine:
    """The one chDB session of this process, and the lock that makes each request atomic.

    chDB's sessions take concurrent queries, but the current database and settings are
    session-wide (a request's must be in force for its statement and for nothing else), and an
    open streaming insert makes the session refuse every other statement; so each request runs
    whole under one lock.
    """

    def __init__(self, path):
        self._session = chdb_session.Session(path)
        self._lock = threading.Lock()
        # An INSERT's data goes to the engine as a file (see _insert); one at a time, under the lock.
        self._spool = tempfile.mkdtemp(prefix="chdb-front-insert-")
        self._insert_file = os.path.join(self._spool, "insert.data")
        self._database = "default"
        version, zone = self._session.query("SELECT version(), timezone()", "TSV").bytes() \
            .decode().strip().split("\t")
        self.version = version
        self.timezone = zone

    def close(self):
        with self._lock:
            self._session.close()
            shutil.rmtree(self._spool, ignore_errors=True)

    def run(self, statement, database, settings, params, output_format):
        """Runs one statement; returns (body bytes, summary dict)."""
        with self._lock:
            try:
                self._use(database)
                with self._settings(settings):
                    started = time.monotonic_ns()
                    if statement.insert_format is not None:
                        return self._insert(statement, started)
                    result = self._session.query(statement.sql, output_format, params=params)
                    # chdb-core 26.3 counts no written rows for a statement (INSERT ... VALUES or
                    # ... SELECT run here): its summary says 0; data inserts (_insert) count them.
                    return result.bytes(), {
                        "read_rows": result.rows_read(),
                        "read_bytes": result.bytes_read(),
                        "written_rows": 0,
                        "written_bytes": 0,
                        "elapsed_ns": time.monotonic_ns() - started,
                    }
            except ClickHouseError:
                raise
            except Exception as error:  # chDB raises RuntimeError or its ChdbError subclass
                raise ClickHouseError.from_engine(error) from None

    def _insert(self, statement, started):
        # chDB runs statements with no input stream (chdb-core 26.3 has no streaming insert), but
        # it is clickhouse-local inside, so `INSERT ... FROM INFILE '<file>' FORMAT X` reads the
        # data with the engine's own input format (column lists, RowBinaryWithNamesAndTypes
        # headers and defaults included). The rows read from the file are the rows written.
        with open(self._insert_file, "wb") as spool:
            spool.write(statement.data or b"")
        try:
            sql = from_infile(statement.sql, self._insert_file, statement.insert_format)
            result = self._session.query(sql, "TSV")
        finally:
            os.truncate(self._insert_file, 0)
        return b"", {
            "read_rows": 0,
            "read_bytes": 0,
            "written_rows": result.rows_read(),
            "written_bytes": result.bytes_read(),
            "elapsed_ns": time.monotonic_ns() - started,
        }

    def _use(self, database):
        if database != self._database:
            self._session.query(f"USE `{database.replace('`', '``')}`", "TSV")
            self._database = database

    @contextlib.contextmanager
    def _settings(self, settings):
        """Applies a request's settings to the session for one statement, then restores them."""
        if not settings:
            yield
            return
        for name in settings:
            if not SETTING_NAME.fullmatch(name):
                raise ClickHouseError.of("BAD_ARGUMENTS", f"Invalid setting name '{name}'")
        names = ", ".join(sql_string(name) for name in settings)
        rows = self._session.query(
            f"SELECT name, value, changed FROM system.settings WHERE name IN ({names})",
            "JSONCompactEachRow",
        ).bytes().decode().splitlines()
        saved = [json.loads(row) for row in rows]
        try:
            self._session.query("SET " + ", ".join(
                f"{name} = {sql_string(value)}" for name, value in settings.items()), "TSV")
            yield
        finally:
            # Also after a failed SET, which may have applied the settings before the bad one.
            if saved:
                self._session.query("SET " + ", ".join(
                    f"{name} = {sql_string(value) if changed else 'DEFAULT'}"
                    for name, value, changed in saved), "TSV")


# --- HTTP -----------------------------------------------------------------------------------

CONTENT_TYPES = [
    (re.compile(r"^(TabSeparated|TSV)", re.I), "text/tab-separated-values; charset=UTF-8"),
    (re.compile(r"^CSV", re.I), "text/csv; charset=UTF-8"),
    (re.compile(r"^(JSONEachRow|JSONLines|NDJSON|JSONCompactEachRow)", re.I),
     "application/x-ndjson; charset=UTF-8"),
    (re.compile(r"^JSON", re.I), "application/json; charset=UTF-8"),
    (re.compile(r"^(Native|RowBinary|Parquet|Arrow|ORC|Avro|MsgPack|Protobuf|CapnProto|Npy)",
                re.I), "application/octet-stream"),
]


def content_type(output_format):
    for pattern, value in CONTENT_TYPES:
        if pattern.match(output_format):
            return value
    return "text/plain; charset=UTF-8"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries its Content-Length
    server_version = "chdb-front"
    # Headers and body go out as two writes; with Nagle on, the second waits for the client's
    # delayed ACK, adding ~40 ms to every small answer.
    disable_nagle_algorithm = True

    def log_message(self, *_):
        pass  # a test server stays quiet; errors travel back to the client in the response

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def _serve(self):
        query_id = None
        compress = False
        try:
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            query_id = params.get("query_id") or str(uuid.uuid4())
            compress = params.get("compress") == "1"
            body = self._read_body()
            if url.path.rstrip("/") == "/ping" or (
                url.path == "/" and self.command == "GET" and "query" not in params
            ):
                return self._answer(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            if url.path != "/":
                raise ClickHouseError.of("UNSUPPORTED_METHOD", f"No handler for {url.path}")
            self._authenticate(params)
            body = decode_content_encoding(body, self.headers.get("Content-Encoding"))
            ctype = self.headers.get("Content-Type", "")
            if ctype.lower().startswith("multipart/form-data"):
                params.update(multipart_fields(body, ctype))
                body = b""
            elif params.get("decompress") == "1":
                body = decompress_blocks(body)
            self._execute(params, body, query_id, compress)
        except ClickHouseError as error:
            self._fail(error, query_id, compress)
        except Exception as error:  # a bug here must still answer, not drop the connection
            print(f"chdb_front: {error!r}", file=sys.stderr, flush=True)
            self.close_connection = True  # the request body may not have been read whole
            self._fail(ClickHouseError.of("STD_EXCEPTION", f"chdb_front: {error!r}"), query_id,
                       compress)

    def _execute(self, params, body, query_id, compress):
        engine = self.server.engine
        query = params.get("query", "")
        if query and body:
            raw = query.encode("utf-8") + b"\n" + body
        else:
            raw = query.encode("utf-8") or body
        statement = Statement(raw)
        if statement.kind in ("SET", "USE"):
            raise ClickHouseError.of("NOT_IMPLEMENTED", f"{statement.kind} statements are not "
                                     "supported by chdb_front (one engine session serves every "
                                     "request): pass settings and `database` as URL parameters")
        if params.get("role"):
            raise ClickHouseError.of("NOT_IMPLEMENTED", "Roles are not supported by chdb_front")
        readonly = params.get("readonly", "0") not in ("", "0") or self.command == "GET"
        if readonly and statement.kind not in READ_ONLY_KINDS:
            how = ("For queries over HTTP, method GET implies readonly. You should use method "
                   "POST for modifying queries" if self.command == "GET" else "readonly is set")
            raise ClickHouseError.of("READONLY", f"Cannot execute query in readonly mode. {how}")
        settings = {k: v for k, v in params.items()
                    if k not in HTTP_PARAMS and not k.startswith("param_")}
        query_params = {k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")}
        output_format = (statement.output_format or params.get("default_format")
                         or "TabSeparated")
        data, summary = engine.run(statement, params.get("database") or "default", settings,
                                   query_params, output_format)
        if compress:
            data = compress_blocks(data)
        self._answer(200, data, {
            "Content-Type": content_type(output_format),
            "X-ClickHouse-Format": output_format,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in summary.items()},
                                               separators=(",", ":")),
        })

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers carry nothing this server reads
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
        length = self.headers.get("Content-Length")
        if length is None:
            if self.command == "POST":
                # Without a length or chunking the body's end is unknowable on a kept-alive
                # connection; ClickHouse refuses such requests the same way.
                self.close_connection = True
                raise ClickHouseError.of("HTTP_LENGTH_REQUIRED", "The Transfer-Encoding is not "
                                         "chunked and there is no Content-Length header for "
                                         "POST request")
            return b""
        return self.rfile.read(int(length))

    def _authenticate(self, params):
        expected = self.server.credentials
        user, password = "default", ""
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8", "replace")
            user, _, password = decoded.partition(":")
        if "X-ClickHouse-User" in self.headers:
            user = self.headers["X-ClickHouse-User"]
            password = self.headers.get("X-ClickHouse-Key", "")
        if "user" in params:
            user, password = params["user"], params.get("password", "")
        if expected is not None and (user, password) != expected:
            raise ClickHouseError.of("AUTHENTICATION_FAILED", f"{user}: Authentication failed: "
                                     "password is incorrect, or there is no user with such name")

    def _fail(self, error, query_id, compress):
        message = error.message
        if not re.search(r"\(version [^)]*\)\s*$", message):
            message += f" (version {self.server.engine.version})"
        body = (message + "\n").encode("utf-8")
        if compress:
            # ClickHouse writes the error into the same compressed stream the data would use.
            body = compress_blocks(body)
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(error.code),
        }
        if query_id:
            headers["X-ClickHouse-Query-Id"] = query_id
        self._answer(HTTP_STATUS_BY_CODE.get(error.code, 500), body, headers)

    def _answer(self, status, body, headers):
        self.send_response(status)
        headers.setdefault("X-ClickHouse-Server-Display-Name", self.server.display_name)
        headers.setdefault("X-ClickHouse-Timezone", self.server.engine.timezone)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def multipart_fields(body, ctype):
    """The `query` and `param_*` fields of a multipart/form-data body (the Rust client sends
    query parameters this way); file parts, ClickHouse's external tables, are not supported."""
    found = re.search(r'boundary="?([^";]+)"?', ctype)
    if not found:
        raise ClickHouseError.of("BAD_ARGUMENTS", "multipart/form-data without a boundary")
    fields = {}
    delimiter = b"--" + found.group(1).encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        disposition = re.search(rb'name="([^"]*)"(; *filename=)?', head)
        if not disposition or disposition.group(2):
            raise ClickHouseError.of("NOT_IMPLEMENTED", "Only `query` and `param_*` form fields "
                                     "are supported by chdb_front (no external tables)")
        name = disposition.group(1).decode("utf-8")
        if name != "query" and not name.startswith("param_"):
            raise ClickHouseError.of("NOT_IMPLEMENTED", f"Unsupported form field '{name}'")
        fields[name] = value[:-2].decode("utf-8") if value.endswith(b"\r\n") else value.decode(
            "utf-8")
    return fields


class Server(ThreadingHTTPServer):
    daemon_threads = True  # an idle kept-alive connection must not hold the process open

    def __init__(self, address, engine, credentials):
        super().__init__(address, Handler)
        self.engine = engine
        self.credentials = credentials
        self.display_name = "chdb-front"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", help="data directory (default: a fresh temporary one)")
    parser.add_argument("--user", help="the only accepted user (default: accept any)")
    parser.add_argument("--password", default="", help="that user's password")
    parser.add_argument("--ignore-stdin", action="store_true",
                        help="keep running when stdin reaches end-of-file")
    args = parser.parse_args()

    temporary = args.data is None
    path = tempfile.mkdtemp(prefix="chdb-front-") if temporary else args.data
    stop = threading.Event()
    engine = Engine(path)
    # After the engine starts: it installs signal handlers of its own, which would take these.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        credentials = None if args.user is None else (args.user, args.password)
        server = Server((args.host, args.port), engine, credentials)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        if not args.ignore_stdin:
            threading.Thread(target=_wait_for_stdin_eof, args=(stop,), daemon=True).start()
        print(f"http://{args.host}:{server.server_address[1]}", flush=True)
        while not stop.wait(0.5):
            pass
        server.shutdown()
        server.server_close()
    finally:
        engine.close()
        if temporary:
            shutil.rmtree(path, ignore_errors=True)


def _wait_for_stdin_eof(stop):
    # Reads the raw descriptor: a thread blocked inside sys.stdin's buffered reader holds its
    # lock, and interpreter shutdown would then abort trying to take it.
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass  # a closed stdin is an end-of-file too
    stop.set()


if __name__ == "__main__":
    main()
