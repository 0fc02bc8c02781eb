"""The simulated merchant system (see the merchant-system issue)."""
