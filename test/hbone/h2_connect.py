#!/usr/bin/env python3
"""An HBONE client we did not write: Python h2 (Debian python3-h2), doing what ztunnel does in
src/proxy/outbound.rs: TLS 1.3, ALPN h2, the workload's client certificate, no SNI, then one
classic HTTP/2 CONNECT (:method + :authority only) with forwarded/baggage/traceparent.

Usage: h2_connect.py --port P --ca CA [--cert C --key K] --authority A [--send TEXT]
                     [--method M] [--tls12] [--streams N]
Prints one JSON line: {"streams": [{"status": 200, "data": "..."}]} or {"error": "..."}.
"""
import argparse
import json
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events


def tls_socket(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # ztunnel checks the SAN, not a hostname; none is sent (no SNI)
    ctx.load_verify_locations(a.ca)
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    if a.tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname=None)
    if s.selected_alpn_protocol() != "h2":
        raise RuntimeError("ALPN did not select h2: %r" % s.selected_alpn_protocol())
    return s


def request_headers(a):
    if a.method == "CONNECT":
        h = [(":method", "CONNECT"), (":authority", a.authority)]
    else:
        h = [(":method", a.method), (":scheme", "https"), (":authority", a.authority), (":path", "/")]
    return h + [
        ("forwarded", 'for="10.42.0.8:40324";host=%s' % a.authority.rsplit(":", 1)[0]),
        ("baggage", "k8s.cluster.name=Kubernetes,k8s.namespace.name=shop,k8s.deployment.name=py-client"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
    ]


def run(a):
    s = tls_socket(a)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8", validate_outbound_headers=False))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    streams = {}
    for _ in range(a.streams):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, request_headers(a))
        streams[sid] = {"status": None, "data": b"", "ended": False, "reset": None}
    s.sendall(conn.data_to_send())
    sent = set()
    while not all(v["ended"] for v in streams.values()):
        chunk = s.recv(65536)
        if not chunk:
            if all(v["status"] is None for v in streams.values()):
                raise ConnectionError("the server closed the connection before any response")
            break
        for ev in conn.receive_data(chunk):
            sid = getattr(ev, "stream_id", None)
            st = streams.get(sid)
            if isinstance(ev, h2.events.ResponseReceived):
                st["status"] = int(dict(ev.headers)[":status"])
                if st["status"] == 200 and a.send and sid not in sent:
                    sent.add(sid)
                    conn.send_data(sid, a.send.encode().replace(b"\\r\\n", b"\r\n"))
            elif isinstance(ev, h2.events.DataReceived):
                st["data"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                if a.expect and a.expect.encode() in st["data"]:
                    st["ended"] = True
            elif isinstance(ev, h2.events.StreamEnded):
                st["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                st["ended"] = True
                st["reset"] = int(ev.error_code)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                for v in streams.values():
                    v["ended"] = True
        s.sendall(conn.data_to_send())
    s.close()
    return {"streams": [{"status": v["status"], "data": v["data"].decode("latin1"), "reset": v["reset"]} for v in streams.values()]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--authority", required=True)
    p.add_argument("--method", default="CONNECT")
    p.add_argument("--send", default="")
    p.add_argument("--expect", default="", help="stop reading a stream once this text has arrived")
    p.add_argument("--tls12", action="store_true")
    p.add_argument("--streams", type=int, default=1)
    a = p.parse_args()
    try:
        out = run(a)
    except Exception as e:  # any failure is a result the test asserts on
        out = {"error": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
