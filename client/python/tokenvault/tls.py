"""Mutual TLS credentials, checked before any connection: a missing or
unreadable file, a CA file without a certificate, or a client certificate
and key that do not belong together each raise a ValueError naming the
file and the fix (gRPC itself would only report "empty address list" at
the first call)."""
import os
import ssl

import grpc


def _read(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError("tokenvault: cannot read the %s file %s: %s" % (what, path, e.strerror)) from None


def _no_password():
    raise ValueError("encrypted")


def _check_pair(cert, key):
    """Loads the certificate and key into an OpenSSL context, which checks
    that the key is the certificate's."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_cert_chain(os.fspath(cert), os.fspath(key), password=_no_password)
    except ValueError:
        raise ValueError("tokenvault: the client key %s is encrypted; give an unencrypted PEM key "
                         "(keep it readable only by this service)" % key) from None
    except ssl.SSLError as e:
        if "KEY_VALUES_MISMATCH" in str(e) or getattr(e, "reason", "") == "KEY_VALUES_MISMATCH":
            raise ValueError("tokenvault: the client certificate %s and key %s do not belong together: give "
                             "the key that was generated with this certificate" % (cert, key)) from None
        raise ValueError("tokenvault: cannot load the client certificate %s and key %s (PEM expected): %s"
                         % (cert, key, getattr(e, "reason", None) or e)) from None


def channel_credentials(ca, cert, key):
    """grpc.ChannelCredentials for mutual TLS from PEM file paths: |ca| is
    the CA that issued the vault's server certificate, |cert| and |key| the
    client's own certificate (its identity) and private key."""
    if not (ca and cert and key):
        raise ValueError("tokenvault: mutual TLS needs ca, cert and key (or insecure=True for a --dev vault)")
    ca_pem = _read(ca, "CA")
    cert_pem = _read(cert, "client certificate")
    key_pem = _read(key, "client key")
    if b"-----BEGIN CERTIFICATE-----" not in ca_pem:
        raise ValueError("tokenvault: the CA file %s holds no PEM certificate: give the CA certificate that "
                         "issued the vault's server certificate" % ca)
    _check_pair(cert, key)
    return grpc.ssl_channel_credentials(root_certificates=ca_pem, private_key=key_pem,
                                        certificate_chain=cert_pem)
