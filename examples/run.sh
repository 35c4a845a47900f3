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
