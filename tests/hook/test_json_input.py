"""Reading the hook's JSON inputs as Go's json.Decoder does: first value only, bounded, Go's depth limit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from hook import gojson
from hook.errors import SpecError, StateError
from hook.spec import load_spec, parse_spec
from hook.state import parse_state, read_state

from hook_harness import gpu_spec, state, write_bundle

DOCS = [
    b'{"pid": 42, "bundle": "/run/b\\u00e9\\"x\\\\", "a": [1.5e-3, -0, true, false, null, {}], "z": "\xc3\xa9\xf0\x9f\x98\x80"}',
    b'[{"k": "\\ud83d\\ude00"}, [[]], -12.5E+3]',
    b'{"ociVersion": "1.0.2", "process": {"env": ["A=1"]}, "root": {"path": "r"}}',
]


@pytest.mark.parametrize("doc", DOCS)
def test_no_prefix_of_a_value_is_taken_for_a_value_or_an_error(doc):
    """Whatever the cut (inside a literal, a number, an escape, a UTF-8 sequence), the reader waits."""
    full = gojson.decode_first(doc)
    for k in range(len(doc)):
        assert gojson.decode_prefix(doc[:k]) is gojson.INCOMPLETE, doc[:k]
    assert gojson.decode_prefix(doc) == full


@pytest.mark.parametrize("scalar,more", [(b"12", b"3 "), (b"null", b" "), (b'"ab"', b"\n"), (b"1.", b"5 ")])
def test_a_top_level_scalar_ends_only_at_the_next_byte(scalar, more):
    assert gojson.decode_prefix(scalar) is gojson.INCOMPLETE
    assert gojson.decode_prefix(scalar + more) == gojson.decode_first(scalar + more)


@pytest.mark.parametrize("data,message", [
    (b'{"pid": x', "invalid character 'x' looking for beginning of value"),
    (b"\0\0\0\0", "invalid character '\\x00' looking for beginning of value"),
    (b'{"a": 1 "b"', "invalid character '\"' (Expecting ',' delimiter)"),
])
def test_a_syntax_error_needs_no_more_input(data, message):
    with pytest.raises(gojson.DecodeError, match="^" + re.escape(message) + "$"):
        gojson.decode_prefix(data)


def test_truncated_literal_at_the_end_is_unexpected_eof():
    with pytest.raises(gojson.DecodeError, match="^unexpected EOF$"):
        gojson.decode_first(b'{"a": tru')


class Chunks:
    """An os.read-like reader over chunks that fails if read after its last chunk (a writer holding it open)."""

    def __init__(self, *chunks: bytes, then_eof: bool = False):
        self.chunks = list(chunks)
        self.then_eof = then_eof
        self.calls = 0

    def __call__(self, n: int) -> bytes:
        self.calls += 1
        if not self.chunks:
            assert self.then_eof, "read again although the first value was complete (would block forever)"
            return b""
        data = self.chunks.pop(0)
        assert len(data) <= n
        return data


def test_read_first_returns_when_the_value_ends_without_waiting_for_eof():
    reader = Chunks(b'{"pid": 4', b'2, "bundle": "/b"', b'} trailing garbage')
    assert gojson.read_first(reader, stream=True) == [("pid", "42"), ("bundle", "/b")]
    assert reader.calls == 3


def test_read_first_of_a_regular_file_decodes_at_eof():
    reader = Chunks(b'{"pid": 1}', b" x", then_eof=True)
    assert gojson.read_first(reader, stream=False) == [("pid", "1")]
    assert reader.calls == 3


def test_read_first_is_bounded():
    class Spaces:
        read = 0

        def __call__(self, n):
            self.read += n
            return b" " * n

    spaces = Spaces()
    with pytest.raises(gojson.InputTooLarge, match="^no complete JSON value in the first 1000 bytes"):
        gojson.read_first(spaces, stream=True, chunk=64, limit=1000)
    assert spaces.read == 1001
    # A value complete within the limit is accepted whatever follows it.
    assert gojson.read_first(Chunks(b"[1]" + b" " * 998, b" " * 1000), stream=False, limit=1000) == ["1"]


@pytest.mark.parametrize("depth", [1, 899, 900, 901, 9999, 10000, 10001, 10002, 20000])
@pytest.mark.parametrize("leaf", ["", "7", '"s"', "{}", '{"k": -1.5e3}', "[]"])
def test_nesting_limit_is_go_s(depth, leaf):
    """Go accepts 10,000 nested arrays/objects and refuses 10,001, whatever the leaf."""
    inner_depth = 1 if leaf[:1] in ("{", "[") else 0
    outer = depth - inner_depth
    for opener, closer in (("[", "]"), ('{"a":', "}")):
        if outer < 1 or (not leaf and opener != "["):
            continue
        text = (opener * outer + leaf + closer * outer).encode()
        if depth <= gojson.MAX_DEPTH:
            assert gojson.decode_first(text) is not None
        else:
            with pytest.raises(gojson.DecodeError, match="^exceeded max depth"):
                gojson.decode_first(text)


def test_depth_limit_does_not_depend_on_the_callers_stack():
    text = ("[" * 10000 + "]" * 10000).encode()

    def nested(k):
        return nested(k - 1) if k else gojson.decode_first(text)

    assert gojson._depth(nested(600)) == 10000  # close to the default limit of 1,000 with pytest's frames


def test_scan_restores_recursion_limit_and_gc():
    import gc

    limit = sys.getrecursionlimit()
    gojson.decode_first(("[" * 5000 + "]" * 5000).encode())
    with pytest.raises(gojson.DecodeError):
        gojson.decode_first(("[" * 10001 + "]" * 10001).encode())
    assert sys.getrecursionlimit() == limit and gc.isenabled() and gc.get_freeze_count() == 0


def test_deep_spec_is_a_spec_error():
    spec = gpu_spec(["PATH=/bin"])
    data = json.dumps(spec).encode()[:-1] + b', "annotations": {"x": ' + b"[" * 10001 + b"]" * 10001 + b"}}"
    with pytest.raises(SpecError, match=r"^could not decode OCI spec: exceeded max depth"):
        parse_spec(data)
    ok = json.dumps(spec).encode()[:-1] + b', "annotations": {"x": ' + b"[" * 9998 + b"]" * 9998 + b"}}"
    assert parse_spec(ok).env == ("PATH=/bin",)


@pytest.mark.parametrize("digits", [21, 5000, 100000])
def test_huge_integer_is_a_decode_error(digits):
    pid = "9" * digits
    with pytest.raises(StateError, match=f"^could not decode container state: json: cannot unmarshal number "
                                         f"{pid} into Go struct field HookState.pid of type int$"):
        parse_state(f'{{"pid": {pid}}}'.encode())
    mounts = [{"destination": "/x", "uidMappings": [{"containerID": int(pid) if digits < 4000 else 1}]}]
    data = json.dumps(gpu_spec([], mounts=mounts)).encode()
    if digits >= 4000:
        data = data.replace(b'"containerID": 1', f'"containerID": {pid}'.encode())
    with pytest.raises(SpecError, match="^could not decode OCI spec: json: cannot unmarshal number 9+ into Go "
                                        "struct field LinuxIDMapping.containerid of type uint32$"):
        parse_spec(data)


def test_read_state_from_a_pipe_held_open():
    r, w = os.pipe()
    try:
        os.write(w, b'{"pid": 7, "bundle": "/b"}\n')
        with os.fdopen(r, "rb") as stream:
            st = read_state(stream)
    finally:
        os.close(w)
    assert (st.pid, st.bundle) == (7, "/b")


def test_read_state_errors():
    with pytest.raises(StateError, match="^could not decode container state: read /dev/stdin: bad file descriptor$"):
        read_state(None)


def test_spec_from_dev_zero_is_refused_at_once(tmp_path):
    (tmp_path / "config.json").symlink_to("/dev/zero")
    with pytest.raises(SpecError, match=r"^could not decode OCI spec: invalid character '\\x00' looking for "
                                        "beginning of value$"):
        load_spec(str(tmp_path / "config.json"))


def test_spec_from_an_endless_stream_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(gojson, "INPUT_LIMIT", 1 << 20)
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"yes ' ' > {fifo}"])
    try:
        with pytest.raises(SpecError, match=f"^could not decode OCI spec: read {fifo}: no complete JSON value "
                                            "in the first 1048576 bytes"):
            load_spec(str(fifo))
    finally:
        writer.kill()
        writer.wait()


def test_prestart_finishes_while_the_runtime_keeps_stdin_open(tmp_path, hook_bin):
    """The reference decodes the first value and goes on; it never waits for stdin to close."""
    bundle = tmp_path / "b"
    write_bundle(bundle, gpu_spec(["PATH=/bin"]))
    (tmp_path / "c.toml").write_text("")
    proc = subprocess.Popen([str(hook_bin), "-config", str(tmp_path / "c.toml"), "prestart"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        proc.stdin.write(state(bundle) + b"\n")
        proc.stdin.flush()
        rc = proc.wait(timeout=60)  # stdin still open
        assert (rc, proc.stderr.read()) == (0, b"")
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stderr.close()
        proc.wait()


def test_prestart_with_config_json_dev_zero(tmp_path, hook_bin):
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "config.json").symlink_to("/dev/zero")
    (tmp_path / "c.toml").write_text("")
    proc = subprocess.run([str(hook_bin), "-config", str(tmp_path / "c.toml"), "prestart"], input=state(bundle),
                          capture_output=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (
        1, b"could not decode OCI spec: invalid character '\\x00' looking for beginning of value\n")


def test_prestart_with_a_huge_pid_is_one_line(tmp_path, hook_bin):
    (tmp_path / "c.toml").write_text("")
    proc = subprocess.run([str(hook_bin), "-config", str(tmp_path / "c.toml"), "prestart"],
                          input=b'{"pid": ' + b"1" * 5000 + b"}", capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == (b"could not decode container state: json: cannot unmarshal number " + b"1" * 5000 +
                           b" into Go struct field HookState.pid of type int\n")


@pytest.mark.parametrize("doc", DOCS + [b'{"a": ' + b"[" * 950 + b'{"b": 1}' + b"]" * 950 + b"}"])
def test_large_input_path_gives_the_same_tree(doc, monkeypatch):
    """Inputs over 64 KiB are scanned in a thread with the GC paused: same values, same errors."""
    here = gojson.decode_first(doc)
    monkeypatch.setattr(gojson, "_MAIN_THREAD_CHARS", 0)
    assert gojson.decode_first(doc) == here
    with pytest.raises(gojson.DecodeError, match="^unexpected EOF$"):
        gojson.decode_first(doc[:-1] + b" ")


def test_no_thread_is_left_behind(monkeypatch):
    """The library injector needs a single-threaded process: the scanning thread is gone on return."""
    from hook.nvc.configure import thread_count

    monkeypatch.setattr(gojson, "_MAIN_THREAD_CHARS", 0)
    before = thread_count()
    for _ in range(20):
        gojson.decode_first(b"[" * 3000 + b"]" * 3000)
        assert thread_count() == before


@pytest.mark.parametrize("depth,ok", [(10000, True), (10001, False)])
def test_deep_input_falls_back_to_the_python_scanner_when_the_c_scanner_cannot(monkeypatch, depth, ok):
    """On CPython 3.12+ the C scanner gives up below Go's limit (a C recursion limit fixed at build
    time): the pure-Python scanner takes over, with the same values and the same limit."""
    real = gojson._scan_once

    def c_scanner_gives_up(text, i):
        if text.count("[") > 1500:
            raise RecursionError("C recursion limit")
        return real(text, i)

    monkeypatch.setattr(gojson, "_scan_once", c_scanner_gives_up)
    text = "[" * (depth - 1) + '{"a": 1.50}' + "]" * (depth - 1)
    if ok:
        value = gojson.decode_first(text.encode())
        for _ in range(depth - 1):
            value = value[0]
        assert isinstance(value, gojson.Obj) and value[0][0] == "a" and str(value[0][1]) == "1.50"
    else:
        with pytest.raises(gojson.DecodeError, match="exceeded max depth"):
            gojson.decode_first(text.encode())


class FullReads:
    """A pipe whose writer is ahead: every read gets all it asks for, from ``data``; counts the bytes the
    decoder looks at (``decode_prefix`` calls) through ``gojson``."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def __call__(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


@pytest.mark.parametrize("payload", [b" " * (8 << 20) + b"{}", b'{"a": "' + b"}" * (8 << 20) + b'"}'])
def test_a_large_value_through_a_pipe_is_decoded_a_bounded_number_of_times(monkeypatch, payload):
    """Not once per read: 8 MiB in 64 KiB reads is 128 reads; decoding from the start after each
    one would scan the input 64 times over."""
    scanned = []
    real = gojson.decode_prefix
    monkeypatch.setattr(gojson, "decode_prefix", lambda data: scanned.append(len(data)) or real(data))
    assert gojson.read_first(FullReads(payload), stream=True) in ([], [("a", "}" * (8 << 20))])
    assert sum(scanned) <= 4 * len(payload)


def test_a_top_level_number_ends_at_the_white_space_after_it():
    """Go's decoder returns a number once a delimiter follows it, without waiting for EOF."""
    assert gojson.read_first(Chunks(b"123", b" "), stream=True) == "123"


def test_a_state_read_in_pieces_creates_no_exception_class():
    """A stream that delivers a value in several reads makes read_first decode unfinished prefixes,
    on which the C scanner raises ValueError: that must not name (and so create) gojson's lazily
    created error classes (hook.values.lazy_classes) on a run that succeeds."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from hook import gojson\n"
            "pieces = [b'{\"a\": {\"b\": 1}, \"c\": \"x', b'y\", \"d\": [1, 2', b']}']\n"
            "value = gojson.read_first(lambda n: pieces.pop(0) if pieces else b'', stream=True)\n"
            "print(value, sorted(n for n in ('DecodeError', 'InputTooLarge', '_TooDeep') if n in vars(gojson)))")
    from paths import ROOT

    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(ROOT)], capture_output=True, text=True,
                         check=True)
    assert out.stdout == "[('a', [('b', '1')]), ('c', 'xy'), ('d', ['1', '2'])] []\n"  # numbers stay text (Number)
