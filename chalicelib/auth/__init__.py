"""Who is calling: signed requests (HMAC-SHA256, in the manner of WeChat Pay v3)."""
