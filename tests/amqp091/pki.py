"""Certificates for TLS tests, made with the openssl CLI: a CA, a server
certificate for localhost/127.0.0.1, client certificates signed by the CA
(CN=guest, CN=stranger), and a self-signed CN=guest nobody trusts."""
import os
import ssl
import subprocess


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{r.stderr}")


def make_certificates(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Warren test CA", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn, serial, ext in (("server", "localhost", "2", ["-extfile", "server.ext"]),
                                  ("client", "guest", "3", []), ("stranger", "stranger", "4", [])):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", serial,
                "-days", "2", "-out", f"{name}.pem", *ext, cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "2",
            "-subj", "/CN=guest", cwd=d)
    return {k: os.path.join(d, f) for k, f in (
        ("ca", "ca.pem"), ("server", "server.pem"), ("server_key", "server.key"),
        ("client", "client.pem"), ("client_key", "client.key"),
        ("stranger", "stranger.pem"), ("stranger_key", "stranger.key"),
        ("rogue", "rogue.pem"), ("rogue_key", "rogue.key"))}


def client_context(pki, cert="client", key="client_key", **versions):
    """An ssl context that trusts the test CA and presents `cert` (None:
    no certificate); `versions` set e.g. maximum_version."""
    ctx = ssl.create_default_context(cafile=pki["ca"])
    if cert:
        ctx.load_cert_chain(pki[cert], pki[key])
    for k, v in versions.items():
        setattr(ctx, k, v)
    return ctx
