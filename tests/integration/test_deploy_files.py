#!/usr/bin/env python3
"""Static checks of the deployment files under deploy/ (no Docker, no cluster, no systemd).

Run by ctest as `/usr/bin/python3 test_deploy_files.py` with EZSHM_SOURCE_DIR = repo root.
Checks cross-references that break silently at deploy time: compose service names, the IPC
sharing between ezshmd and its readers, the loopback-only control port, EZSHM_* names that
ezshmd actually reads (taken from service/config.c), k8s probes, /dev/shm volumes and
ConfigMaps, the systemd unit, and the Dockerfile's stages, user, entrypoint and healthcheck.

Prints one line per check, then "N passed, N failed"; exits 1 if any check failed.
"""
import configparser
import json
import math
import os
import re
import shlex
import sys

try:
    import yaml
except ImportError:
    print("test_deploy_files: the Python module 'yaml' is missing; install python3-yaml "
          "(apt-get install python3-yaml) and run again")
    sys.exit(1)

SRC = os.environ.get("EZSHM_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(SRC, "deploy")
COMPOSE = os.path.join(DEPLOY, "docker-compose.yml")
DOCKERFILE = os.path.join(DEPLOY, "Dockerfile")
K8S = os.path.join(DEPLOY, "k8s", "ezshm-pod.yaml")
UNIT = os.path.join(DEPLOY, "ezshmd.service")
EXAMPLE_CONFIG = os.path.join(DEPLOY, "ezshmd.json")
CONFIG_C = os.path.join(SRC, "service", "config.c")
WEB_OPTIONS_C = os.path.join(SRC, "web", "web_options.c")
WEB_UNIT = os.path.join(DEPLOY, "ezshm-web.service")
SETTINGS_C = os.path.join(SRC, "control", "settings.c")

ITEMSIZE = {"float64": 8, "float32": 4, "float16": 2, "int64": 8, "int32": 4, "int16": 2,
            "int8": 1, "uint64": 8, "uint32": 4, "uint16": 2, "uint8": 1,
            "complex64": 8, "complex128": 16}
HEADER_BYTES = 1334          # the larger of the two header layouts (v1)
ENV_NAME_RE = re.compile(r"\bEZSHM_[A-Z0-9_]+\b")

passed = 0
failed = 0


def check(name, ok, detail=""):
    """Records one check and prints one line."""
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS  {name}")
    else:
        failed += 1
        print(f"FAIL  {name}" + (f": {detail}" if detail else ""))
    return ok


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load(name, path, loader):
    """Loads a file; a missing or unparsable file is one failed check and None."""
    try:
        value = loader(path)
    except Exception as e:  # noqa: BLE001 - any failure here is the finding
        check(f"{name}: {os.path.relpath(path, SRC)} exists and parses", False, str(e))
        return None
    check(f"{name}: {os.path.relpath(path, SRC)} exists and parses", True)
    return value


def parse_size(text):
    """Docker/k8s size ("64m", "256Mi", "1g", 1048576) in bytes, or None."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(text))
    if not m:
        return None
    units = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2, "mb": 1024 ** 2,
             "g": 1024 ** 3, "gb": 1024 ** 3, "ki": 1024, "mi": 1024 ** 2, "gi": 1024 ** 3,
             "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3}
    unit = m.group(2)
    factor = units.get(unit, units.get(unit.lower()))
    return None if factor is None else int(float(m.group(1)) * factor)


def parse_mode(value):
    """shm_mode as ezshmd reads it: an integer, or a string read as octal."""
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        return None


def endpoint_host_port(endpoint):
    m = re.fullmatch(r"tcp://\[?([^\]]+?)\]?:(\d+|\*)", endpoint.strip())
    return (m.group(1), m.group(2)) if m else (None, None)


def is_address(host):
    return host in ("*", "localhost") or re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", host) is not None


def cli_flags(argv):
    """{"--fs": "1000", ...} from an argument list (flags that take one value)."""
    out = {}
    for i, a in enumerate(argv):
        if a.startswith("--"):
            if "=" in a:
                k, v = a.split("=", 1)
                out[k] = v
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                out[a] = argv[i + 1]
            else:
                out[a] = True
    return out


def as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


# ------------------------------------------------------------------ what ezshmd reads
def known_env_names():
    """The EZSHM_* names service/config.c (ezshmd) and web/web_options.c (ezshm-web) read: a
    regex that finds none is a failure, never a reason to fall back on a list that would hide it."""
    names = set()
    for path in (CONFIG_C, WEB_OPTIONS_C):
        found = set(re.findall(r'"(EZSHM_[A-Z_]+)"', read(path))) if os.path.exists(path) else set()
        check(f"{os.path.relpath(path, SRC)} names EZSHM_* variables", bool(found),
              "no \"EZSHM_...\" string literal found")
        names |= found
    return names, "service/config.c, web/web_options.c"


def known_fields():
    """The settings fields of control/settings.c's field table; none found is a failure."""
    fields = set(re.findall(r'^\s*\{\s*"([a-z_]+)",\s*K_', read(SETTINGS_C), re.M)) if os.path.exists(SETTINGS_C) else set()
    check("control/settings.c has a field table", bool(fields), "no { \"field\", K_... } entry found")
    return fields, "control/settings.c"


def known_stream_fields():
    """The per-stream fields of the field table (entries ending in ", true }"), plus "topic"."""
    text = read(SETTINGS_C) if os.path.exists(SETTINGS_C) else ""
    fields = set(re.findall(r'\{\s*"([a-z_]+)",\s*K_[^}]*?,\s*true\s*\}', text))
    check("control/settings.c marks per-stream fields", bool(fields), "no per-stream entry found")
    return fields | {"topic"}


ENV_NAMES, ENV_SOURCE = set(), ""
FIELDS, FIELDS_SOURCE = set(), ""
STREAM_FIELDS = set()


def check_env_names(label, text):
    used = sorted(set(ENV_NAME_RE.findall(text)))
    unknown = [n for n in used if n not in ENV_NAMES]
    check(f"{label}: every EZSHM_* name ({len(used)}) is read by ezshmd or ezshm-web (per {ENV_SOURCE})",
          not unknown, "unknown: " + ", ".join(unknown))


def check_config_json(label, text):
    try:
        cfg = json.loads(text)
    except ValueError as e:
        check(f"{label}: config is valid JSON", False, str(e))
        return None
    ok = check(f"{label}: config is a JSON object", isinstance(cfg, dict))
    if ok and "streams" in cfg:
        streams = cfg["streams"]
        check(f"{label}: streams is a list of objects with a topic",
              isinstance(streams, list) and all(isinstance(d, dict) and isinstance(d.get("topic"), str)
                                                for d in streams), repr(streams))
        for d in streams if isinstance(streams, list) else []:
            extra = sorted(k for k in (d if isinstance(d, dict) else {}) if k not in STREAM_FIELDS)
            check(f"{label}: stream {d.get('topic')!r} has per-stream fields only", not extra,
                  "not per-stream: " + ", ".join(extra))
        names = [d.get("shmem_name") for d in streams if isinstance(d, dict)]
        check(f"{label}: stream names are unique", len(set(names)) == len(names), repr(names))
    if ok:
        unknown = sorted(k for k in cfg if k not in FIELDS | {"streams"})
        check(f"{label}: config fields are settings fields (per {FIELDS_SOURCE})", not unknown,
              "unknown: " + ", ".join(unknown))
        if "shm_mode" in cfg:
            mode = parse_mode(cfg["shm_mode"])
            check(f"{label}: shm_mode is a valid mode", mode is not None and 0 <= mode <= 0o777,
                  repr(cfg["shm_mode"]))
            # readers need read only: group/other write would let them truncate a segment
            check(f"{label}: shm_mode gives readers no write access", mode is not None and mode & 0o022 == 0,
                  repr(cfg["shm_mode"]))
    return cfg if ok else None


# ------------------------------------------------------------------ Dockerfile
def dockerfile_instructions(text):
    """[(INSTRUCTION, args)] with comments dropped and continuations joined."""
    out, pending = [], ""
    for raw in text.splitlines():
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if pending and raw.lstrip().startswith("#"):
            continue
        line = (pending + " " + raw.strip()) if pending else raw.strip()
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        pending = ""
        parts = line.split(None, 1)
        out.append((parts[0].upper(), parts[1] if len(parts) > 1 else ""))
    return out


def exec_form(args):
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def check_dockerfile():
    text = load("Dockerfile", DOCKERFILE, read)
    if text is None:
        return {}
    ins = dockerfile_instructions(text)
    froms = [a.split()[0] for i, a in ins if i == "FROM"]
    check("Dockerfile: two FROM stages", len(froms) == 2, f"found {froms}")
    check("Dockerfile: build stage FROM debian:bookworm", froms[:1] == ["debian:bookworm"],
          f"found {froms[:1]}")
    check("Dockerfile: runtime stage FROM debian:bookworm-slim",
          froms[1:2] == ["debian:bookworm-slim"], f"found {froms[1:2]}")

    # Everything below is about the last (runtime) stage.
    last_from = max(idx for idx, (i, _) in enumerate(ins) if i == "FROM") if froms else 0
    final = ins[last_from:]

    users = [a.strip() for i, a in final if i == "USER"]
    user = users[-1] if users else ""
    m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    check("Dockerfile: USER is a numeric non-root UID", bool(m) and int(m.group(1)) != 0,
          f"USER {user!r}")

    entry = [exec_form(a) for i, a in final if i == "ENTRYPOINT"]
    entry = entry[-1] if entry else None
    check("Dockerfile: exec-form ENTRYPOINT [\"ezshmd\", ...]",
          bool(entry) and os.path.basename(entry[0]) == "ezshmd", f"ENTRYPOINT {entry}")

    hc = [a for i, a in final if i == "HEALTHCHECK"]
    hc_cmd = None
    if hc:
        m = re.search(r"\bCMD\s+(.*)$", hc[-1])
        hc_cmd = exec_form(m.group(1)) if m else None
    check("Dockerfile: HEALTHCHECK CMD [\"ezshm-ctl\", ..., \"health\"] (exec form)",
          bool(hc_cmd) and os.path.basename(hc_cmd[0]) == "ezshm-ctl" and "health" in hc_cmd,
          f"HEALTHCHECK {hc[-1] if hc else None!r}")

    stops = [a.strip() for i, a in final if i == "STOPSIGNAL"]
    check("Dockerfile: STOPSIGNAL SIGTERM", stops[-1:] == ["SIGTERM"], f"found {stops}")

    # ENV (both "ENV K=V K2=V2" and legacy "ENV K V").
    env = {}
    for i, a in final:
        if i != "ENV":
            continue
        if "=" in a.split()[0]:
            for tok in shlex.split(a):
                k, _, v = tok.partition("=")
                env[k] = v
        else:
            k, _, v = a.partition(" ")
            env[k] = v.strip()
    control = env.get("EZSHM_CONTROL", "")
    check("Dockerfile: ENV EZSHM_CONTROL binds all interfaces in the container",
          control.startswith("tcp://0.0.0.0:") or control.startswith("tcp://*:"), control)
    if hc_cmd and "--endpoint" in hc_cmd and control:
        hc_ep = hc_cmd[hc_cmd.index("--endpoint") + 1] if hc_cmd.index("--endpoint") + 1 < len(hc_cmd) else ""
        check("Dockerfile: HEALTHCHECK probes the EZSHM_CONTROL port",
              endpoint_host_port(hc_ep)[1] == endpoint_host_port(control)[1], f"{hc_ep} vs {control}")

    args = {}
    for i, a in ins:
        if i == "ARG" and "=" in a:
            k, _, v = a.partition("=")
            args[k.strip()] = v.strip().strip('"')
    runtime = args.get("RUNTIME_PACKAGES", "").split()
    check("Dockerfile: ARG RUNTIME_PACKAGES has no -dev packages",
          bool(runtime) and not any(p.endswith("-dev") for p in runtime), " ".join(runtime))
    check_env_names("Dockerfile", text)
    return env


# ------------------------------------------------------------------ docker compose
def service_env(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def port_mappings(svc):
    """[(host_ip or None, published, target)] for short and long port syntax."""
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip"), str(p.get("published", "")), str(p.get("target", ""))))
            continue
        s = str(p).split("/")[0]          # drop "/tcp"
        ip = None
        m = re.match(r"\[([^\]]+)\]:(.*)", s)   # [::1]:5560:5560
        if m:
            ip, s = m.group(1), m.group(2)
        parts = s.split(":")
        if ip is None and len(parts) == 3:
            ip = parts.pop(0)
        target = parts[-1]
        published = parts[0] if len(parts) == 2 else ""
        out.append((ip, published, target))
    return out


def user_ids(user):
    m = re.fullmatch(r"(\d+)(?::(\d+))?", str(user or ""))
    return (int(m.group(1)), int(m.group(2)) if m.group(2) else None) if m else (None, None)


def check_compose(image_env):
    text = load("compose", COMPOSE, read)
    if text is None:
        return
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        check("compose: YAML parses", False, str(e))
        return
    services = (doc or {}).get("services") or {}
    for name in ("rig", "ezshmd", "viewer", "ezshm-web"):
        check(f"compose: service {name!r} exists", name in services)
    check_compose_web(services)

    # Cross-references.
    for name, svc in services.items():
        ipc = str(svc.get("ipc", ""))
        if ipc.startswith("service:"):
            target = ipc.split(":", 1)[1]
            check(f"compose: {name}: ipc {ipc!r} names an existing service", target in services)
            if target in services:
                check(f"compose: {name}: ipc target {target!r} is ipc: shareable",
                      services[target].get("ipc") == "shareable")
        deps = svc.get("depends_on") or []
        for dep in (deps if isinstance(deps, list) else list(deps)):
            check(f"compose: {name}: depends_on {dep!r} exists", dep in services)
        env = service_env(svc)
        for ep in filter(None, (e.strip() for e in env.get("EZSHM_SUB", "").split(","))):
            host, port = endpoint_host_port(ep)
            ok = host is not None and (is_address(host) or host in services)
            check(f"compose: {name}: EZSHM_SUB {ep} host is a service or an address", ok)
            if host in services:
                bind = cli_flags(as_list(services[host].get("command"))).get("--bind", "")
                check(f"compose: {name}: EZSHM_SUB {ep} port matches {host}'s --bind {bind}",
                      endpoint_host_port(str(bind))[1] == port)

    ezshmd = services.get("ezshmd") or {}
    viewer = services.get("viewer") or {}
    env = service_env(ezshmd)
    check("compose: ezshmd has ipc: shareable", ezshmd.get("ipc") == "shareable")
    shm = parse_size(ezshmd.get("shm_size", "")) if ezshmd.get("shm_size") is not None else None
    check("compose: ezshmd has shm_size", shm is not None, repr(ezshmd.get("shm_size")))
    check("compose: viewer shares ezshmd's IPC (ipc: service:ezshmd)",
          viewer.get("ipc") == "service:ezshmd", repr(viewer.get("ipc")))
    deps = viewer.get("depends_on") or {}
    cond = deps.get("ezshmd", {}).get("condition") if isinstance(deps, dict) else None
    check("compose: viewer depends_on ezshmd: service_healthy", cond == "service_healthy", repr(cond))
    check("compose: viewer has tty: true", viewer.get("tty") is True)
    viewer_cmd = as_list(viewer.get("entrypoint")) + as_list(viewer.get("command"))
    # The streams: EZSHM_STREAMS (TOPIC=NAME, comma-separated), else the one EZSHM_SHMEM_NAME
    # taking every topic.
    streams = dict(reversed(item.rsplit("=", 1)) for item in env.get("EZSHM_STREAMS", "").split(",") if "=" in item)
    if not streams and env.get("EZSHM_SHMEM_NAME"):
        streams = {env["EZSHM_SHMEM_NAME"]: None}
    watched = viewer_cmd[viewer_cmd.index("--watch") + 1:] if "--watch" in viewer_cmd else []
    check("compose: viewer watches every stream", bool(streams) and sorted(watched) == sorted(streams),
          f"{viewer_cmd} vs {sorted(streams)}")

    # Stream sizes vs shm_size: 2 rings each (the old one kept alive by readers) + headers.
    rigs = {name: svc for name, svc in services.items()
            if os.path.basename((as_list(svc.get("entrypoint")) or [""])[0]) == "ezshm-pub"}
    rings = {}
    for rname, svc in rigs.items():
        flags = cli_flags(as_list(svc.get("command")))
        try:
            fs, ch = float(flags["--fs"]), int(flags["--channels"])
            itemsize = ITEMSIZE[flags.get("--dtype", "float64")]
        except (KeyError, ValueError) as e:
            check(f"compose: {rname} command gives --fs, --channels, --dtype", False, str(e))
            continue
        stream = next((n for n, t in streams.items() if t in (None, flags.get("--topic", "ezshm"))), None)
        check(f"compose: {rname}'s topic {flags.get('--topic')!r} goes to a stream", stream is not None)
        if stream is not None:
            rings[stream] = math.ceil(float(env.get("EZSHM_BUF_DUR", "1")) * fs) * ch * itemsize
    total = sum(rings.values())
    need = 2 * total + len(streams) * HEADER_BYTES
    check(f"compose: shm_size {shm} B >= 2 x rings ({total} B) + headers", shm is not None and shm >= need)
    if "EZSHM_MAX_BUFFER_BYTES" in env and shm is not None:
        mbb = int(env["EZSHM_MAX_BUFFER_BYTES"])
        check("compose: all rings fit EZSHM_MAX_BUFFER_BYTES (a total)", total <= mbb, f"{total} > {mbb}")
        check("compose: 2 x EZSHM_MAX_BUFFER_BYTES + headers fits shm_size",
              2 * mbb + len(streams) * HEADER_BYTES <= shm, f"{mbb} vs {shm}")

    # Control port: published, and on the host's loopback only.
    control = env.get("EZSHM_CONTROL") or image_env.get("EZSHM_CONTROL", "")
    cport = endpoint_host_port(control)[1] or "5560"
    maps = [m for m in port_mappings(ezshmd) if m[2] == cport]
    check(f"compose: ezshmd publishes the control port {cport}", bool(maps))
    check("compose: control port bound to 127.0.0.1 only",
          bool(maps) and all(m[0] == "127.0.0.1" for m in maps), f"{maps}")
    for sname, svc in services.items():
        for m in port_mappings(svc):
            if m[2] == cport and sname != "ezshmd":
                check(f"compose: {sname} does not publish the control port", False)

    # Segments readable by the viewer: same group, different user, group-read mode.
    mode = parse_mode(env.get("EZSHM_SHM_MODE", image_env.get("EZSHM_SHM_MODE", "0600")))
    w_uid, w_gid = user_ids(ezshmd.get("user", "10001:10001"))
    r_uid, r_gid = user_ids(viewer.get("user"))
    check("compose: viewer runs as another UID in ezshmd's group",
          None not in (w_uid, w_gid, r_uid, r_gid) and r_uid != w_uid and r_gid == w_gid,
          f"ezshmd {ezshmd.get('user')!r}, viewer {viewer.get('user')!r}")
    check("compose: EZSHM_SHM_MODE lets the group read", mode is not None and mode & 0o040 != 0,
          repr(env.get("EZSHM_SHM_MODE")))
    check("compose: EZSHM_SHM_MODE gives the group no write access", mode is not None and mode & 0o022 == 0,
          repr(env.get("EZSHM_SHM_MODE")))

    # The image's HEALTHCHECK probes ezshmd's control port: other services must disable it.
    for sname, svc in services.items():
        cmd = as_list(svc.get("entrypoint"))
        if cmd and os.path.basename(cmd[0]) != "ezshmd":
            hc = svc.get("healthcheck") or {}
            check(f"compose: {sname} ({cmd[0]}) disables the image's ezshmd HEALTHCHECK",
                  hc.get("disable") is True or hc.get("test") not in (None, []))
    check_env_names("compose", text)


def check_compose_web(services):
    """ezshm-web beside ezshmd: its control endpoint is ezshmd's, it joins ezshmd's IPC, its
    port is published on the host's loopback only, its healthcheck asks /healthz."""
    web = services.get("ezshm-web") or {}
    if not web:
        return
    argv = as_list(web.get("entrypoint")) + as_list(web.get("command"))
    flags = cli_flags(argv)
    ezshmd_env = service_env(services.get("ezshmd") or {})
    _, cport = endpoint_host_port(ezshmd_env.get("EZSHM_CONTROL", "tcp://127.0.0.1:5560"))
    host, port = endpoint_host_port(flags.get("--control", ""))
    check("compose: ezshm-web --control is ezshmd's control port", host == "ezshmd" and port == cport,
          repr(flags.get("--control")))
    check("compose: ezshm-web shares ezshmd's IPC (ipc: service:ezshmd)", web.get("ipc") == "service:ezshmd")
    listen = str(flags.get("--listen", ""))
    lport = listen.rsplit(":", 1)[-1]
    maps = [m for m in port_mappings(web) if str(m[2]) == lport]
    check(f"compose: ezshm-web's port {lport} published on 127.0.0.1 only",
          bool(maps) and all(m[0] == "127.0.0.1" for m in maps), repr(web.get("ports")))
    test = " ".join(as_list((web.get("healthcheck") or {}).get("test")))
    check("compose: ezshm-web's healthcheck asks /healthz on its port",
          "/healthz" in test and f"/{lport}" in test, test)
    check("compose: ezshm-web is read only (no --allow-control without a token)",
          "--allow-control" not in argv or "--token-file" in argv, " ".join(argv))


# ------------------------------------------------------------------ Kubernetes
def pod_specs(doc):
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return [spec]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return [(spec.get("template") or {}).get("spec") or {}]
    if kind == "CronJob":
        return [((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {})
                 .get("spec") or {})]
    return []


def probe_is_health(probe):
    cmd = ((probe or {}).get("exec") or {}).get("command") or []
    return bool(cmd) and os.path.basename(str(cmd[0])) == "ezshm-ctl" and "health" in cmd


def check_k8s(image_env):
    text = load("k8s", K8S, read)
    if text is None:
        return
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as e:
        check("k8s: YAML parses", False, str(e))
        return
    for n, d in enumerate(docs):
        meta = d.get("metadata") or {}
        check(f"k8s: document {n + 1} has kind and metadata.name",
              bool(d.get("kind")) and bool(meta.get("name")), f"{d.get('kind')}/{meta.get('name')}")
    configmaps = {d["metadata"]["name"]: d for d in docs
                  if d.get("kind") == "ConfigMap" and (d.get("metadata") or {}).get("name")}
    pods = [(d, s) for d in docs for s in pod_specs(d)]
    check("k8s: a workload with a pod spec", bool(pods))

    for doc, spec in pods:
        wl = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        containers = spec.get("containers") or []
        check(f"k8s: {wl}: has containers", bool(containers))
        sc = spec.get("securityContext") or {}
        check(f"k8s: {wl}: pod securityContext runAsNonRoot with fixed uid/gid and fsGroup",
              sc.get("runAsNonRoot") is True
              and all(isinstance(sc.get(k), int) and sc.get(k) > 0
                      for k in ("runAsUser", "runAsGroup", "fsGroup")), f"{sc}")

        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        shm_vols = {n for n, v in volumes.items()
                    if (v.get("emptyDir") or {}).get("medium") == "Memory"}
        for n in shm_vols:
            check(f"k8s: {wl}: emptyDir {n!r} (Memory) has a sizeLimit",
                  parse_size((volumes[n]["emptyDir"]).get("sizeLimit", "x")) is not None)
        for n, v in volumes.items():
            if "configMap" in v:
                ref = (v["configMap"] or {}).get("name")
                check(f"k8s: {wl}: volume {n!r} references ConfigMap {ref!r} defined here",
                      ref in configmaps)

        ezshmd_seen = web_seen = False
        for c in containers:
            cname = c.get("name", "?")
            check(f"k8s: {wl}: container {cname!r} has an image", bool(c.get("image")))
            mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
            check(f"k8s: {wl}: {cname}: Memory emptyDir with sizeLimit mounted at /dev/shm",
                  mounts.get("/dev/shm") in shm_vols, f"/dev/shm <- {mounts.get('/dev/shm')!r}")
            check(f"k8s: {wl}: {cname}: runs as non-root",
                  (c.get("securityContext") or {}).get("runAsUser", sc.get("runAsUser", 0)) != 0)
            check_env_names(f"k8s: {cname} env", " ".join(e.get("name", "") for e in c.get("env") or []))

            argv = as_list(c.get("command")) + as_list(c.get("args"))
            if argv[:1] and os.path.basename(argv[0]) == "ezshm-web":
                web_seen = True
                check_k8s_web(wl, doc, c, argv)
            is_ezshmd = cname == "ezshmd" or (argv[:1] and os.path.basename(argv[0]) == "ezshmd")
            if not is_ezshmd:
                continue
            ezshmd_seen = True
            check(f"k8s: {wl}: {cname}: readinessProbe exec ezshm-ctl health",
                  probe_is_health(c.get("readinessProbe")))
            check(f"k8s: {wl}: {cname}: livenessProbe exec ezshm-ctl health",
                  probe_is_health(c.get("livenessProbe")))
            flags = cli_flags(argv)
            path = flags.get("--config")
            if not check(f"k8s: {wl}: {cname}: passes --config FILE", isinstance(path, str)):
                continue
            # The file must come from a ConfigMap volume that has that key.
            src = None
            for mpath, vname in mounts.items():
                vol = volumes.get(vname) or {}
                if "configMap" in vol and path.startswith(mpath.rstrip("/") + "/"):
                    cm = configmaps.get((vol["configMap"] or {}).get("name")) or {}
                    key = path[len(mpath.rstrip("/")) + 1:]
                    src = (cm.get("data") or {}).get(key)
            if not check(f"k8s: {wl}: {cname}: --config {path} is a key of a mounted ConfigMap",
                         src is not None):
                continue
            cfg = check_config_json(f"k8s: ConfigMap {os.path.basename(path)}", src)
            if cfg is None:
                continue
            # Environment beats the config file: an image ENV default for a field the
            # ConfigMap sets must be overridden to the same value, or the file is ignored.
            env = {e.get("name"): str(e.get("value", "")) for e in c.get("env") or []}
            for ename, evalue in image_env.items():
                field = ename[len("EZSHM_"):].lower() if ename.startswith("EZSHM_") else None
                if field not in cfg:
                    continue
                want = cfg[field]
                have = env.get(ename, evalue)
                same = (parse_mode(want) == parse_mode(have)) if field == "shm_mode" else str(want) == have
                check(f"k8s: {wl}: {cname}: image ENV {ename} does not shadow ConfigMap {field}",
                      same, f"effective {have!r}, ConfigMap {want!r}")
            if "control" in cfg:
                host, port = endpoint_host_port(env.get("EZSHM_CONTROL", cfg["control"]))
                for kind in ("readinessProbe", "livenessProbe"):
                    cmd = ((c.get(kind) or {}).get("exec") or {}).get("command") or []
                    if "--endpoint" in cmd and cmd.index("--endpoint") + 1 < len(cmd):
                        check(f"k8s: {wl}: {cname}: {kind} endpoint matches control",
                              endpoint_host_port(cmd[cmd.index("--endpoint") + 1])[1] == port)
        check(f"k8s: {wl}: has an ezshmd container", ezshmd_seen)
        check(f"k8s: {wl}: has an ezshm-web container", web_seen)
    check_env_names("k8s", text)


def check_k8s_web(wl, doc, c, argv):
    """ezshm-web's httpGet probes and the scrape annotations point at the port it listens on."""
    flags = cli_flags(argv)
    lport = str(flags.get("--listen", "127.0.0.1:8080")).rsplit(":", 1)[-1]
    named = {str(p.get("name")): str(p.get("containerPort")) for p in c.get("ports") or []}
    check(f"k8s: {wl}: ezshm-web declares containerPort {lport}", lport in named.values(), repr(named))
    check(f"k8s: {wl}: ezshm-web listens beyond loopback (probes come from kubelet) with a token or "
          "--insecure-no-token", not str(flags.get("--listen", "")).startswith("127.")
          and ("--insecure-no-token" in argv or "--token-file" in argv))
    for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = (c.get(kind) or {}).get("httpGet") or {}
        port = str(get.get("port"))
        check(f"k8s: {wl}: ezshm-web {kind} httpGet {path} on its port",
              get.get("path") == path and named.get(port, port) == lport, repr(get))
    ann = ((((doc.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations") or {})
    check(f"k8s: {wl}: scrape annotations name ezshm-web's port and /metrics",
          ann.get("prometheus.io/scrape") == "true" and str(ann.get("prometheus.io/port")) == lport
          and ann.get("prometheus.io/path", "/metrics") == "/metrics", repr(ann))


# ------------------------------------------------------------------ systemd
def check_unit():
    def parse(path):
        cp = configparser.ConfigParser(strict=False, interpolation=None,
                                       delimiters=("=",), comment_prefixes=("#", ";"))
        cp.optionxform = str
        with open(path, encoding="utf-8") as f:
            cp.read_file(f)
        return cp

    unit = load("systemd", UNIT, parse)
    if unit is None:
        return
    svc = unit["Service"] if unit.has_section("Service") else {}
    get = lambda k: svc.get(k, "") if svc else ""  # noqa: E731
    exec_start = shlex.split(get("ExecStart"))
    check("systemd: ExecStart=/usr/local/bin/ezshmd --config /etc/ezshm/ezshmd.json",
          exec_start[:1] == ["/usr/local/bin/ezshmd"] and cli_flags(exec_start).get("--config")
          == "/etc/ezshm/ezshmd.json", get("ExecStart"))
    check("systemd: ExecReload sends SIGHUP to $MAINPID",
          re.fullmatch(r"\S*kill\s+-(HUP|SIGHUP|s\s+HUP)\s+\$MAINPID", get("ExecReload").strip()) is not None,
          get("ExecReload"))
    check("systemd: Restart=on-failure", get("Restart") == "on-failure", get("Restart"))
    check("systemd: ReadWritePaths includes /dev/shm", "/dev/shm" in get("ReadWritePaths").split(),
          get("ReadWritePaths"))
    check("systemd: Type=simple or notify", get("Type") in ("simple", "notify"), get("Type"))
    check("systemd: dedicated non-root User", get("User") not in ("", "root", "0"), get("User"))
    check("systemd: DynamicUser is off", get("DynamicUser") in ("", "no", "false", "0"), get("DynamicUser"))
    check("systemd: NoNewPrivileges=yes", get("NoNewPrivileges") in ("yes", "true", "1"))
    check("systemd: ProtectSystem=strict", get("ProtectSystem") == "strict", get("ProtectSystem"))
    fams = get("RestrictAddressFamilies").split()
    check("systemd: RestrictAddressFamilies allows AF_UNIX AF_INET AF_INET6",
          {"AF_UNIX", "AF_INET", "AF_INET6"} <= set(fams), " ".join(fams))
    # libzmq resolves a literal bind address via getifaddrs() (netlink) and aborts without it.
    check("systemd: RestrictAddressFamilies allows AF_NETLINK (libzmq bind)",
          not fams or "AF_NETLINK" in fams, " ".join(fams))
    check("systemd: PrivateIPC is not enabled", get("PrivateIPC") in ("", "no", "false", "0"))
    check_env_names("systemd unit", read(UNIT))

    web = load("systemd ezshm-web", WEB_UNIT, parse)
    if web is not None:
        wsvc = web["Service"] if web.has_section("Service") else {}
        wget = lambda k: wsvc.get(k, "") if wsvc else ""  # noqa: E731
        argv = shlex.split(wget("ExecStart"))
        check("systemd: ezshm-web ExecStart=/usr/local/bin/ezshm-web --control (ezshmd's default endpoint)",
              argv[:1] == ["/usr/local/bin/ezshm-web"] and cli_flags(argv).get("--control") == "tcp://127.0.0.1:5560",
              wget("ExecStart"))
        check("systemd: ezshm-web listens on loopback unless configured",
              "--listen" not in argv and "--insecure-no-token" not in argv, wget("ExecStart"))
        check("systemd: ezshm-web runs after ezshmd.service", "ezshmd.service" in web["Unit"].get("After", ""))
        check("systemd: ezshm-web dedicated non-root User, NoNewPrivileges",
              wget("User") not in ("", "root", "0") and wget("NoNewPrivileges") == "yes")
        check("systemd: ezshm-web RestrictAddressFamilies has AF_INET and AF_NETLINK",
              {"AF_INET", "AF_NETLINK"} <= set(wget("RestrictAddressFamilies").split()))
        check_env_names("systemd ezshm-web unit", read(WEB_UNIT))

    cfg_text = load("example config", EXAMPLE_CONFIG, read)
    if cfg_text is not None:
        check_config_json("deploy/ezshmd.json", cfg_text)


def check_rootfs():
    """deploy/debian-rootfs.sh names no mirror host: it takes the one this machine's APT uses
    (one-line and deb822 sources, options, disabled stanzas, deb-src and other suites
    skipped), EZSHM_DEBIAN_MIRROR overriding, and says so when there is none. Nothing under
    deploy/ names a Debian host either."""
    import subprocess
    import tempfile
    hosts = []
    for folder, _, files in os.walk(DEPLOY):
        for name in files:
            text = open(os.path.join(folder, name), encoding="utf-8", errors="replace").read()
            hosts += [f"{name}: {h}" for h in re.findall(r"[\w.-]*debian\.(?:org|net)\b", text)]
    check("deploy/: no Debian mirror host named (the machine's own APT sources are used)", not hosts,
          ", ".join(hosts))
    script = os.path.join(DEPLOY, "debian-rootfs.sh")
    with tempfile.TemporaryDirectory() as etc:
        os.makedirs(os.path.join(etc, "sources.list.d"))
        with open(os.path.join(etc, "sources.list.d", "site.sources"), "w") as f:
            f.write("Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
                    "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
                    "# the archive\nTypes: deb\nURIs: http://site.example/debian\n"
                    "Suites: bookworm bookworm-updates\nComponents: main\n")
        with open(os.path.join(etc, "sources.list"), "w") as f:
            f.write("deb [arch=amd64 signed-by=/k.gpg] https://other.example/apt cloud-sdk main\n"
                    "deb http://sec.example/debian-security bookworm-security main  # security\n")

        def mirrors(**env):
            r = subprocess.run(["bash", script, "--mirrors"], capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, EZSHM_APT_ETC=etc, **env))
            return r.returncode, r.stdout.split("\n"), r.stderr
        rc, out, err = mirrors()
        check("debian-rootfs.sh --mirrors: the mirror and security URIs of this machine's APT sources",
              rc == 0 and out[:2] == ["mirror http://site.example/debian", "security http://sec.example/debian-security"],
              f"{rc} {out} {err}")
        rc, out, err = mirrors(EZSHM_DEBIAN_MIRROR="http://env.example/debian")
        check("debian-rootfs.sh --mirrors: EZSHM_DEBIAN_MIRROR overrides",
              rc == 0 and out[0] == "mirror http://env.example/debian", f"{rc} {out} {err}")
        for f in ("sources.list", os.path.join("sources.list.d", "site.sources")):
            os.remove(os.path.join(etc, f))
        rc, out, err = mirrors()
        check("debian-rootfs.sh --mirrors: no APT source, no default: exit 2, says which variable to set",
              rc == 2 and "EZSHM_DEBIAN_MIRROR" in err, f"{rc} {out} {err}")


def main():
    global ENV_NAMES, ENV_SOURCE, FIELDS, FIELDS_SOURCE, STREAM_FIELDS
    print(f"source: {SRC}")
    ENV_NAMES, ENV_SOURCE = known_env_names()
    FIELDS, FIELDS_SOURCE = known_fields()
    STREAM_FIELDS = known_stream_fields()
    image_env = check_dockerfile()
    check_compose(image_env)
    check_k8s(image_env)
    check_unit()
    check_rootfs()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
