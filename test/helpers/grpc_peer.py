#!/usr/bin/python3
"""A real gRPC peer for the tests: grpcio (Debian's python3-grpcio), no generated stubs.

Messages are raw bytes (identity serializers), so no .proto is needed.

  grpc_peer.py server [--cert C --key K]
      Serves test.Echo on 127.0.0.1 (TLS with a cert, else plaintext h2c) and prints
      {"port": N} on one line. Methods:
        Unary      returns b"echo:" + request
        Stream     server streaming: the request is a count n, answers "msg-0".."msg-(n-1)"
        FailNow    aborts NOT_FOUND before any message (a trailers-only response)
        FailLater  server streaming: two messages, then aborts RESOURCE_EXHAUSTED
        Metadata   returns the request metadata it saw as JSON
        Slow       sleeps the request's number of seconds, then answers "late"

  grpc_peer.py client --target HOST:PORT [--proxy http://127.0.0.1:P] [--authority A] CALLS_JSON
      Runs each call [method, request] on one insecure channel (through an HTTP CONNECT proxy
      with --proxy, as gRPC clients use one) and prints one JSON list of
      {"code": "OK"|..., "details": str, "messages": [str]}.
"""
import argparse
import json
import os
import sys
import time
from concurrent import futures

import grpc

SERVICE = "test.Echo"
IDENTITY = dict(request_deserializer=None, response_serializer=None)


def unary(request, context):
    return b"echo:" + request


def stream(request, context):
    for i in range(int(request or b"0")):
        yield ("msg-%d" % i).encode()


def fail_now(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")


def fail_later(request, context):
    yield b"first"
    yield b"second"
    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota gone")


def slow(request, context):
    time.sleep(float(request or b"1"))
    return b"late"


def metadata(request, context):
    return json.dumps(dict(context.invocation_metadata())).encode()


def serve(args):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, **IDENTITY),
        "Stream": grpc.unary_stream_rpc_method_handler(stream, **IDENTITY),
        "FailNow": grpc.unary_unary_rpc_method_handler(fail_now, **IDENTITY),
        "FailLater": grpc.unary_stream_rpc_method_handler(fail_later, **IDENTITY),
        "Metadata": grpc.unary_unary_rpc_method_handler(metadata, **IDENTITY),
        "Slow": grpc.unary_unary_rpc_method_handler(slow, **IDENTITY),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    if args.cert:
        with open(args.cert, "rb") as c, open(args.key, "rb") as k:
            creds = grpc.ssl_server_credentials([(k.read(), c.read())])
        port = server.add_secure_port("127.0.0.1:0", creds)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(json.dumps({"port": port}), flush=True)
    # Until the test closes stdin (or kills the process).
    sys.stdin.read()
    server.stop(0)


STREAMING = {"Stream", "FailLater"}


def call(channel, method, request):
    path = "/%s/%s" % (SERVICE, method)
    messages = []
    try:
        if method in STREAMING:
            for m in channel.unary_stream(path)(request.encode(), timeout=10):
                messages.append(m.decode())
        else:
            messages.append(channel.unary_unary(path)(request.encode(), timeout=10).decode())
        return {"code": "OK", "details": "", "messages": messages}
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details() or "", "messages": messages}


def client(args):
    options = []
    if args.proxy:
        options.append(("grpc.http_proxy", args.proxy))
    else:
        options.append(("grpc.enable_http_proxy", 0))
    if args.authority:
        options.append(("grpc.default_authority", args.authority))
    # Ignore any proxy in the environment: only the one given applies.
    for k in ("http_proxy", "https_proxy", "grpc_proxy", "no_proxy", "no_grpc_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        os.environ.pop(k, None)
    with grpc.insecure_channel(args.target, options=options) as channel:
        out = [call(channel, m, r) for m, r in json.loads(args.calls)]
    print(json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--cert")
    s.add_argument("--key")
    c = sub.add_parser("client")
    c.add_argument("--target", required=True)
    c.add_argument("--proxy")
    c.add_argument("--authority")
    c.add_argument("calls")
    args = p.parse_args()
    serve(args) if args.mode == "server" else client(args)


if __name__ == "__main__":
    main()
