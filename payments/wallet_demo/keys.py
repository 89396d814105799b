"""The demo wallets' keys: made once on this machine and kept in a git-ignored file, so
that every process (web, worker, the autoreloader's child) signs and verifies with the same
keys. Imported by settings: plain Python and `cryptography`, nothing of Django's.

The file holds both sides of each wallet: the shop's (the app's and the merchant's private
keys, the API v3 key) and the wallet's (Alipay's private key, WeChat Pay's platform key),
which only the demo gateway reads.
"""

import json
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

#: Made-up account ids in the wallets' own formats (an Alipay app id and 2088... user id,
#: a WeChat Pay merchant id and app id); they name no real account.
ALIPAY_APP_ID = "2021000000000000"
ALIPAY_SELLER_ID = "2088000000000000"
WECHATPAY_MCHID = "1900000000"
WECHATPAY_APPID = "wx0000000000demo"
WECHATPAY_PUBLIC_KEY_ID = "PUB_KEY_ID_DEMO0000000000000000000000"


def _private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def new_keys() -> dict:
    return {
        "alipay": {"app_private": _private_pem(), "alipay_private": _private_pem()},
        "wechatpay": {
            "merchant_private": _private_pem(),
            "platform_private": _private_pem(),
            "api_v3_key": secrets.token_hex(16),  # 32 characters
            "serial_no": secrets.token_hex(20).upper(),
        },
    }


def load_or_create(path: Path) -> dict:
    """The keys in `path`, made there first if it does not exist. Two processes starting
    at once agree: each writes a whole file aside and links it into place, and the one that
    comes second reads the first one's."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as aside:
            json.dump(new_keys(), aside)
        try:
            os.chmod(aside.name, 0o600)
            os.link(aside.name, path)  # fails if another process linked its file first
        except FileExistsError:
            pass
        finally:
            os.unlink(aside.name)
    return json.loads(path.read_text())


def wallet_settings(keys: dict) -> dict[str, str]:
    """The shop's side of the demo accounts, as the settings the providers read."""
    alipay, wechat = keys["alipay"], keys["wechatpay"]
    return {
        "ALIPAY_APP_ID": ALIPAY_APP_ID,
        "ALIPAY_SELLER_ID": ALIPAY_SELLER_ID,
        "ALIPAY_APP_PRIVATE_KEY": alipay["app_private"],
        "ALIPAY_PUBLIC_KEY": public_pem(alipay["alipay_private"]),
        "ALIPAY_SANDBOX": True,
        "WECHATPAY_MCHID": WECHATPAY_MCHID,
        "WECHATPAY_APPID": WECHATPAY_APPID,
        "WECHATPAY_API_V3_KEY": wechat["api_v3_key"],
        "WECHATPAY_PRIVATE_KEY": wechat["merchant_private"],
        "WECHATPAY_CERT_SERIAL_NO": wechat["serial_no"],
        "WECHATPAY_PUBLIC_KEY": public_pem(wechat["platform_private"]),
        "WECHATPAY_PUBLIC_KEY_ID": WECHATPAY_PUBLIC_KEY_ID,
        "WECHATPAY_PLATFORM_CERT": "",
    }
