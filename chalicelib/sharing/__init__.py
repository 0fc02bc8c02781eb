"""Profit sharing (分账) and profit-sharing returns on refunds (分账回退)."""
