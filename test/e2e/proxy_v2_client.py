#!/usr/bin/env python3
"""An independent PROXY protocol v2 client, written from haproxy's proxy-protocol.txt (section 2.2)
with struct: it connects as ztunnel does in front of a sandwich waypoint, writes one binary header
(command PROXY, TCP over IPv4/IPv6, TLV 0xD0 = the client's SPIFFE ID, TLV 0xD1 = the service
hostname), then the client's bytes, and reads until the waypoint closes. --header picks a malformed
variant instead. Prints one JSON object: {"data": <bytes read, latin1>, "closed": "eof"|"reset"|"timeout"}.
"""
import argparse
import codecs
import ipaddress
import json
import socket
import struct

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def split(hostport):
    host, _, port = hostport.rpartition(":")
    return ipaddress.ip_address(host.strip("[]")), int(port)


def tlv(kind, value):
    return struct.pack("!BH", kind, len(value)) + value


def v2(src, dst, tlvs, command=0x1):
    (sip, sport), (dip, dport) = split(src), split(dst)
    if sip.version == 4:
        family, addrs = 0x11, sip.packed + dip.packed + struct.pack("!HH", sport, dport)
    else:
        family, addrs = 0x21, sip.packed + dip.packed + struct.pack("!HH", sport, dport)
    body = addrs + b"".join(tlvs)
    return SIGNATURE + struct.pack("!BBH", 0x20 | command, family, len(body)) + body


def build(a):
    tlvs = []
    if a.identity:
        tlvs.append(tlv(0xD0, a.identity.encode()))
    if a.hostname:
        tlvs.append(tlv(0xD1, a.hostname.encode()))
    if a.header == "v2":
        return v2(a.src, a.dst, tlvs)
    if a.header == "none":
        return b""
    if a.header == "v1":
        (sip, sport), (dip, dport) = split(a.src), split(a.dst)
        return f"PROXY TCP{sip.version} {sip} {dip} {sport} {dport}\r\n".encode()
    if a.header == "bad-signature":
        h = bytearray(v2(a.src, a.dst, tlvs))
        h[8] ^= 0xFF
        return bytes(h)
    if a.header == "truncated":
        h = v2(a.src, a.dst, tlvs)
        return h[: a.truncate if a.truncate is not None else len(h) // 2]
    if a.header == "tlv-overrun":
        # The identity TLV's length field says 64 bytes more than the header holds.
        value = (a.identity or "spiffe://cluster.local/ns/shop/sa/cart").encode()
        return v2(a.src, a.dst, [struct.pack("!BH", 0xD0, len(value) + 64) + value])
    if a.header == "local":
        return SIGNATURE + struct.pack("!BBH", 0x20, 0x00, 0)
    raise SystemExit(f"unknown --header {a.header}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bind", default="127.0.0.1", help="source address of the connection to the waypoint")
    p.add_argument("--header", default="v2", choices=["v2", "none", "v1", "bad-signature", "truncated", "tlv-overrun", "local"])
    p.add_argument("--truncate", type=int)
    p.add_argument("--src", default="10.1.2.3:40000", help="original client address in the header")
    p.add_argument("--dst", default="240.240.0.1:80", help="original destination in the header")
    p.add_argument("--identity")
    p.add_argument("--hostname")
    p.add_argument("--send", default="", help="client bytes after the header (\\r\\n escapes allowed)")
    p.add_argument("--separate", action="store_true", help="write the header and the client bytes in two writes")
    p.add_argument("--half-close", action="store_true", help="shut down the write side after sending")
    p.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args()

    head = build(a)
    # A truncated header is all the client sends: anything after it would be read as the rest.
    payload = b"" if a.header == "truncated" else codecs.decode(a.send, "unicode_escape").encode("latin1")
    s = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout, source_address=(a.bind, 0))
    closed = "eof"
    data = b""
    try:
        if a.separate:
            s.sendall(head)
            if payload:
                s.sendall(payload)
        elif head or payload:
            s.sendall(head + payload)
        if a.half_close or a.header == "truncated":
            s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        closed = "reset"
    except BrokenPipeError:
        closed = "reset"
    except socket.timeout:
        closed = "timeout"
    finally:
        s.close()
    print(json.dumps({"data": data.decode("latin1"), "closed": closed}))


if __name__ == "__main__":
    main()
