"""An offline demo of Alipay and WeChat Pay (PAYMENT_WALLETS_DEMO, development only).

Each wallet's other side is played inside the shop, with keys made on this machine
(keys.py): its gateway answers the SDKs' signed calls over HTTP, its cashier page
(/payments/demo/...) lets the shopper press Pay, and it then posts a notification signed
and (WeChat Pay) encrypted exactly as the wallet does to the shop's real notify endpoint,
where the SDKs' own verification and decryption run. Nothing is downloaded, nothing leaves
the machine. Settings refuse it with DEBUG off, and so does a system check.
"""

#: Where the SDK's calls go in the demo: the shop's own /payments/demo/wechatpay/api (the SDK
#: appends /v3/...). English, unprefixed, as every machine's URL of the shop.
WECHATPAY_API_PATH = "/payments/demo/wechatpay/api"
