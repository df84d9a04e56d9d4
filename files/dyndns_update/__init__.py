"""dyndns2 over HTTPS to TSIG-signed RFC 2136 DNS UPDATEs, as a WSGI app.

See README.md beside this file for the protocol, the files it reads and the CLI.
"""

__version__ = "1.0.0"
