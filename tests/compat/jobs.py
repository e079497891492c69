#!/usr/bin/env python3
"""Real applications on lucid-python-base: the package list and one small real job per package.

This file is the one place that names the packages of the compatibility test
(tests/compat_apps.rs), of scripts/compat-report and of the "Packages proven to run" section of
docs/base-images.md. Each entry gives the distribution, its rank among the most downloaded
packages of the Python package index (the ranking of the month the list was taken), the version
pinned for the test, the extension modules that must load from a compiled file, whether the arm64
subset runs it, and a job that does real work through the compiled part: a job fails when the
native code is missing, does not load, or computes a wrong result.

Commands (the host's Python runs the first three; the image's Python runs the jobs):
  jobs.py requirements [--arm64]   pip requirement lines (NAME==VERSION) of the wheels to install
  jobs.py expect [--arm64]         the jobs that must print an `ok` line: NAME SOURCE a line
  jobs.py markdown AMD64 ARM64     the docs table from the job logs of both platforms (exit 2
                                   when a log or a package's `ok` line is missing)
  jobs.py [--arm64]                runs every job, each in its own interpreter (a crash in one
                                   native library names that package and spares the others)

A job prints `ok NAME VERSION DETAIL` or `FAIL NAME VERSION REASON`; the run exits 1 when any job
failed. Jobs use memory and the loopback interface only: the test runs them with --network none
and --read-only, as UID 65532 and as an arbitrary UID.
"""

import sys

# name -> Job, in the order the jobs are declared (by rank).
JOBS = {}


class Job:
    """One package: what to install, what must be compiled, and the job that proves it runs."""

    def __init__(self, name, rank, pin, native, arm64, extra, source, fn):
        self.name = name
        self.rank = rank
        self.pin = pin
        self.native = native
        self.arm64 = arm64
        self.extra = extra
        self.source = source
        self.fn = fn

    def requirements(self):
        """The pip requirement lines this job needs installed (none for the base image's own)."""
        own = [f"{self.name}=={self.pin}"] if self.source == "wheel" else []
        return own + list(self.extra)


def job(name, rank, pin, native, arm64=False, extra=(), source="wheel"):
    """Registers a job. `source` is "wheel" (installed by the test), "base" (a wheel the base
    image already ships) or "stdlib" (the interpreter's own module linked to a Debian library)."""

    def register(fn):
        assert name not in JOBS, name
        JOBS[name] = Job(name, rank, pin, tuple(native), arm64, tuple(extra), source, fn)
        return fn

    return register


def check(condition, what):
    """Raises with `what` when a result is wrong (assert would vanish under python -O)."""
    if not condition:
        raise AssertionError(what)


# ---- packages from the package index, by rank ----


@job("charset-normalizer", 8, "3.5.3", ["charset_normalizer.md", "charset_normalizer.cd"])
def charset_normalizer_job():
    from charset_normalizer import from_bytes

    text = "Всички хора се раждат свободни и равни по достойнство и права. " * 4
    best = from_bytes(text.encode("cp1251")).best()
    check(best is not None and str(best) == text, f"decoded {best!r}")
    return f"cp1251 text detected as {best.encoding}"


@job("cryptography", 11, "50.0.2", ["cryptography.hazmat.bindings._rust"], arm64=True, extra=["cffi==2.1.1"])
def cryptography_job():
    from cryptography.exceptions import InvalidSignature
    from cryptography.fernet import Fernet
    from cryptography.hazmat.backends.openssl import backend
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    sig = key.sign(b"lucid")
    key.public_key().verify(sig, b"lucid")
    try:
        key.public_key().verify(sig, b"lucie")
        raise AssertionError("a tampered message verified")
    except InvalidSignature:
        pass
    f = Fernet(Fernet.generate_key())
    check(f.decrypt(f.encrypt(b"secret")) == b"secret", "Fernet round trip")
    return f"Ed25519 sign/verify, Fernet round trip ({backend.openssl_version_text()})"


@job("pyyaml", 15, "6.0.4", ["yaml._yaml"], arm64=True)
def pyyaml_job():
    import yaml

    check(yaml.__with_libyaml__, "yaml.__with_libyaml__ is false")
    doc = yaml.load("a: [1, 2, {b: c}]\nd: 2026-11-27\n", Loader=yaml.CSafeLoader)
    check(doc["a"][2] == {"b": "c"} and str(doc["d"]) == "2026-11-27", f"loaded {doc!r}")
    out = yaml.dump(doc, Dumper=yaml.CSafeDumper)
    check(yaml.load(out, Loader=yaml.CSafeLoader) == doc, "CSafeDumper round trip")
    return "CSafeLoader/CSafeDumper round trip (libyaml)"


@job("cffi", 18, "2.1.1", ["_cffi_backend"], arm64=True)
def cffi_job():
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("size_t strlen(const char *); int snprintf(char *, size_t, const char *, ...);")
    libc = ffi.dlopen("libc.so.6")
    check(libc.strlen(b"distroless") == 10, "strlen")
    buf = ffi.new("char[32]")
    libc.snprintf(buf, 32, b"%d-%s", ffi.cast("int", 42), ffi.new("char[]", b"ok"))
    check(ffi.string(buf) == b"42-ok", f"snprintf gave {ffi.string(buf)!r}")
    return "strlen and snprintf called in libc.so.6 (ABI mode)"


@job("numpy", 20, "2.4.6", ["numpy._core._multiarray_umath", "numpy.linalg._umath_linalg"], arm64=True)
def numpy_job():
    import math

    import numpy as np

    rng = np.random.default_rng(7)
    a = rng.standard_normal((256, 256))
    b = a @ a.T
    for i, j in [(0, 0), (3, 200), (255, 17)]:
        want = math.fsum(float(x) * float(y) for x, y in zip(a[i], a[j]))
        check(abs(b[i, j] - want) < 1e-9 * max(1.0, abs(want)), f"matmul [{i},{j}] {b[i, j]} != {want}")
    x = rng.standard_normal(256)
    y = np.linalg.solve(a, a @ x)
    check(np.allclose(x, y, atol=1e-8), "linalg.solve residual")
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return f"256x256 matmul checked, solve ({blas['name']} {blas.get('version', '')})"


@job("pydantic-core", 23, "2.50.5", ["pydantic_core._pydantic_core"], arm64=True,
     extra=["pydantic==2.14.4"])
def pydantic_core_job():
    import pydantic

    class Order(pydantic.BaseModel):
        id: int
        items: list[str]
        total: float

    o = Order.model_validate({"id": "7", "items": ["a", "b"], "total": "3.5"})
    check(o.id == 7 and o.total == 3.5, f"validated {o!r}")
    check(Order.model_validate_json(o.model_dump_json()) == o, "JSON round trip")
    try:
        Order.model_validate({"id": "x", "items": 3})
        raise AssertionError("invalid data validated")
    except pydantic.ValidationError as e:
        check(e.error_count() == 3, f"{e.error_count()} errors")
    return f"model validated, 3 errors reported, JSON round trip (pydantic {pydantic.VERSION})"


@job("protobuf", 28, "7.36.2", ["google._upb._message"])
def protobuf_job():
    from google.protobuf import json_format, struct_pb2
    from google.protobuf.internal import api_implementation

    check(api_implementation.Type() == "upb", f"implementation {api_implementation.Type()}")
    s = struct_pb2.Struct()
    s.update({"name": "lucid", "n": 3, "tags": ["a", "b"]})
    data = s.SerializeToString()
    back = struct_pb2.Struct.FromString(data)
    check(json_format.MessageToDict(back) == {"name": "lucid", "n": 3.0, "tags": ["a", "b"]}, "round trip")
    return f"upb: Struct serialised ({len(data)} bytes) and parsed back"


@job("pandas", 37, "3.1.1", ["pandas._libs.groupby", "pandas._libs.hashtable"], arm64=True)
def pandas_job():
    import pandas as pd

    df = pd.DataFrame({"k": ["a", "b", "c"] * 1000, "v": range(3000)})
    g = df.groupby("k")["v"].agg(["sum", "count"])
    check(g.loc["a", "sum"] == sum(range(0, 3000, 3)) and (g["count"] == 1000).all(), f"group-by:\n{g}")
    ts = pd.to_datetime(pd.Series(["2026-11-27 10:00", "2026-11-28 11:30"]), utc=True)
    check(ts.diff().iloc[1] == pd.Timedelta(hours=25, minutes=30), "datetime arithmetic")
    return "group-by of 3000 rows into 3 groups, datetime arithmetic"


@job("markupsafe", 40, "3.0.4", ["markupsafe._speedups"], arm64=True)
def markupsafe_job():
    import markupsafe

    check(markupsafe.escape("<a href='x'>&</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;", "escape")
    check(markupsafe._escape_inner.__module__ == "markupsafe._speedups", "escape is not the C one")
    return "HTML escaped by the C speedups"


@job("aiohttp", 49, "3.14.5", ["aiohttp._http_parser", "aiohttp._http_writer"])
def aiohttp_job():
    import asyncio

    from aiohttp import ClientSession, web

    async def hello(request):
        return web.json_response({"path": request.path, "q": request.query["q"]})

    async def main():
        app = web.Application()
        app.router.add_get("/hello", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/hello?q=%C3%A9") as r:
                    return r.status, await r.json()
        finally:
            await runner.cleanup()

    status, body = asyncio.run(main())
    check(status == 200 and body == {"path": "/hello", "q": "é"}, f"{status} {body}")
    return "HTTP server and client on loopback (C parser)"


@job("yarl", 52, "1.25.1", ["yarl._quoting_c"])
def yarl_job():
    from yarl import URL

    u = URL("https://example.test/a b/").with_query({"q": "é&x"})
    check(str(u) == "https://example.test/a%20b/?q=%C3%A9%26x", str(u))
    check(URL(str(u)).query["q"] == "é&x", "unquote")
    return "URL quoted and unquoted"


@job("multidict", 54, "7.2.1", ["multidict._multidict"])
def multidict_job():
    from multidict import CIMultiDict

    d = CIMultiDict([("Accept", "a"), ("accept", "b"), ("Host", "h")])
    check(d.getall("ACCEPT") == ["a", "b"] and len(d) == 3, repr(d))
    return "case-insensitive multi-valued lookups"


@job("propcache", 58, "0.5.4", ["propcache._helpers_c"])
def propcache_job():
    from propcache.api import under_cached_property

    class C:
        def __init__(self):
            self._cache = {}
            self.calls = 0

        @under_cached_property
        def value(self):
            self.calls += 1
            return 42

    c = C()
    check((c.value, c.value, c.calls) == (42, 42, 1), "cached once")
    return "property computed once and cached"


@job("frozenlist", 65, "1.8.0", ["frozenlist._frozenlist"])
def frozenlist_job():
    from frozenlist import FrozenList

    fl = FrozenList([1, 2])
    fl.append(3)
    fl.freeze()
    try:
        fl.append(4)
        raise AssertionError("a frozen list changed")
    except RuntimeError:
        pass
    other = FrozenList([1, 2, 3])
    other.freeze()
    check(list(fl) == [1, 2, 3] and hash(fl) == hash(other), "frozen lists hash alike")
    check(FrozenList.__module__ == "frozenlist._frozenlist", FrozenList.__module__)
    return "list frozen, mutation refused, hashed"


@job("rpds-py", 68, "2026.9.1", ["rpds.rpds"])
def rpds_job():
    from rpds import HashTrieMap, List

    m = HashTrieMap({"a": 1})
    m2 = m.insert("b", 2).remove("a")
    check(dict(m) == {"a": 1} and dict(m2) == {"b": 2}, f"{m} {m2}")
    check(list(List([1, 2]).push_front(0)) == [0, 1, 2], "List")
    return "persistent map and list"


@job("pillow", 78, "13.0.0", ["PIL._imaging", "PIL._webp"], arm64=True)
def pillow_job():
    import io

    from PIL import Image, features

    img = Image.new("RGB", (64, 48))
    img.putdata([(x * 4, y * 5, 128) for y in range(48) for x in range(64)])
    sizes = []
    for fmt in ["PNG", "JPEG", "WEBP"]:
        buf = io.BytesIO()
        img.save(buf, fmt, quality=90)
        sizes.append(f"{fmt} {buf.tell()} B")
        back = Image.open(io.BytesIO(buf.getvalue()))
        back.load()
        check(back.size == (64, 48) and back.format == fmt, f"{fmt} decoded {back.size} {back.format}")
        r, g, b = back.getpixel((40, 30))
        check(abs(r - 160) < 8 and abs(g - 150) < 8 and abs(b - 128) < 8, f"{fmt} pixel {(r, g, b)}")
    return f"encoded and decoded {', '.join(sizes)} (libjpeg {features.version('jpg')})"


@job("greenlet", 80, "3.5.6", ["greenlet._greenlet"])
def greenlet_job():
    from greenlet import greenlet

    trace = []

    def ping():
        for i in range(3):
            trace.append(f"ping{i}")
            pong_g.switch()

    def pong():
        for i in range(3):
            trace.append(f"pong{i}")
            ping_g.switch()

    ping_g, pong_g = greenlet(ping), greenlet(pong)
    ping_g.switch()
    check(trace == ["ping0", "pong0", "ping1", "pong1", "ping2", "pong2"], repr(trace))
    return "6 switches between two greenlets"


@job("grpcio", 84, "1.85.3", ["grpc._cython.cygrpc"])
def grpcio_job():
    from concurrent import futures

    import grpc

    handler = grpc.method_handlers_generic_handler(
        "lucid.Echo", {"Reverse": grpc.unary_unary_rpc_method_handler(lambda req, ctx: req[::-1])}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = channel.unary_unary("/lucid.Echo/Reverse")(b"distroless", timeout=20)
    finally:
        server.stop(None)
    check(reply == b"sselortsid", repr(reply))
    return "unary call to a server on loopback"


@job("wrapt", 87, "2.5.2", ["wrapt._wrappers"])
def wrapt_job():
    import wrapt

    calls = []

    @wrapt.decorator
    def logged(wrapped, instance, args, kwargs):
        calls.append(wrapped.__name__)
        return wrapped(*args, **kwargs)

    @logged
    def add(a, b):
        return a + b

    check(add(2, 3) == 5 and calls == ["add"] and add.__name__ == "add", "decorator")
    import wrapt._wrappers

    check(issubclass(type(add), wrapt._wrappers.FunctionWrapper), "the wrapper is not the C one")
    check(wrapt.ObjectProxy([1, 2]).count(2) == 1, "proxy")
    return "decorator and object proxy"


@job("pyarrow", 90, "26.0.1", ["pyarrow.lib", "pyarrow._parquet", "pyarrow._compute"],
     extra=["numpy==2.4.6"])
def pyarrow_job():
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pa.table({"k": ["a", "b"] * 500, "v": pa.array(range(1000), pa.int64())})
    sink = pa.BufferOutputStream()
    pq.write_table(t, sink, compression="zstd")
    buf = sink.getvalue()
    back = pq.read_table(pa.BufferReader(buf))
    check(back.equals(t), "parquet round trip")
    check(pc.sum(back["v"]).as_py() == 499500, "compute sum")
    return f"table written to parquet in memory ({buf.size} B, zstd) and read back"


@job("websockets", 92, "17.4", ["websockets.speedups"])
def websockets_job():
    import asyncio

    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve

    async def echo(ws):
        async for message in ws:
            await ws.send(message[::-1])

    async def main():
        async with serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                await ws.send("x" * 5000 + "y")
                return await ws.recv()

    reply = asyncio.run(main())
    check(reply == "y" + "x" * 5000, reply[:20])
    return "masked frames echoed over loopback"


@job("scipy", 95, "1.17.1", ["scipy.linalg._flapack", "scipy.special._ufuncs", "scipy.sparse._sparsetools"],
     extra=["numpy==2.4.6"])
def scipy_job():
    import numpy as np
    from scipy import fft, linalg, sparse, special
    from scipy.sparse.linalg import spsolve

    a = np.array([[3.0, 2.0, -1.0], [2.0, -2.0, 4.0], [-1.0, 0.5, -1.0]])
    x = linalg.solve(a, np.array([1.0, -2.0, 0.0]))
    check(np.allclose(x, [1.0, -2.0, -2.0]), f"linalg.solve gave {x}")
    m = sparse.diags([1.0, 2.0, 4.0]).tocsc()
    check(np.allclose(spsolve(m, np.array([1.0, 1.0, 1.0])), [1.0, 0.5, 0.25]), "spsolve")
    check(special.gamma(5.0) == 24.0, "gamma")
    check(np.allclose(fft.irfft(fft.rfft(np.arange(8.0)), 8), np.arange(8.0)), "fft")
    return "linalg.solve, sparse solve, gamma, FFT"


@job("sqlalchemy", 98, "2.1.9", ["sqlalchemy.engine._row_cy", "sqlalchemy.sql._cache_key_cy"])
def sqlalchemy_job():
    from sqlalchemy import ForeignKey, create_engine, func, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    class Post(Base):
        __tablename__ = "posts"
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([User(id=1, name="ada"), User(id=2, name="bob")] + [Post(user_id=1 + i % 2) for i in range(5)])
        s.commit()
        rows = s.execute(select(User.name, func.count(Post.id)).join(Post).group_by(User.name).order_by(User.name)).all()
    check([tuple(r) for r in rows] == [("ada", 3), ("bob", 2)], repr(rows))
    return "ORM join and group-by on in-memory SQLite"


@job("lxml", 102, "6.1.3", ["lxml.etree"], arm64=True)
def lxml_job():
    from lxml import etree, html

    doc = etree.fromstring(b'<r xmlns:x="urn:x"><x:i n="1"/><x:i n="2"/><j/></r>')
    check(doc.xpath("sum(//x:i/@n)", namespaces={"x": "urn:x"}) == 3.0, "xpath")
    xslt = etree.XSLT(etree.fromstring(
        b'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        b'<xsl:template match="/"><c><xsl:value-of select="count(//*)"/></c></xsl:template></xsl:stylesheet>'))
    check(str(xslt(doc)).strip().endswith("<c>4</c>"), str(xslt(doc)))
    page = html.fromstring("<p>broken <b>html")
    check(page.text_content() == "broken html", page.text_content())
    v = ".".join(map(str, etree.LIBXML_VERSION))
    return f"XML parse, XPath, XSLT, HTML recovery (libxml2 {v})"


@job("regex", 107, "2026.11.19", ["regex._regex"])
def regex_job():
    import regex

    check(regex.findall(r"\p{Greek}+", "alpha αβγ omega ωψ") == ["αβγ", "ωψ"], "Greek script class")
    check(regex.fullmatch(r"(?:distroless){e<=1}", "distrolss") is not None, "fuzzy match")
    check(regex.sub(r"(?V1)[\p{L}--\p{Latin}]", "_", "aβc") == "a_c", "set difference")
    return "Unicode script classes, fuzzy matching, set operations"


@job("jiter", 123, "0.19.0", ["jiter.jiter"])
def jiter_job():
    import jiter

    check(jiter.from_json(b'{"a": [1, 2.5, "\\u00e9", null]}') == {"a": [1, 2.5, "é", None]}, "from_json")
    check(jiter.from_json(b'{"a": [1, 2', partial_mode=True) == {"a": [1, 2]}, "partial JSON")
    return "JSON parsed, partial JSON completed"


@job("msgpack", 146, "1.2.4", ["msgpack._cmsgpack"])
def msgpack_job():
    import msgpack

    obj = {"a": [1, 2**40, -3], "b": b"\x00\xff", "c": {"d": 1.5}}
    data = msgpack.packb(obj)
    check(msgpack.unpackb(data) == obj, "round trip")
    check(msgpack.Packer.__module__ == "msgpack._cmsgpack", msgpack.Packer.__module__)
    return f"packed ({len(data)} B) and unpacked by the C extension"


@job("psycopg2-binary", 147, "2.9.13", ["psycopg2._psycopg"])
def psycopg2_job():
    import psycopg2
    from psycopg2 import extensions

    dsn = extensions.parse_dsn("host=127.0.0.1 port=1 dbname=app user=app connect_timeout=5")
    check(dsn["dbname"] == "app" and dsn["port"] == "1", repr(dsn))
    try:
        psycopg2.connect(**dsn)
        raise AssertionError("connected to a server that does not exist")
    except psycopg2.OperationalError as e:
        check("127.0.0.1" in str(e), f"libpq said: {e}")
    v = extensions.libpq_version()
    return f"DSN parsed and refused connection reported by libpq {v // 10000}.{v % 10000}"


@job("pynacl", 159, "1.6.2", ["nacl._sodium"])
def pynacl_job():
    from nacl.public import Box, PrivateKey
    from nacl.signing import SigningKey

    sk = SigningKey.generate()
    signed = sk.sign(b"lucid")
    check(sk.verify_key.verify(signed) == b"lucid", "verify")
    a, b = PrivateKey.generate(), PrivateKey.generate()
    check(Box(b, a.public_key).decrypt(Box(a, b.public_key).encrypt(b"hi")) == b"hi", "box")
    return "libsodium: Ed25519 sign/verify, public-key box"


@job("uvloop", 163, "0.23.0", ["uvloop.loop"])
def uvloop_job():
    import asyncio

    import uvloop

    async def main():
        async def handle(reader, writer):
            writer.write((await reader.readline()).upper())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"echo\n")
        line = await reader.readline()
        writer.close()
        server.close()
        await server.wait_closed()
        return type(asyncio.get_running_loop()).__module__, line

    module, line = uvloop.run(main())
    check(module == "uvloop" and line == b"ECHO\n", f"{module} {line!r}")
    return "TCP echo over loopback on the libuv loop"


@job("httptools", 164, "0.9.0", ["httptools.parser.parser", "httptools.parser.url_parser"])
def httptools_job():
    import httptools

    got = {}

    class Proto:
        def on_url(self, url):
            got["url"] = url

        def on_header(self, name, value):
            got[name.lower()] = value

        def on_body(self, body):
            got["body"] = body

    p = httptools.HttpRequestParser(Proto())
    p.feed_data(b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    check(p.get_method() == b"POST" and got == {"url": b"/a?b=1", b"host": b"x", b"content-length": b"2", "body": b"hi"}, repr(got))
    check(httptools.parse_url(b"http://h:8080/p?q").port == 8080, "parse_url")
    return "HTTP/1.1 request and URL parsed (llhttp)"


@job("bcrypt", 184, "5.0.0", ["bcrypt._bcrypt"])
def bcrypt_job():
    import bcrypt

    h = bcrypt.hashpw(b"password", bcrypt.gensalt(rounds=4))
    check(bcrypt.checkpw(b"password", h) and not bcrypt.checkpw(b"passw0rd", h), "checkpw")
    return "hash and check (cost 4)"


@job("kiwisolver", 186, "1.5.1", ["kiwisolver._cext"])
def kiwisolver_job():
    from kiwisolver import Solver, Variable

    left, width = Variable("left"), Variable("width")
    s = Solver()
    s.addConstraint(left + width == 100)
    s.addConstraint(width == 3 * left)
    s.updateVariables()
    check((left.value(), width.value()) == (25.0, 75.0), f"{left.value()} {width.value()}")
    return "linear constraints solved (Cassowary)"


@job("orjson", 194, "3.13.0", ["orjson.orjson"], arm64=True)
def orjson_job():
    import datetime
    import uuid

    import orjson

    u = uuid.UUID(int=7)
    obj = {"t": datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.timezone.utc), "u": u, "n": [1, 2.5, None]}
    data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    check(data == b'{"n":[1,2.5,null],"t":"2026-11-27T10:00:00+00:00","u":"' + str(u).encode() + b'"}', data)
    check(orjson.loads(data)["n"] == [1, 2.5, None], "loads")
    return "datetime and UUID serialised, parsed back"


@job("google-crc32c", 199, "1.9.0", ["google_crc32c._crc32c"])
def google_crc32c_job():
    import google_crc32c

    check(google_crc32c.implementation == "c", google_crc32c.implementation)
    check(google_crc32c.value(b"123456789") == 0xE3069283, "check value")
    return "CRC32C check value (C implementation)"


@job("zstandard", 225, "0.25.0", ["zstandard.backend_c"])
def zstandard_job():
    import zstandard

    check(zstandard.backend == "cext", zstandard.backend)
    data = b"lucid " * 10000
    packed = zstandard.ZstdCompressor(level=10).compress(data)
    check(zstandard.ZstdDecompressor().decompress(packed) == data and len(packed) < 200, f"{len(packed)} B")
    return f"60000 B compressed to {len(packed)} B and back (C backend)"


@job("ujson", 408, "6.1.0", ["ujson"])
def ujson_job():
    import ujson

    obj = {"a": [1, 2.5, "é"], "b": None}
    check(ujson.loads(ujson.dumps(obj)) == obj, "round trip")
    return "JSON round trip"


@job("simplejson", 454, "4.3.0", ["simplejson._speedups"])
def simplejson_job():
    import decimal

    import simplejson

    check(simplejson._speedups.make_encoder is not None, "speedups")
    s = simplejson.dumps({"d": decimal.Decimal("1.10")}, use_decimal=True)
    check(s == '{"d": 1.10}' and simplejson.loads(s, use_decimal=True)["d"] == decimal.Decimal("1.10"), s)
    return "Decimal-exact JSON round trip"


# ---- the base image's own compiled wheel ----


@job("psutil", 106, "7.2.2", ["psutil._psutil_linux"], arm64=True, source="base")
def psutil_job():
    import os

    import psutil

    p = psutil.Process()
    check(p.pid == os.getpid() and p.memory_info().rss > 0, "process info")
    check(psutil.cpu_count() >= 1 and psutil.virtual_memory().total > 0, "system info")
    return "process memory, CPU count and system memory read from /proc"


# ---- the interpreter's modules linked to Debian libraries of the base image ----


@job("ssl", None, None, ["_ssl"], arm64=True, source="stdlib")
def ssl_job():
    import ssl

    stats = ssl.create_default_context().cert_store_stats()
    check(stats["x509_ca"] > 100, f"only {stats['x509_ca']} CAs loaded")
    return f"{stats['x509_ca']} CAs loaded ({ssl.OPENSSL_VERSION})"


@job("sqlite3", None, None, ["_sqlite3"], arm64=True, source="stdlib")
def sqlite3_job():
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("create table t (x)")
    db.executemany("insert into t values (?)", [(i,) for i in range(100)])
    check(db.execute("select sum(x) from t").fetchone()[0] == 4950, "sum")
    return f"in-memory database (SQLite {sqlite3.sqlite_version})"


@job("ctypes", None, None, ["_ctypes"], arm64=True, source="stdlib")
def ctypes_job():
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    cmp = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
    arr = (ctypes.c_int * 5)(5, 1, 4, 2, 3)
    libc.qsort(arr, 5, ctypes.sizeof(ctypes.c_int), cmp(lambda a, b: a[0] - b[0]))
    check(list(arr) == [1, 2, 3, 4, 5], repr(list(arr)))
    return "qsort in libc with a Python callback (libffi)"


@job("compression", None, None, ["zlib", "_bz2", "_lzma"], arm64=True, source="stdlib")
def compression_job():
    import bz2
    import lzma
    import zlib

    data = b"lucid " * 1000
    for mod in (zlib, bz2, lzma):
        check(mod.decompress(mod.compress(data)) == data, mod.__name__)
    return f"zlib, bz2, lzma round trips (zlib {zlib.ZLIB_RUNTIME_VERSION})"


# ---- the runner ----


def selected(arm64):
    return [j for j in JOBS.values() if j.arm64 or not arm64]


def version_of(j):
    """The installed version: the distribution's metadata, or the linked library for stdlib jobs."""
    import importlib.metadata
    import platform

    if j.source == "stdlib":
        return "python-" + platform.python_version()
    return importlib.metadata.version(j.name)


def run_one(name):
    """Runs one job in this interpreter and prints its line; returns the exit code."""
    import importlib
    import importlib.machinery
    import time

    j = JOBS[name]
    version = "-"
    try:
        version = version_of(j)
        if j.pin is not None:
            check(version == j.pin, f"version {version} installed, {j.pin} pinned")
        for mod in j.native:
            m = importlib.import_module(mod)
            path = getattr(m, "__file__", None) or ""
            # Built into the interpreter (no file) counts as compiled for the stdlib jobs.
            if path or j.source != "stdlib":
                check(path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), f"{mod} loaded from {path!r}")
        start = time.monotonic()
        detail = j.fn()
        ms = (time.monotonic() - start) * 1000
        print(f"ok {name} {version} {detail} [{ms:.0f} ms]", flush=True)
        return 0
    except BaseException as e:  # a job must report, whatever it raised
        reason = f"{type(e).__name__}: {e}".replace("\n", " | ")
        print(f"FAIL {name} {version} {reason}", flush=True)
        return 1


def run_all(arm64):
    import subprocess

    failed = 0
    jobs = selected(arm64)
    for j in jobs:
        try:
            r = subprocess.run([sys.executable, __file__, "--one", j.name], capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            print(f"FAIL {j.name} - timed out after 300 s", flush=True)
            failed += 1
            continue
        lines = [l for l in r.stdout.splitlines() if l.startswith(("ok ", "FAIL "))]
        if r.returncode == 0 and len(lines) == 1 and lines[0].startswith("ok "):
            print(lines[0], flush=True)
            continue
        failed += 1
        if lines:
            print(lines[-1], flush=True)
        else:
            tail = " | ".join(r.stderr.strip().splitlines()[-3:])
            print(f"FAIL {j.name} - exit {r.returncode}: {tail}", flush=True)
    print(f"jobs: {len(jobs) - failed} ok, {failed} failed", flush=True)
    return 1 if failed else 0


def parse_log(path):
    """name -> (version, detail) of the `ok` lines of a job log."""
    ok = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 3)
            if len(parts) == 4 and parts[0] == "ok":
                ok[parts[1]] = (parts[2], parts[3].rsplit(" [", 1)[0])
    return ok


def markdown(amd64_log, arm64_log):
    """The docs table, or None after saying on stderr which log or `ok` line is missing."""
    try:
        amd64, arm64 = parse_log(amd64_log), parse_log(arm64_log)
    except OSError as e:
        print(f"jobs.py markdown: cannot read the job log: {e}", file=sys.stderr)
        return None
    missing = [f"{j.name} (amd64)" for j in selected(False) if j.name not in amd64]
    missing += [f"{j.name} (arm64)" for j in selected(True) if j.name not in arm64]
    if missing:
        print(f"jobs.py markdown: no `ok` line for {', '.join(missing)}", file=sys.stderr)
        return None
    out = [
        "| package | rank | version | linux/amd64 | linux/arm64 | job |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for j in JOBS.values():
        version, detail = amd64[j.name]
        rank = str(j.rank) if j.rank else "stdlib"
        if j.source == "base":
            rank += " (in the base image)"
        on_arm = "passed" if j.name in arm64 else "not run"
        out.append(f"| {j.name} | {rank} | {version} | passed | {on_arm} | {detail} |")
    return "\n".join(out)


def main(argv):
    arm64 = "--arm64" in argv
    args = [a for a in argv if a != "--arm64"]
    if args[:1] == ["--one"] and len(args) == 2:
        return run_one(args[1])
    if args[:1] == ["requirements"]:
        lines = sorted({r for j in selected(arm64) for r in j.requirements()})
        print("\n".join(lines))
        return 0
    if args[:1] == ["expect"]:
        print("\n".join(f"{j.name} {j.source}" for j in selected(arm64)))
        return 0
    if args[:1] == ["markdown"] and len(args) == 3:
        table = markdown(args[1], args[2])
        if table is None:
            return 2
        print(table)
        return 0
    if not args:
        return run_all(arm64)
    print(__doc__, file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
