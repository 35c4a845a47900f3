"""The OCI container state the runtime writes on the hook's stdin (hook.md §2.1)."""

from __future__ import annotations

from . import errors, gocompat, gojson
from .values import Value

_INT64 = (-(1 << 63), (1 << 63) - 1)


class HookState(Value, frozen=True):
    """The fields of the state the hook uses.

    ``pid`` is as given (may be negative); ``bundle`` is the ``bundle`` field,
    or ``bundlePath`` when ``bundle`` is empty.
    """

    pid: int = 0
    bundle: str = ""

    @property
    def cli_pid(self) -> int:
        """The pid as the reference prints it: unsigned 64-bit two's complement."""
        return self.pid & 0xFFFFFFFFFFFFFFFF

    @property
    def spec_path(self) -> str:
        """Go ``path.Join(bundle, "config.json")``."""
        return gocompat.join(self.bundle, "config.json")


def parse_state(data: bytes) -> HookState:
    """Decode the state from stdin bytes.

    Raises :class:`StateError` ("could not decode container state: ...").
    """
    try:
        return _decode(gojson.decode_first(data))
    except gojson.DecodeError as exc:
        raise errors.StateError(f"could not decode container state: {exc}", str(exc)) from None


def read_state(stream, name: str = "/dev/stdin") -> HookState:
    """Read the state from a binary ``stream`` (stdin; a file called ``name`` in the errors) as Go's
    ``json.Decoder`` does: up to the end of its first JSON value, at most
    :data:`~hook.gojson.INPUT_LIMIT` bytes, never waiting for the end of the stream.

    Raises :class:`StateError` ("could not decode container state: ..."; ``detail``: the part
    after the colon).
    """
    from . import oslite

    try:
        try:
            regular = oslite.S_IFMT(oslite.fstat(stream.fileno()).st_mode) == oslite.S_IFREG
        except (OSError, ValueError):  # not a file descriptor (io.UnsupportedOperation)
            regular = False
        value = gojson.read_first(stream.read1, stream=not regular)
        return _decode(value)
    except (OSError, AttributeError, ValueError) as exc:
        if isinstance(exc, gojson.DecodeError):
            detail = f"read {name}: {exc}" if isinstance(exc, gojson.InputTooLarge) else str(exc)
        else:
            import errno
            detail = f"read {name}: {gocompat.errno_text(getattr(exc, 'errno', None) or errno.EBADF)}"
        raise errors.StateError(f"could not decode container state: {detail}", detail) from None


def _decode(value) -> HookState:
    if value is None:
        return HookState()
    if not isinstance(value, gojson.Obj):
        raise gojson.type_error(value, "value", "main.HookState")
    f = gojson.fields(value, ("pid", "bundle", "bundlepath"))
    pid = 0
    for v in f.get("pid", ()):
        if v is None:
            continue
        pid = gojson.as_int(v, "struct field HookState.pid", "int", *_INT64)
    bundle = gojson.as_string(f.get("bundle", []), "", "struct field HookState.bundle")
    bundle_path = gojson.as_string(f.get("bundlepath", []), "", "struct field HookState.bundlePath")
    return HookState(pid=pid, bundle=bundle or bundle_path)
