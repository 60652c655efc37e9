"""Simulated WeChat Pay APIv3 gateway (specs/wechatpay-v3.md), direct-merchant mode."""
