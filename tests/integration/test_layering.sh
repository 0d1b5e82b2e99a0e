#!/usr/bin/env bash
# The floors of docs/architecture.md, enforced: shm ← wire ← daemon, control ← daemon, and
# nothing points back up. Two checks: the built libraries reference no ZeroMQ, czmq or cJSON
# symbol (nm -u), and no source file includes a header of a floor above its own.
set -u
root="${EZSHM_SOURCE_DIR:?EZSHM_SOURCE_DIR must name the source folder}"
build="${EZSHM_BUILD_DIR:?EZSHM_BUILD_DIR must name the build folder}"
pass=0 fail=0
check() { if [ -z "$2" ]; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1:"; echo "$2" | sed 's/^/     /'; fail=$((fail + 1)); fi; }

# Undefined symbols of a library that belong to ZeroMQ, czmq or cJSON.
foreign_symbols() { nm -u "$1" 2>/dev/null | awk '{print $NF}' | grep -E '^(zmq_|zsock_|zactor_|zstr_|zframe_|zmsg_|cJSON)' | sort -u; }

for lib in "$build/lib/libezshm_wire.a" "$build/lib/libezshm.so" "$build/lib/libezshm_console.a"; do
    if [ -f "$lib" ]; then
        check "$(basename "$lib") references no ZeroMQ, czmq or cJSON symbol" "$(foreign_symbols "$lib")"
    else
        check "$(basename "$lib") is built" "missing: $lib"
    fi
done

# Header basenames of a folder (not recursive unless asked).
headers_of() { find "$@" -name '*.h' -printf '%f\n' | sort -u; }
# Lines of the C files under folder $1 that include one of the names in $2 (one per line)
# or a system header matching the regex $3.
includes_of() {
    local dir="$1" names="$2" system="$3"
    # One awk over grep's output: a fork per include line made this check take a minute.
    grep -rnE '^[[:space:]]*#[[:space:]]*include' --include='*.c' --include='*.h' "$dir" |
        awk -v names="$names" -v sysre="$system" -v root="$root/" '
            BEGIN { n = split(names, list, "\n"); for (i = 1; i <= n; i++) if (list[i] != "") want[list[i]] = 1 }
            {
                if (!match($0, /#[[:space:]]*include[[:space:]]*[<"][^>"]+[>"]/)) next
                target = substr($0, RSTART, RLENGTH); sub(/^#[[:space:]]*include[[:space:]]*[<"]/, "", target)
                sub(/[>"]$/, "", target)
                base = target; sub(/.*\//, "", base)
                if ((base in want) || (sysre != "" && target ~ sysre)) {
                    line = $0; if (index(line, root) == 1) line = substr(line, length(root) + 1)
                    print line
                }
            }'
}

messaging='^(zmq|czmq|zmq_utils)\.h$|^cjson/|^cJSON\.h$'
control_headers=$(headers_of "$root/control")
service_headers=$(headers_of "$root/service")      # daemon, wire/ and pub/
daemon_headers=$(headers_of "$root/service" -maxdepth 1; headers_of "$root/service/pub")
web_headers=$(headers_of "$root/web")

# The scanner itself: service/ does include control/ headers (settings.h) and czmq.h, so a
# scan that finds neither there is broken, and its silence below would prove nothing.
seen=""
[ -n "$(includes_of "$root/service" "$control_headers" "")" ] || seen="no control/ header found in service/"
[ -n "$(includes_of "$root/service" "" "$messaging")" ] || seen="$seen${seen:+; }no ZeroMQ header found in service/"
check "the include scan sees service/'s includes of control/ and czmq.h" "$seen"

check "shm/ includes no ZeroMQ, czmq, cJSON, control/ or service/ header" \
    "$(includes_of "$root/shm" "$control_headers"$'\n'"$service_headers" "$messaging")"
check "control/ includes no service/ header" "$(includes_of "$root/control" "$service_headers" "")"
check "web/console/ (but session/, the protocol) includes no ZeroMQ, czmq, cJSON, control/ or service/ header" \
    "$(includes_of "$root/web/console" "$control_headers"$'\n'"$service_headers" "$messaging" | grep -v '^web/console/session/')"
check "service/wire/ includes no ZeroMQ, czmq, cJSON, control/ or daemon header" \
    "$(includes_of "$root/service/wire" "$control_headers"$'\n'"$daemon_headers" "$messaging")"

# ezshm-web is a client: it uses control/'s client side and libezshm, and nothing uses it.
[ -n "$web_headers" ] || check "web/ has headers to scan" "none found in $root/web"
check "shm/, control/ and service/ include no web/ header" \
    "$(for d in shm control service; do includes_of "$root/$d" "$web_headers" ""; done)"
check "web/ includes no service/ header nor the control server's" \
    "$(includes_of "$root/web" "$service_headers"$'\n'"control_server.h" "")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
