"""The channel simulator: a WeChat-Pay-like payment channel for the local stack and tests.

* `rules`   the channel's rules as pure logic (`ChannelBook`);
* `sharing` the profit-sharing rules, a part of `ChannelBook` (settled by its clock);
* `common`  errors, field parsing and the one reentry mechanism every operation uses;
* `faults`  the scheduled faults per operation (`FaultSchedule`);
* `notify`  the one place requests to the payment center are sent;
* `server`  the HTTP server, its control API and the settling worker (`ChannelSimulator`).

Run alone: `python -m infra.channel` (CHANNEL_PORT, CENTER_URL).
"""
from .rules import ChannelBook, ChannelError
from .server import ChannelSimulator

__all__ = ["ChannelBook", "ChannelError", "ChannelSimulator"]
