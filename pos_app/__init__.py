"""pos_app: terminal point-of-sale and QR checkout for WeChat Pay and Alipay."""

__version__ = "0.1.0"
