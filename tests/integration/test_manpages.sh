#!/usr/bin/env bash
# test_manpages.sh — the manual pages in docs/man/ render cleanly and cannot drift from the code.
#
# For each page:
#   * groff -man -ww -z (all warnings) prints nothing and succeeds; lexgrog, when installed,
#     can parse its NAME section (what mandb/apropos need);
#   * every long option (--xxx) and every EZSHM_* variable that the program's --help prints
#     has an entry of its own in the page (a .TP tag naming it) and appears in the rendered
#     text as a whole word;
#   * every option the page documents as an entry (a .TP tag starting with \-\-) is in the
#     program's --help, or (--help, --version) is accepted by the program with exit 0.
# Env: EZSHM_BIN (the build's bin/ directory; default build/bin), EZSHM_SOURCE_DIR.
# Prints one line per check and "N passed, N failed"; exits 1 on any failure.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
src="${EZSHM_SOURCE_DIR:-$here/../..}"
bin="${EZSHM_BIN:-$src/build/bin}"
mandir="$src/docs/man"

if ! command -v groff >/dev/null 2>&1; then
    echo "test_manpages: groff is not installed (Debian: apt-get install groff-base); cannot check the man pages"
    exit 1
fi

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# page program
pages="ezshmd.8:ezshmd ezshm-ctl.1:ezshm-ctl ezshm-pub.1:ezshm-pub ezshm-mirror.1:ezshm-mirror ezshm-web.1:ezshm-web"

for entry in $pages; do
    page="${entry%%:*}"
    prog="${entry#*:}"
    file="$mandir/$page"
    if [ ! -f "$file" ]; then
        fail "$page: missing ($file)"
        continue
    fi

    # 1. Renders without warnings.
    if groff -man -ww -z "$file" >"$work/groff.out" 2>&1 && [ ! -s "$work/groff.out" ]; then
        ok "$page: groff -man -ww -z is silent"
    else
        fail "$page: groff -man -ww -z reports:"
        sed 's/^/       /' "$work/groff.out"
    fi
    if command -v lexgrog >/dev/null 2>&1; then
        if lexgrog "$file" >"$work/lexgrog.out" 2>&1 && grep -q " - " "$work/lexgrog.out"; then
            ok "$page: lexgrog parses the NAME section"
        else
            fail "$page: lexgrog cannot parse the NAME section: $(cat "$work/lexgrog.out")"
        fi
    fi

    # The page as text: wide lines, no hyphenation, no overstriking, so words stay whole.
    groff -man -Tascii -P-cbou -rLL=400n -rHY=0 "$file" 2>/dev/null >"$work/page.txt"

    exe="$bin/$prog"
    if [ ! -x "$exe" ]; then
        fail "$page: program $exe not found (set EZSHM_BIN to the build's bin/)"
        continue
    fi
    "$exe" --help >"$work/help.txt" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] || [ ! -s "$work/help.txt" ]; then
        fail "$page: $prog --help exited $rc or printed nothing"
        continue
    fi

    # The options and variables the page has entries for: the line after each .TP, with
    # \- as - and font escapes removed.
    grep -A1 -E '^\.TP' "$file" | grep -vE '^(\.TP|--)$' \
        | sed -E 's/\\-/-/g; s/\\f(\[[A-Z]*\]|.)//g' \
        | grep -oE -- '--[a-z][a-z0-9-]*[a-z0-9]|EZSHM_[A-Z0-9_]*[A-Z0-9]' | sort -u >"$work/tags.txt"

    # 2. Every long option and EZSHM_* variable of --help has an entry and is in the text.
    missing=""
    count=0
    for word in $(grep -oE -- '--[a-z][a-z0-9-]*[a-z0-9]|EZSHM_[A-Z0-9_]*[A-Z0-9]' "$work/help.txt" | sort -u); do
        count=$((count + 1))
        if ! grep -qxF -- "$word" "$work/tags.txt" \
           || ! grep -qE -- "(^|[^A-Za-z0-9_-])${word}([^A-Za-z0-9_-]|\$)" "$work/page.txt"; then
            missing="$missing $word"
        fi
    done
    if [ "$count" -eq 0 ]; then
        fail "$page: found no options in $prog --help"
    elif [ -z "$missing" ]; then
        ok "$page: all $count options/variables of $prog --help are documented"
    else
        fail "$page: in $prog --help but without an entry in the page:$missing"
    fi

    # 3. Every option the page documents as an entry exists in the program.
    extra=""
    documented=0
    for word in $(grep -E -- '^--' "$work/tags.txt"); do
        documented=$((documented + 1))
        if grep -qE -- "(^|[^A-Za-z0-9_-])${word}([^A-Za-z0-9_-]|\$)" "$work/help.txt"; then
            continue
        fi
        case "$word" in
            --help|--version)
                if ! "$exe" "$word" >/dev/null 2>&1; then extra="$extra $word"; fi ;;
            *)  extra="$extra $word" ;;
        esac
    done
    if [ -z "$extra" ]; then
        ok "$page: all $documented documented options exist in $prog"
    else
        fail "$page: documented but unknown to $prog:$extra"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
