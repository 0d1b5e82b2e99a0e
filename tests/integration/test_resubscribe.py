"""A bind removed at run time really stops listening, also for a wildcard port
("tcp://127.0.0.1:*", which libzmq records under the port it picked): status shows the
resolved endpoint, a TCP connect succeeds before `set sub_bind=[]` and is refused after; and a
bind to an address in use is refused with the old subscription kept."""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from ezshm_harness import Results, Session, get_status, wait_until  # noqa: E402


def port_open(port):
    with socket.socket() as c:
        c.settimeout(1.0)
        return c.connect_ex(("127.0.0.1", port)) == 0


def wildcard_unbind():
    s = Session("resub")
    try:
        ctl = s.endpoint()
        s.start("ezshmd", "--sub-bind", "tcp://127.0.0.1:*", "--control", ctl, "--shmem-name", "resub",
                "--log-level", "error")
        s.wait_ready(ctl)
        subs = get_status(s, ctl)["subscriptions"]
        assert subs["bind"] == ["tcp://127.0.0.1:*"], subs
        resolved = subs["bound_endpoints"]
        assert len(resolved) == 1 and resolved[0].startswith("tcp://127.0.0.1:"), resolved
        port = int(resolved[0].rsplit(":", 1)[1])
        assert port_open(port), "bound port does not accept connections"
        rc, reply = s.ctl(ctl, "set", "sub_bind=[]")
        assert rc == 0 and reply["applied"] == ["resubscribed"], reply
        assert get_status(s, ctl)["subscriptions"]["bound_endpoints"] == []
        wait_until(lambda: not port_open(port), what="the unbound port to close")
    finally:
        s.close()


def bind_in_use_keeps_old():
    s = Session("resub")
    try:
        ctl = s.endpoint()
        first = s.endpoint()
        s.start("ezshmd", "--sub-bind", first, "--control", ctl, "--shmem-name", "resub2", "--log-level", "error")
        s.wait_ready(ctl)
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            rc, reply = s.ctl(ctl, "set", f'sub_bind=["tcp://127.0.0.1:{port}"]')
            assert rc == 1 and reply["error"]["code"] == "apply_failed", reply
        subs = get_status(s, ctl)["subscriptions"]
        assert subs["bind"] == [first] and len(subs["bound_endpoints"]) == 1, subs
    finally:
        s.close()


def main():
    res = Results()
    res.check("a wildcard-port bind removed at run time stops listening", wildcard_unbind)
    res.check("a bind to an address in use is refused and the old bind kept", bind_in_use_keeps_old)
    res.finish()


if __name__ == "__main__":
    main()
