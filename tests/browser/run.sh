#!/usr/bin/env bash
# The console's end-to-end tests in headless Chromium (tests/browser_*.rs).
# They are #[ignore]d in a plain `cargo test` because they need Debian's
# chromium and chromium-driver; this installs both when missing and runs
# them. Screenshots of every page land in target/browser-screenshots/
# (kept by CI as artifacts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
    echo "browser: installing chromium and chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y chromium chromium-driver >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y chromium chromium-driver >/dev/null; }
fi

rm -rf target/browser-screenshots
tests=()
for file in tests/browser_*.rs; do
    tests+=(--test "$(basename "$file" .rs)")
done
# Two at a time: each test runs a server and a Chromium, on 2 cores.
cargo test --locked "${tests[@]}" -- --ignored --test-threads=2
echo "browser: screenshots in target/browser-screenshots/:"
ls target/browser-screenshots/
