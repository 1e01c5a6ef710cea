"""Shared by the test servers: listen on 127.0.0.1 (a free port), optionally
with TLS, print "PORT <n>" for the test that started us, serve until killed."""
import ssl
from http.server import ThreadingHTTPServer


def serve(handler, cert=None, key=None):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT", srv.server_address[1], flush=True)
    srv.serve_forever()
