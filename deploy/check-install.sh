#!/usr/bin/env bash
# Intake as a user installs it: build the wheel, install it into a fresh virtual
# environment outside the checkout, and use it from a folder that has no checkout in
# sight: export the texts, check a configuration, run the demo, compile its meeting.
# Needs Dovecot (the demo's throwaway mailbox) and network access to PyPI.
#   deploy/check-install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)
python=${PYTHON:-python3}
work=$(mktemp -d /tmp/intake-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"   # the demo's Dovecot runs as its own user and must reach its folder

say() { echo "check-install: $*"; }
fail() { echo "check-install: FAILED: $*" >&2; exit 1; }

say "building the wheel"
"$python" -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install -q --upgrade pip build
"$work/build-env/bin/python" -m build --wheel --outdir "$work/dist" "$checkout" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; fail "the wheel does not build"; }
wheel=$(ls "$work"/dist/intake-*.whl)

say "installing $(basename "$wheel") into a fresh virtual environment"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$wheel" || fail "the wheel does not install"
intake="$work/venv/bin/intake"

mkdir "$work/site"
cd "$work/site"   # no checkout here: nothing may be found through one
[ ! -e config ] || fail "the test folder is not empty"

say "intake texts export"
"$intake" texts export texts
[ -f texts/templates/en/acknowledgement.txt ] || fail "texts export wrote no reply templates"
[ -f texts/compilation/en/letter.toml ] || fail "texts export wrote no compilation texts"

say "intake config check (the example configuration)"
"$intake" --config texts/intake.example.toml config check
say "intake config check --config after the command"
"$intake" config check --config texts/intake.example.toml

say "intake demo"
"$intake" demo --keep demo >demo.log 2>&1 || { tail -n 30 demo.log >&2; fail "intake demo"; }
grep -q "Reference of this" demo.log || fail "the demo printed no reply"

say "intake compile"
"$intake" compile PKO-SAFETY --config demo/intake.toml --out compilation.docx
[ -s compilation.docx ] || fail "intake compile wrote nothing"

say "missing templates are a configuration error (exit 2)"
mkdir -p broken/templates/en
cp texts/intake.example.toml broken/intake.toml
printf 'Subject: {{ unclosed\n' >broken/templates/en/acknowledgement.txt
set +e
"$intake" config check --config broken/intake.toml 2>err.txt
code=$?
set -e
[ "$code" = 2 ] || fail "a broken template gave exit $code, not 2: $(cat err.txt)"
[ "$(wc -l <err.txt)" = 1 ] || fail "a broken template gave more than one line: $(cat err.txt)"

say "OK: the installed package works outside the checkout"
