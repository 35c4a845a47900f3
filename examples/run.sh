#!/usr/bin/env bash
# Run the hook's prestart on the bundled GPU example with a recording stand-in for
# nvidia-container-cli, then print what it would inject (and why, via `explain`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hook="$here/../.venv/bin/nvidia-container-runtime-hook"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/gpu-bundle" "$work/bundle"
cat > "$work/nvidia-container-cli" <<REC
#!/bin/sh
printf '%s\n' "\$0" "\$@" > "$work/argv"
REC
chmod +x "$work/nvidia-container-cli"
cat > "$work/config.toml" <<CFG
[nvidia-container-cli]
path = "$work/nvidia-container-cli"
CFG

echo "== explain (what prestart decides, and why)"
(cd "$work/bundle" && "$hook" -config "$work/config.toml" explain --bundle "$work/bundle" --pid 4242)
echo
echo "== prestart (runc's call: OCI state on stdin)"
(cd "$work/bundle" && printf '{"ociVersion":"1.0.2","id":"example","pid":4242,"bundle":"%s"}' "$work/bundle" \
    | "$hook" -config "$work/config.toml" prestart)
echo "nvidia-container-cli was executed as:"
sed "s|$work|<tmp>|g; s|^|    |" "$work/argv"

# The same request injected in-process by the frozen binary through libnvidia-container: here the
# fake library of native/ (dry run: it records the calls instead of mounting into a container).
echo
echo "== prestart with the frozen binary and injector = \"library\" (fake libnvidia-container)"
cat > "$work/library.toml" <<CFG
[nvidia-container-runtime-hook]
injector = "library"
library-path = "$here/../build/fake/libnvidia-container.so.1"
CFG
(cd "$work/bundle" && printf '{"ociVersion":"1.0.2","id":"example","pid":4242,"bundle":"%s"}' "$work/bundle" \
    | FAKE_NVC_DRY_RUN=1 FAKE_NVC_LOG="$work/nvc.jsonl" "$here/../dist/nvidia-container-runtime-hook" \
        -config "$work/library.toml" prestart)
echo "libnvidia-container calls:"
"$here/../.venv/bin/python" - "$work/nvc.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    call = json.loads(line)
    if call["fn"].startswith("__"):
        continue
    args = ", ".join(f"{k}={v}" for k, v in call["args"].items() if k in ("opts", "flags", "gpu", "pid", "rootfs"))
    print(f"    {call['fn']}({args}) -> {call['ret']}")
PY
