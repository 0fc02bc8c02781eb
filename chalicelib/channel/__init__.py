"""The payment channel (WeChat Pay v3 e-commerce style): the port and its HTTP adapter."""
