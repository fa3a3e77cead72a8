#!/usr/bin/env bash
# Renders an evidence report with headless Chromium and checks that a screenshot came out.
#
#   crates/report/check-report.sh REPORT.html [OUT.png]
#
# OUT.png defaults to REPORT.png beside the report. The script fails (non-zero exit) when
# the report is missing or empty, when it is not self-contained (a <script>, <link>, <img>,
# <iframe>, <object> or <embed> element, a src= attribute, an http(s):// address; escaped
# suspect text cannot match these), when Chromium is not
# installed or fails, or when the PNG is missing or empty. Chromium opens the page from
# disk as a file:// URL in a 1200×3000 window.
#
# To check the renderer end to end without a model, render the synthetic example first:
#
#   cargo run --release -p tracemark-report --example sample_report -- /tmp/report.html
#   crates/report/check-report.sh /tmp/report.html /tmp/report.png
#
# Chromium is the Debian package `chromium` (apt-get install chromium); set CHROMIUM to use
# another binary, e.g. CHROMIUM=google-chrome.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
report=$1
out=${2:-${report%.html}.png}

if [[ ! -s $report ]]; then
    echo "check-report: $report is missing or empty" >&2
    exit 1
fi
fetch='<(script|link|img|iframe|object|embed)\b|<[^>]*[[:space:]]src=|https?://'
if grep -Eiq "$fetch" "$report"; then
    grep -Eion "$fetch" "$report" | head -5 >&2
    echo "check-report: $report is not self-contained" >&2
    exit 1
fi
chromium=${CHROMIUM:-}
if [[ -z $chromium ]]; then
    for c in chromium chromium-browser google-chrome; do
        if command -v "$c" >/dev/null; then chromium=$c; break; fi
    done
fi
if [[ -z $chromium ]]; then
    echo "check-report: no Chromium found; install it (apt-get install chromium) or set CHROMIUM" >&2
    exit 1
fi

url="file://$(realpath "$report")"
rm -f "$out"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! timeout 120 "$chromium" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --no-first-run --hide-scrollbars \
    --window-size=1200,3000 --screenshot="$out" "$url" >"$log" 2>&1; then
    cat "$log" >&2
    echo "check-report: $chromium failed on $report" >&2
    exit 1
fi
if [[ ! -s $out ]]; then
    cat "$log" >&2
    echo "check-report: no screenshot written to $out" >&2
    exit 1
fi
echo "check-report: $report rendered to $out ($(stat -c %s "$out") bytes)"
