#!/usr/bin/env bash
# Template security: cfn-lint with the serverless rules, then checkov. Offline and a few seconds.
# Every finding is either fixed in template.yaml or skipped there with its reason (Metadata:
# cfn-lint ignore_checks / checkov skip), so a new finding fails this script.
#
# checkov lives in its own venv (.venv/tools/checkov): it pins boto3/botocore/packaging versions
# that would break the project's venv. The first run installs it (needs the package registry).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=.venv/bin
TEMPLATE=${TEMPLATE:-template.yaml}
CHECKOV_VERSION=${CHECKOV_VERSION:-3.3.30}
CHECKOV_VENV=.venv/tools/checkov
PYTHON=${PYTHON:-python3.11}

echo "== cfn-lint $("$BIN/cfn-lint" --version | awk '{print $2}') + serverless rules: $TEMPLATE"
"$BIN/cfn-lint" "$TEMPLATE" --append-rules cfn_lint_serverless.rules

if [ ! -x "$CHECKOV_VENV/bin/checkov" ]; then
    echo "== installing checkov $CHECKOV_VERSION into $CHECKOV_VENV"
    "$PYTHON" -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/pip" install -q "checkov==$CHECKOV_VERSION"
fi
echo "== checkov $("$CHECKOV_VENV/bin/checkov" --version): $TEMPLATE"
# --skip-download: no call to Prisma Cloud (offline; findings are the same, without doc links).
"$CHECKOV_VENV/bin/checkov" -f "$TEMPLATE" --framework cloudformation --compact --quiet \
    --skip-download
echo "== security scan clean"
