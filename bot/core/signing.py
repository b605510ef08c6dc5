"""Webhook signatures: Meta's X-Hub-Signature-256 (hex) and Shopify's X-Shopify-Hmac-Sha256 (base64)."""
from __future__ import annotations

import base64
import hashlib
import hmac


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def meta_signature_valid(secret: str | None, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(meta_signature(secret, body).encode(), header.strip().encode())


def shopify_signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_signature_valid(secret: str | None, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(shopify_signature(secret, body).encode(), header.strip().encode())
