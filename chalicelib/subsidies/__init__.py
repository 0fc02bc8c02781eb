"""Marketing subsidies (营销补差) and their returns (补差回退): reentrant, against a
channel that fails. The money moves on the channel; the center keeps one reentry record per
request (chalicelib/reentry) and answers from it."""
