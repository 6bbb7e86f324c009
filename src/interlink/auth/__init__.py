"""Authentication: scoped API keys (`KeyStore`) and the `Principal` a request runs as."""

from interlink.auth.keys import DEFAULT_SCOPES, SCOPES, KeyInfo, KeyStore, Principal

__all__ = ["DEFAULT_SCOPES", "SCOPES", "KeyInfo", "KeyStore", "Principal"]
