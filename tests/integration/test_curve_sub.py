"""CURVE on the SUB side: ezshm-pub as a CURVE server (certificate from ezshm-ctl keygen);
ezshmd ingests only with the publisher's public key, and gets nothing with a wrong key or
none (the handshake fails, nothing is decrypted)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import Results, Session, get_status  # noqa: E402


def keygen(s, path):
    r = s.run("ezshm-ctl", "keygen", path)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def ingest_with(serverkey):
    s = Session("curve")
    try:
        rig_key = keygen(s, os.path.join(s.sockdir, "rig.cert"))
        other_key = keygen(s, os.path.join(s.sockdir, "other.cert"))
        data_ep, ctl_ep = s.endpoint("tcp"), s.endpoint()
        key = {"right": rig_key, "wrong": other_key, "none": None}[serverkey]
        args = ["ezshmd", "--sub", data_ep, "--control", ctl_ep, "--shmem-name", f"curve-{serverkey}",
                "--log-level", "error"]
        if key:
            args += ["--sub-curve-serverkey", key]
        s.start(*args)
        s.wait_ready(ctl_ep)
        # Without the right key no subscription ever gets through: ezshm-pub says so (exit 3).
        wait = () if key == rig_key else ("--wait-sub", "1000")
        pub = s.start("ezshm-pub", "--bind", data_ep, "--curve-server-cert",
                      os.path.join(s.sockdir, "rig.cert_secret"), "--count", "60", "--rate", "200", "--quiet", *wait)
        assert pub.wait(timeout=30) == (0 if key == rig_key else 3)
        time.sleep(0.3)
        return get_status(s, ctl_ep)["counters"]
    finally:
        s.close()


def right_key():
    counters = ingest_with("right")
    assert counters["written"] > 0 and counters["dropped"] == 0, counters


def wrong_key():
    counters = ingest_with("wrong")
    assert counters["received"] == 0, counters


def no_key():
    counters = ingest_with("none")
    assert counters["received"] == 0, counters


def main():
    res = Results()
    res.check("SUB with the publisher's CURVE key ingests", right_key)
    res.check("SUB with another server key receives nothing", wrong_key)
    res.check("plaintext SUB against a CURVE publisher receives nothing", no_key)
    res.finish()


if __name__ == "__main__":
    main()
